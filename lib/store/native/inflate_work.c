// Inflate work on libuv pool threads, so the event loop that answers the kernel never waits
// for zlib:
// - digest(): a module zip's deflated entries, inflated in pieces that are hashed and then
//   dropped. Per entry: git's blob id (SHA-1 over "blob <size>\0" + content), the SHA-256 the
//   h1 dirhash needs, CRC-32 (checked against the zip) and Adler-32 (the pack entry's zlib
//   trailer), and how far the deflate stream reached (the pack reuses those bytes).
// - readObjects(): pack entries read from a pack file and inflated, in one job per span.
// - readZip(): a range of a version's synthetic zip, its content inflated from pack entries.
// - locate(): where many objects' entries lie in a pack, by its index (synchronous).
// - centralDirectory(): the synthetic zip's central directory (synchronous).
// - deflateMany(): many small objects (a version's trees) compressed with one zlib stream state.
//
// zlib and OpenSSL are node's own: compiled against the headers node installs, resolved from
// the node binary when the addon loads. libdeflate inflates a whole stream into a buffer of
// known size ~20-25 % faster than zlib; it takes the usual case, and anything it refuses goes
// through zlib again, whose verdicts and messages tell what is wrong.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <libdeflate.h>
#include "pack_read.h"

// One result record per entry; the layout is mirrored in zip-digest.ts.
#define REC 128
#define AT_STATUS 0
#define AT_CRC 4
#define AT_ADLER 8
#define AT_CONSUMED 12
#define AT_PRODUCED 16
#define AT_SHA1 24
#define AT_SHA256 44
#define AT_MSG 76
#define MSG_LEN (REC - AT_MSG)

enum { ST_OK = 0, ST_DATA = 1, ST_TRUNCATED = 2, ST_TOO_LARGE = 3, ST_NOMEM = 4 };

// Inflate output piece: large enough that per-piece hashing overhead is small, small enough
// to stay in cache while the four digests run over it.
#define PIECE (128 << 10)
// Entries up to this size are inflated whole by libdeflate (faster than zlib's streaming
// inflate); larger ones, and any that fail, go through zlib in pieces.
#define WHOLE_MAX (16u << 20)

// What both calls share: a promise settled when the pool thread is done, and references that
// keep the caller's buffers alive (and in place) until then.
#define MAX_REFS 5
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref refs[MAX_REFS];
  int nrefs;
  const char *failure;  // set on the pool thread: reject with this
  void (*release)(void *self);
  napi_value (*result)(napi_env env, void *self);  // what the promise resolves to (else undefined)
} work_t;

static void settle(napi_env env, napi_status status, void *data) {
  work_t *w = data;
  if (status != napi_ok || w->failure) {
    napi_value msg, err;
    napi_create_string_utf8(env, w->failure ? w->failure : "inflate work cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, w->deferred, err);
  } else {
    napi_value v = NULL;
    if (w->result) v = w->result(env, w);
    if (!v) napi_get_undefined(env, &v);
    napi_resolve_deferred(env, w->deferred, v);
  }
  for (int i = 0; i < w->nrefs; i++) napi_delete_reference(env, w->refs[i]);
  napi_delete_async_work(env, w->work);
  w->release(w);
}

// Queues `w` (the head of a larger job) to run `execute` on a pool thread; returns its promise.
static napi_value queue_work(napi_env env, work_t *w, napi_value *keep, int nkeep, const char *name, napi_async_execute_callback execute) {
  napi_value promise, label;
  napi_create_promise(env, &w->deferred, &promise);
  w->nrefs = nkeep;
  for (int i = 0; i < nkeep; i++) napi_create_reference(env, keep[i], 1, &w->refs[i]);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &label);
  napi_create_async_work(env, NULL, label, execute, settle, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

typedef struct {
  work_t w;
  const uint8_t *zip;
  size_t zip_len;
  const double *table;  // per entry: start in zip, compressed length, announced size
  uint8_t *out;
  uint32_t count;
} job_t;

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

// A scratch buffer of at least `need` bytes, grown (contents dropped) when it is smaller; 0 when
// out of memory, with the buffer gone.
static int fit_scratch(uint8_t **buf, size_t *cap, size_t need) {
  if (*buf && need <= *cap) return 1;
  free(*buf);
  *cap = need;
  if (!(*buf = malloc(need ? need : 1))) *cap = 0;
  return *buf != NULL;
}

// The four sums of one entry's content, fed piece by piece.
typedef struct {
  SHA_CTX s1;
  SHA256_CTX s2;
  uLong crc, adler;
} sums_t;

static void sums_init(sums_t *h, uint64_t announced) {
  SHA1_Init(&h->s1);
  SHA256_Init(&h->s2);
  char head[32];
  int hl = snprintf(head, sizeof head, "blob %llu", (unsigned long long)announced);
  SHA1_Update(&h->s1, head, (size_t)hl + 1);  // with the NUL
  h->crc = crc32(0L, Z_NULL, 0);
  h->adler = adler32(0L, Z_NULL, 0);
}

static void sums_update(sums_t *h, const uint8_t *p, size_t n) {
  SHA1_Update(&h->s1, p, n);
  SHA256_Update(&h->s2, p, n);
  h->crc = crc32_z(h->crc, p, n);
  h->adler = adler32_z(h->adler, p, n);
}

// Writes the record; the digests only when the entry is good.
static void sums_final(sums_t *h, uint8_t *rec, uint32_t status, size_t consumed, uint64_t produced) {
  put_u32(rec + AT_STATUS, status);
  put_u32(rec + AT_CRC, (uint32_t)h->crc);
  put_u32(rec + AT_ADLER, (uint32_t)h->adler);
  put_u32(rec + AT_CONSUMED, (uint32_t)consumed);
  double p = (double)produced;
  memcpy(rec + AT_PRODUCED, &p, 8);
  if (status == ST_OK) {
    SHA1_Final(rec + AT_SHA1, &h->s1);
    SHA256_Final(rec + AT_SHA256, &h->s2);
  }
}

// The usual case in one call: the entry inflates (libdeflate, whole) into `buf` within its
// announced size and is hashed there. 0 when it does not: digest_one's zlib path then tells why.
static int digest_whole(struct libdeflate_decompressor *d, const uint8_t *src, size_t len, uint64_t announced, uint8_t *rec, uint8_t *buf) {
  size_t in = 0, got = 0;
  if (libdeflate_deflate_decompress_ex(d, src, len, buf, (size_t)announced, &in, &got) != LIBDEFLATE_SUCCESS) return 0;
  memset(rec, 0, REC);
  sums_t h;
  sums_init(&h, announced);
  // In pieces, so that each stays in cache while the four sums run over it.
  for (size_t at = 0; at < got; at += PIECE) sums_update(&h, buf + at, got - at < PIECE ? got - at : PIECE);
  sums_final(&h, rec, ST_OK, in, got);
  return 1;
}

static void digest_one(const uint8_t *src, size_t len, uint64_t announced, uint8_t *rec, uint8_t *piece) {
  memset(rec, 0, REC);
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
    put_u32(rec + AT_STATUS, ST_NOMEM);
    return;
  }
  sums_t h;
  sums_init(&h, announced);
  uint64_t produced = 0;
  uint32_t status = ST_OK;
  z.next_in = (Bytef *)src;
  z.avail_in = (uInt)len;  // the caller keeps len under 4 GiB (zips held in memory are small)
  for (;;) {
    z.next_out = piece;
    z.avail_out = PIECE;
    int r = inflate(&z, Z_NO_FLUSH);
    size_t got = PIECE - z.avail_out;
    if (r == Z_NEED_DICT || r == Z_DATA_ERROR || r == Z_STREAM_ERROR || r == Z_MEM_ERROR) {
      status = r == Z_MEM_ERROR ? ST_NOMEM : ST_DATA;
      if (z.msg) snprintf((char *)rec + AT_MSG, MSG_LEN, "%s", z.msg);
      break;
    }
    if (got > 0) {
      if (produced + got > announced) {
        produced += got;
        status = ST_TOO_LARGE;
        break;
      }
      sums_update(&h, piece, got);
      produced += got;
    }
    if (r == Z_STREAM_END) break;
    if (r == Z_BUF_ERROR || (got == 0 && z.avail_in == 0)) {
      status = ST_TRUNCATED;  // the input ran out before the stream's last block
      break;
    }
  }
  sums_final(&h, rec, status, len - z.avail_in, produced);
  inflateEnd(&z);
}

static void execute(napi_env env, void *data) {
  job_t *j = data;
  uint8_t *piece = malloc(PIECE);
  if (!piece) {
    j->w.failure = "zip digest: out of memory";
    return;
  }
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  uint8_t *whole = NULL;
  size_t whole_len = 0;
  for (uint32_t i = 0; i < j->count; i++) {
    const double *t = j->table + (size_t)i * 3;
    uint8_t *rec = j->out + (size_t)i * REC;
    // Bounds were checked on the event loop; checked again here, since a bad span would read
    // outside the buffer.
    if (t[0] < 0 || t[1] < 0 || t[0] + t[1] > (double)j->zip_len) {
      memset(rec, 0, REC);
      put_u32(rec + AT_STATUS, ST_DATA);
      snprintf((char *)rec + AT_MSG, MSG_LEN, "entry outside the zip");
      continue;
    }
    const uint8_t *src = j->zip + (size_t)t[0];
    uint64_t announced = (uint64_t)t[2];
    if (d && announced <= WHOLE_MAX && fit_scratch(&whole, &whole_len, (size_t)announced) && digest_whole(d, src, (size_t)t[1], announced, rec, whole)) continue;
    digest_one(src, (size_t)t[1], announced, rec, piece);
  }
  free(piece);
  free(whole);
  libdeflate_free_decompressor(d);
}

static napi_value fail(napi_env env, const char *why) {
  napi_throw_type_error(env, NULL, why);
  return NULL;
}

// Whether v is a Buffer; its bytes and length.
static int buffer_arg(napi_env env, napi_value v, void **data, size_t *len) {
  bool ok = false;
  return napi_is_buffer(env, v, &ok) == napi_ok && ok && napi_get_buffer_info(env, v, data, len) == napi_ok;
}

// Whether v is a typed array of type `want`; its elements and how many.
static int typed_arg(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *count) {
  bool ok = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  return napi_is_typedarray(env, v, &ok) == napi_ok && ok && napi_get_typedarray_info(env, v, &type, count, data, &ab, &off) == napi_ok && type == want;
}

// digest(zip: Buffer, table: Float64Array (3 per entry), out: Buffer (128 bytes per entry)):
// Promise<void>, fulfilled once every record of `out` is written.
static napi_value js_digest(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return fail(env, "digest(zip, table, out)");
  void *zip = NULL, *out = NULL, *table = NULL;
  size_t zip_len = 0, out_len = 0, table_len = 0;
  if (!buffer_arg(env, argv[0], &zip, &zip_len)) return fail(env, "zip must be a Buffer");
  if (!typed_arg(env, argv[1], napi_float64_array, &table, &table_len) || table_len % 3 != 0)
    return fail(env, "table must be a Float64Array of (start, length, size) triples");
  if (!buffer_arg(env, argv[2], &out, &out_len)) return fail(env, "out must be a Buffer");
  uint32_t count = (uint32_t)(table_len / 3);
  if (out_len < (size_t)count * REC) return fail(env, "out is too small for the table");
  const double *t = table;
  for (uint32_t i = 0; i < count; i++) {
    if (!(t[i * 3] >= 0 && t[i * 3 + 1] >= 0 && t[i * 3] + t[i * 3 + 1] <= (double)zip_len && t[i * 3 + 1] < 4294967296.0 && t[i * 3 + 2] >= 0))
      return fail(env, "table entry outside the zip");
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j) return fail(env, "out of memory");
  j->zip = zip;
  j->zip_len = zip_len;
  j->table = table;
  j->out = out;
  j->count = count;
  j->w.release = free;
  return queue_work(env, &j->w, argv, 3, "modfs:zip-digest", execute);
}

// ---- readObjects ----------------------------------------------------------------------

enum { IN_OK = 0, IN_CORRUPT = 1, IN_TRUNCATED = 2, IN_TOO_LONG = 3, IN_TOO_SHORT = 4, IN_NOMEM = 5 };

// Whether every (start, length) pair of a table lies inside a buffer of `len` bytes.
static int pairs_inside(const double *t, size_t pairs, size_t len) {
  for (size_t i = 0; i < pairs; i++)
    if (!(t[i * 2] >= 0 && t[i * 2 + 1] >= 0 && t[i * 2] + t[i * 2 + 1] <= (double)len && t[i * 2 + 1] < 4294967296.0)) return 0;
  return 1;
}

static int32_t inflate_exact(const uint8_t *src, size_t len, uint8_t *out, size_t out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit(&z) != Z_OK) return IN_NOMEM;
  uint8_t none;
  if (!out) out = &none;  // an empty buffer may have no address; zlib refuses a NULL next_out
  z.next_in = (Bytef *)src;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)out_len;
  int r = inflate(&z, Z_FINISH);
  int32_t st;
  if (r == Z_STREAM_END) st = z.avail_out == 0 ? IN_OK : IN_TOO_SHORT;
  else if (r == Z_BUF_ERROR && z.avail_out == 0) {
    // Full, but the stream goes on: one more byte tells a longer stream from a missing trailer.
    uint8_t extra;
    z.next_out = &extra;
    z.avail_out = 1;
    r = inflate(&z, Z_FINISH);
    st = r == Z_STREAM_END && z.avail_out == 1 ? IN_OK : (r == Z_OK || r == Z_STREAM_END || z.avail_out == 0) ? IN_TOO_LONG : r == Z_BUF_ERROR ? IN_TRUNCATED : IN_CORRUPT;
  } else st = r == Z_BUF_ERROR ? IN_TRUNCATED : r == Z_MEM_ERROR ? IN_NOMEM : IN_CORRUPT;
  inflateEnd(&z);
  return st;
}

enum { RO_DELTA = 6, RO_BAD_TYPE = 7, RO_BAD_HEADER = 8 };

// A zlib stream inflated into exactly `size` bytes at `out`: libdeflate, and zlib again to
// tell why when it refuses. IN_OK or an inflate_exact status.
static int32_t inflate_to(struct libdeflate_decompressor *d, const uint8_t *z, size_t zlen, uint8_t *out, size_t size) {
  if (d && libdeflate_zlib_decompress(d, z, zlen, out, size, NULL) == LIBDEFLATE_SUCCESS) return IN_OK;
  return inflate_exact(z, zlen, out, size);
}

typedef struct {
  work_t w;
  span_t span;
  const double *items;  // per entry: start, end in the span
  double *meta;         // per entry, filled: type, size, start in the result
  int32_t *status;
  uint32_t count;
  uint8_t *out;
  size_t out_len;
} objects_t;

// IN_OK for a plain object's entry (type, size, where its stream starts), else why not.
static int32_t plain_entry(const uint8_t *p, size_t n, int *type, uint64_t *size, size_t *at) {
  if (!pack_entry_header(p, n, type, size, at) || *size > ((uint64_t)1 << 30)) return RO_BAD_HEADER;  // a module holds 500 MiB at most
  if (*type == 6 || *type == 7) return RO_DELTA;
  if (*type < 1 || *type > 4) return RO_BAD_TYPE;
  return IN_OK;
}

static void objects_execute(napi_env env, void *data) {
  objects_t *o = data;
  uint8_t *src = span_read(&o->span, &o->w.failure);
  if (!src) return;
  size_t total = 0;
  for (uint32_t i = 0; i < o->count; i++) {
    size_t start = (size_t)o->items[i * 2], end = (size_t)o->items[i * 2 + 1];
    int type = 0;
    uint64_t size = 0;
    size_t at = 0;
    o->meta[i * 3] = o->meta[i * 3 + 1] = o->meta[i * 3 + 2] = 0;
    o->status[i] = plain_entry(src + start, end - start, &type, &size, &at);
    if (o->status[i] == IN_OK) {
      o->meta[i * 3] = type;
      o->meta[i * 3 + 1] = (double)size;
      o->meta[i * 3 + 2] = (double)total;
      total += (size_t)size;
    }
    if (o->status[i] == RO_BAD_TYPE) o->meta[i * 3] = type;
  }
  o->out = malloc(total ? total : 1);
  o->out_len = total;
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!o->out) o->w.failure = "pack read: out of memory";
  for (uint32_t i = 0; i < o->count && o->out; i++) {
    if (o->status[i] != IN_OK) continue;
    size_t start = (size_t)o->items[i * 2], end = (size_t)o->items[i * 2 + 1];
    int type = 0;
    uint64_t size = 0;
    size_t at = 0;
    pack_entry_header(src + start, end - start, &type, &size, &at);
    o->status[i] = inflate_to(d, src + start + at, end - start - at, o->out + (size_t)o->meta[i * 3 + 2], (size_t)size);
  }
  libdeflate_free_decompressor(d);
  free(src);
}

static void free_result(napi_env env, void *data, void *hint) {
  napi_adjust_external_memory(env, -(int64_t)(size_t)hint, NULL);
  free(data);
}

static napi_value objects_result(napi_env env, void *self) {
  objects_t *o = self;
  if (!o->out) return NULL;
  napi_value buf;
  if (napi_create_external_buffer(env, o->out_len, o->out, free_result, (void *)o->out_len, &buf) != napi_ok) return NULL;
  int64_t ignored;
  napi_adjust_external_memory(env, (int64_t)o->out_len, &ignored);
  o->out = NULL;  // the Buffer owns it now
  return buf;
}

static void objects_release(void *self) {
  objects_t *o = self;
  free(o->out);
  free(o);
}

// readObjects(fd, from, length, items: Float64Array (start, end) pairs in the span,
// meta: Float64Array (type, size, start) per entry, status: Int32Array): Promise<Buffer>. Reads
// bytes [from, from + length) of the pack open as `fd` and inflates each plain entry into the
// Buffer it resolves to, at meta's start; status is 0, an inflate_exact status, or 6 (a delta),
// 7 (not an object type), 8 (a cut header, or a size over 1 GiB). The caller keeps fd open until it settles.
static napi_value js_read_objects(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return fail(env, "readObjects(fd, from, length, items, meta, status)");
  int32_t fd = -1;
  double from = -1, len = -1;
  void *items = NULL, *meta = NULL, *status = NULL;
  size_t items_len = 0, meta_len = 0, status_len = 0;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return fail(env, "fd must be an open file descriptor");
  if (napi_get_value_double(env, argv[1], &from) != napi_ok || napi_get_value_double(env, argv[2], &len) != napi_ok || !(from >= 0) || !(len >= 0) || len > (double)(1u << 30))
    return fail(env, "from and length must be a span under 1 GiB");
  if (!typed_arg(env, argv[3], napi_float64_array, &items, &items_len) || items_len % 2 != 0) return fail(env, "items must be a Float64Array of (start, end) pairs");
  const uint32_t count = (uint32_t)(items_len / 2);
  if (!typed_arg(env, argv[4], napi_float64_array, &meta, &meta_len) || meta_len != (size_t)count * 3) return fail(env, "meta must be a Float64Array of 3 slots per entry");
  if (!typed_arg(env, argv[5], napi_int32_array, &status, &status_len) || status_len != count) return fail(env, "status must be an Int32Array of one slot per entry");
  const double *t = items;
  for (uint32_t i = 0; i < count; i++)
    if (!(t[i * 2] >= 0 && t[i * 2] < t[i * 2 + 1] && t[i * 2 + 1] <= len)) return fail(env, "items must lie inside the span, each non-empty");
  objects_t *o = calloc(1, sizeof *o);
  if (!o) return fail(env, "out of memory");
  o->span = (span_t){.fd = fd, .from = from, .len = (size_t)len};
  o->items = t;
  o->meta = meta;
  o->status = status;
  o->count = count;
  o->w.release = objects_release;
  o->w.result = objects_result;
  return queue_work(env, &o->w, argv + 3, 3, "modfs:read-objects", objects_execute);
}

// ---- centralDirectory -------------------------------------------------------------------

#define LOCAL_LEN 30    // a zip local header without its name
#define CENTRAL_LEN 46  // a central record without its name

static void put_u16(uint8_t *p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
}

// centralDirectory(prefix: Buffer, paths: Buffer, files: Float64Array, date, time): Buffer.
// The synthetic zip's central directory and end record (zip-layout.ts): per file, files holds
// (zip offset of its local header, size, CRC-32, UTF-8 length of its path in `paths`, where its
// record lands: filled here). Names are prefix + path; one with a non-ASCII byte carries the
// UTF-8 flag. Synchronous: it writes ~100 bytes a file.
static napi_value js_central_directory(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return fail(env, "centralDirectory(prefix, paths, files, date, time)");
  void *prefix = NULL, *paths = NULL, *files = NULL;
  size_t prefix_len = 0, paths_len = 0, nf = 0;
  uint32_t date = 0, time = 0;
  if (!buffer_arg(env, argv[0], &prefix, &prefix_len) || !buffer_arg(env, argv[1], &paths, &paths_len)) return fail(env, "prefix and paths must be Buffers");
  if (!typed_arg(env, argv[2], napi_float64_array, &files, &nf) || nf % 5 != 0) return fail(env, "files must be a Float64Array of 5 slots per file");
  if (napi_get_value_uint32(env, argv[3], &date) != napi_ok || napi_get_value_uint32(env, argv[4], &time) != napi_ok || date > 0xffff || time > 0xffff) return fail(env, "date and time must be MS-DOS fields");
  double *f = files;
  const size_t n = nf / 5;
  if (n > 0xffff) return fail(env, "more than 65535 files need ZIP64");
  size_t total = 22, names = 0;
  for (size_t i = 0; i < n; i++) {
    const double len = f[i * 5 + 3];
    if (!(len >= 0) || prefix_len + len > 0xffff || !(f[i * 5] >= 0 && f[i * 5] <= 4294967295.0) || !(f[i * 5 + 1] >= 0 && f[i * 5 + 1] <= 4294967295.0)) return fail(env, "a file's offset, size or name length is out of range");
    names += (size_t)len;
    total += CENTRAL_LEN + prefix_len + (size_t)len;
  }
  if (names != paths_len) return fail(env, "paths must hold exactly the files' path lengths");
  uint8_t *b;
  napi_value buf;
  if (napi_create_buffer(env, total, (void **)&b, &buf) != napi_ok) return fail(env, "out of memory");
  memset(b, 0, total);
  const uint8_t *path = paths;
  int prefix_ascii = 1;
  for (size_t k = 0; k < prefix_len; k++) prefix_ascii &= ((const uint8_t *)prefix)[k] < 0x80;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    const size_t len = (size_t)f[i * 5 + 3];
    int ascii = prefix_ascii;
    for (size_t k = 0; k < len && ascii; k++) ascii = path[k] < 0x80;
    uint8_t *r = b + at;
    f[i * 5 + 4] = (double)at;
    put_u32(r, 0x02014b50);
    put_u16(r + 4, (3 << 8) | 20);  // made by unix, spec 2.0
    put_u16(r + 6, 10);             // needed: 1.0, stored
    put_u16(r + 8, ascii ? 0 : 0x0800);
    put_u16(r + 12, time);
    put_u16(r + 14, date);
    put_u32(r + 16, (uint32_t)f[i * 5 + 2]);
    put_u32(r + 20, (uint32_t)f[i * 5 + 1]);
    put_u32(r + 24, (uint32_t)f[i * 5 + 1]);
    put_u16(r + 28, (uint32_t)(prefix_len + len));
    put_u32(r + 38, 0100444u << 16);  // regular file, 0444
    put_u32(r + 42, (uint32_t)f[i * 5]);
    memcpy(r + CENTRAL_LEN, prefix, prefix_len);
    memcpy(r + CENTRAL_LEN + prefix_len, path, len);
    path += len;
    at += CENTRAL_LEN + prefix_len + len;
  }
  const double cd_start = n ? f[(n - 1) * 5] + LOCAL_LEN + prefix_len + f[(n - 1) * 5 + 3] + f[(n - 1) * 5 + 1] : 0;
  put_u32(b + at, 0x06054b50);
  put_u16(b + at + 8, (uint32_t)n);
  put_u16(b + at + 10, (uint32_t)n);
  put_u32(b + at + 12, (uint32_t)at);
  put_u32(b + at + 16, (uint32_t)cd_start);
  return buf;
}

// ---- locate ---------------------------------------------------------------------------

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// locate(idx: Buffer, sorted: Float64Array | null, keys: Buffer, slot: Int32Array, from:
// Float64Array, to: Float64Array, mark): number. For each key (20 bytes) whose slot is still
// negative, a binary search of the pack's v2 index (checked by parseIdx in JS); when found,
// slot gets `mark` and from/to where its entry lies (to: the next entry's offset in `sorted`,
// every offset of the pack in ascending order; -1 for the last entry, which ends at the pack's
// trailer, and for every entry when sorted is null). Returns how many were found.
// Synchronous: microseconds for a version's files.
static napi_value js_locate(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) return fail(env, "locate(idx, sorted, keys, slot, from, to, mark)");
  void *idx = NULL, *sorted = NULL, *keys = NULL, *slot = NULL, *from = NULL, *to = NULL;
  size_t idx_len = 0, nsorted = 0, keys_len = 0, nslot = 0, nfrom = 0, nto = 0;
  int32_t mark = -1;
  if (!buffer_arg(env, argv[0], &idx, &idx_len) || idx_len < 8 + 1024 + 40) return fail(env, "idx must be a pack index Buffer");
  const uint8_t *ix = idx;
  const uint32_t n = be32(ix + 8 + 255 * 4);
  const size_t ids = 8 + 1024, offs = ids + (size_t)n * 24, large = ids + (size_t)n * 28;
  if (large + 40 > idx_len) return fail(env, "idx is too short for its object count");
  napi_valuetype sorted_type;
  if (napi_typeof(env, argv[1], &sorted_type) != napi_ok) return fail(env, "sorted must hold every offset of the pack, or be null");
  if (sorted_type != napi_null && (!typed_arg(env, argv[1], napi_float64_array, &sorted, &nsorted) || nsorted != n)) return fail(env, "sorted must hold every offset of the pack, or be null");
  if (!buffer_arg(env, argv[2], &keys, &keys_len) || keys_len % 20 != 0) return fail(env, "keys must be a Buffer of 20-byte ids");
  const size_t count = keys_len / 20;
  if (!typed_arg(env, argv[3], napi_int32_array, &slot, &nslot) || nslot != count) return fail(env, "slot must be an Int32Array of one slot per key");
  if (!typed_arg(env, argv[4], napi_float64_array, &from, &nfrom) || nfrom != count || !typed_arg(env, argv[5], napi_float64_array, &to, &nto) || nto != count)
    return fail(env, "from and to must be Float64Arrays of one slot per key");
  if (napi_get_value_int32(env, argv[6], &mark) != napi_ok || mark < 0) return fail(env, "mark must be a slot number");
  const double *so = sorted;
  int32_t *sl = slot;
  double *fr = from, *tt = to;
  uint32_t found = 0;
  for (size_t k = 0; k < count; k++) {
    if (sl[k] >= 0) continue;
    const uint8_t *key = (const uint8_t *)keys + k * 20;
    uint32_t lo = key[0] ? be32(ix + 8 + (key[0] - 1) * 4) : 0, hi = be32(ix + 8 + key[0] * 4);
    if (hi > n || lo > hi) return fail(env, "idx fanout out of range");
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      int c = memcmp(key, ix + ids + (size_t)mid * 20, 20);
      if (c == 0) {
        lo = mid;
        break;
      }
      if (c > 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= hi) continue;
    uint32_t o = be32(ix + offs + (size_t)lo * 4);
    double off = o;
    if (o & 0x80000000u) {
      size_t at = large + (size_t)(o & 0x7fffffffu) * 8;
      if (at + 8 > idx_len - 40) return fail(env, "idx large offset out of range");
      off = (double)be32(ix + at) * 4294967296.0 + be32(ix + at + 4);
    }
    // The entry ends where the next one (by offset) begins.
    size_t a = 0, b = so ? n : 0;
    while (a < b) {
      size_t mid = a + (b - a) / 2;
      if (so[mid] <= off) a = mid + 1;
      else b = mid;
    }
    const double end = so && a < n ? so[a] : -1;
    sl[k] = mark;
    fr[k] = off;
    tt[k] = end;
    found++;
  }
  napi_value v;
  napi_create_uint32(env, found, &v);
  return v;
}

// ---- readZip --------------------------------------------------------------------------

// A byte range of a version's synthetic zip (zip-layout.ts): local headers copied out of the
// central directory, file content inflated from pack entries into place, the central
// directory copied. JS hands over a table once per version and a range per call, so a read of
// a 2,000-file zip costs a handful of calls rather than JS work per file.
enum { RI_SLICE = 9 };
#define ZT 5           // table slots per file: zip start, central record start, fd slot, entry start, entry end
#define LEFT 5         // left slots per slice: file index, slice start, slice end, at in dest, status
#define SPAN_GAP (16u << 10)
#define SPAN_MAX (1u << 20)

typedef struct {
  work_t w;
  const int32_t *fds;
  uint32_t nfds;
  const double *table;
  uint32_t files;
  const uint8_t *central;
  size_t central_len;
  double pos;
  uint32_t first;
  uint8_t *dest;
  size_t dest_len;
  double *left;
  uint32_t left_cap, left_count;
  char message[160];
} zip_t;

// One content slice inflated from a span: [a, b) of the object whose entry is [start, end) of src.
typedef struct {
  uint32_t file;
  size_t start, end, a, b, at;
} zslice_t;

static void zip_leave(zip_t *z, uint32_t file, size_t a, size_t b, size_t at, int32_t status) {
  double *l = z->left + (size_t)z->left_count++ * LEFT;
  l[0] = file;
  l[1] = (double)a;
  l[2] = (double)b;
  l[3] = (double)at;
  l[4] = status;
}

// Bytes [a, b) of one entry's object into dst: whole in place, a part through scratch.
static int32_t inflate_slice(struct libdeflate_decompressor *d, const uint8_t *entry, size_t n, size_t a, size_t b, uint8_t *dst, uint8_t **tmp, size_t *tmp_len) {
  int type = 0;
  uint64_t size = 0;
  size_t at = 0;
  int32_t st = plain_entry(entry, n, &type, &size, &at);
  if (st != IN_OK) return st;
  if (b > size) return RI_SLICE;
  if (a == 0 && b == size) return inflate_to(d, entry + at, n - at, dst, (size_t)size);
  if (!fit_scratch(tmp, tmp_len, (size_t)size)) return IN_NOMEM;
  if ((st = inflate_to(d, entry + at, n - at, *tmp, (size_t)size)) == IN_OK) memcpy(dst, *tmp + a, b - a);
  return st;
}

// Reads one span of a pack and inflates its slices; 0 when the read failed (failure set).
static int zip_span(zip_t *z, struct libdeflate_decompressor *d, int fd, zslice_t *items, uint32_t count, uint8_t **src, size_t *src_len, uint8_t **tmp, size_t *tmp_len) {
  size_t from = items[0].start, len = items[count - 1].end - from;
  if (!fit_scratch(src, src_len, len)) {
    z->w.failure = "pack read: out of memory";
    return 0;
  }
  if ((z->w.failure = pread_all(fd, *src, len, (double)from, z->message, sizeof z->message))) return 0;
  for (uint32_t k = 0; k < count; k++) {
    zslice_t *it = &items[k];
    int32_t st = inflate_slice(d, *src + (it->start - from), it->end - it->start, it->a, it->b, z->dest + it->at, tmp, tmp_len);
    if (st != IN_OK) zip_leave(z, it->file, it->a, it->b, it->at, st);
  }
  return 1;
}

// Bytes [from, to) of file i's local header (signature, its central record's fields from
// "version needed" on, then the name) written at out.
static void put_local_header(uint8_t *out, const uint8_t *rec, size_t from, size_t to) {
  uint8_t fixed[LOCAL_LEN] = {0x50, 0x4b, 0x03, 0x04};
  memcpy(fixed + 4, rec + 6, LOCAL_LEN - 4);
  if (from < LOCAL_LEN) {
    size_t n = (to < LOCAL_LEN ? to : LOCAL_LEN) - from;
    memcpy(out, fixed + from, n);
    out += n;
    from += n;
  }
  if (to > from) memcpy(out, rec + CENTRAL_LEN + (from - LOCAL_LEN), to - from);
}

static uint32_t get_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void zip_execute(napi_env env, void *data) {
  zip_t *z = data;
  const double *t = z->table;
  const size_t want = z->dest_len;
  const double cd_start = t[(size_t)z->files * ZT];
  zslice_t *items = malloc(sizeof *items * (z->left_cap ? z->left_cap : 1));
  uint8_t *src = NULL, *tmp = NULL;
  size_t src_len = 0, tmp_len = 0, done = 0;
  uint32_t count = 0;
  int slot = -1;
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!items || !d) z->w.failure = "zip read: out of memory";
  for (uint32_t i = z->first; !z->w.failure && done < want; i++) {
    const double p = z->pos + (double)done;
    if (i >= z->files) {
      size_t from = (size_t)(p - cd_start), n = want - done;
      if (p < cd_start || from + n > z->central_len) z->w.failure = "zip read: range past the central directory";
      else memcpy(z->dest + done, z->central + from, n);
      break;
    }
    const double start = t[(size_t)i * ZT], c = t[(size_t)i * ZT + 1], next = t[(size_t)(i + 1) * ZT];
    if (!(c >= 0 && c + CENTRAL_LEN <= (double)z->central_len)) {
      z->w.failure = "zip read: central record out of range";
      break;
    }
    const uint8_t *rec = z->central + (size_t)c;
    const size_t name_len = rec[28] | (size_t)rec[29] << 8, size = get_u32(rec + 24);
    const double content = start + LOCAL_LEN + (double)name_len;
    if (c + CENTRAL_LEN + (double)name_len > (double)z->central_len || content + (double)size != next || !(p >= start)) {
      z->w.failure = "zip read: table does not match the central directory";
      break;
    }
    if (i - z->first >= z->left_cap) {
      z->w.failure = "zip read: left has a slot for fewer files than the range spans";
      break;
    }
    if (p < content) {
      size_t n = (size_t)(content - p) < want - done ? (size_t)(content - p) : want - done;
      put_local_header(z->dest + done, rec, (size_t)(p - start), (size_t)(p - start) + n);
      done += n;
      if (done >= want) break;
    }
    const double q = z->pos + (double)done;
    if (q >= next) continue;
    const size_t a = (size_t)(q - content), b = a + ((size_t)(next - q) < want - done ? (size_t)(next - q) : want - done);
    const double sl = t[(size_t)i * ZT + 2], des = t[(size_t)i * ZT + 3], dee = t[(size_t)i * ZT + 4];
    if (!(sl >= 0 && sl < z->nfds)) {
      zip_leave(z, i, a, b, done, 0);  // not in a pack this call holds open: JS reads it
    } else if (!(des >= 0 && dee > des && dee - des <= (double)(1u << 30))) {
      z->w.failure = "zip read: a pack entry out of range";
      break;
    } else {
      const size_t es = (size_t)des, ee = (size_t)dee;
      // Neighbours in one pack are read together, as PackReader's spans are.
      if (count && (slot != (int)sl || es < items[count - 1].end || es - items[count - 1].end > SPAN_GAP || ee - items[0].start > SPAN_MAX)) {
        if (!zip_span(z, d, z->fds[slot], items, count, &src, &src_len, &tmp, &tmp_len)) break;
        count = 0;
      }
      slot = (int)sl;
      items[count++] = (zslice_t){.file = i, .start = es, .end = ee, .a = a, .b = b, .at = done};
    }
    done += b - a;
  }
  if (!z->w.failure && count) zip_span(z, d, z->fds[slot], items, count, &src, &src_len, &tmp, &tmp_len);
  if (d) libdeflate_free_decompressor(d);
  free(items);
  free(src);
  free(tmp);
}

static napi_value zip_result(napi_env env, void *self) {
  napi_value v;
  napi_create_uint32(env, ((zip_t *)self)->left_count, &v);
  return v;
}

// readZip(fds: Int32Array, table: Float64Array, central: Buffer, pos, first, dest: Buffer,
// left: Float64Array): Promise<number>. Fills dest with the zip's bytes from `pos`. table has
// ZT slots per file (zip start, central record start, fd slot or -1, entry start, entry end in
// that pack) and one more row whose first slot is the central directory's start; `first` is
// the file whose entry holds pos. Content it does not write (no fd slot, a delta, a bad entry)
// is listed in `left` (file, slice start, slice end, at in dest, status as readObjects', or 9
// for a slice past the object's end; 0: not tried); resolves to how many. The caller keeps the
// fds open until it settles.
static napi_value js_read_zip(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) return fail(env, "readZip(fds, table, central, pos, first, dest, left)");
  void *fds = NULL, *table = NULL, *central = NULL, *dest = NULL, *left = NULL;
  size_t nfds = 0, table_len = 0, central_len = 0, dest_len = 0, left_len = 0;
  double pos = -1, first = -1;
  if (!typed_arg(env, argv[0], napi_int32_array, &fds, &nfds)) return fail(env, "fds must be an Int32Array");
  if (!typed_arg(env, argv[1], napi_float64_array, &table, &table_len) || table_len < ZT || table_len % ZT != 0) return fail(env, "table must be a Float64Array of 5 slots per file and one more row");
  if (!buffer_arg(env, argv[2], &central, &central_len)) return fail(env, "central must be a Buffer");
  const uint32_t files = (uint32_t)(table_len / ZT - 1);
  if (napi_get_value_double(env, argv[3], &pos) != napi_ok || napi_get_value_double(env, argv[4], &first) != napi_ok || !(first >= 0) || first > files || first != (double)(uint32_t)first)
    return fail(env, "pos must be a number and first a file index");
  if (!buffer_arg(env, argv[5], &dest, &dest_len)) return fail(env, "dest must be a Buffer");
  if (!typed_arg(env, argv[6], napi_float64_array, &left, &left_len) || left_len % LEFT != 0) return fail(env, "left must be a Float64Array of 5 slots per slice");
  const double *t = table;
  if (!(pos >= t[(size_t)first * ZT]) || pos + (double)dest_len > t[(size_t)files * ZT] + (double)central_len || (first < files && !(pos < t[((size_t)first + 1) * ZT])))
    return fail(env, "pos must lie in file `first`'s entry, and the range inside the zip");
  zip_t *z = calloc(1, sizeof *z);
  if (!z) return fail(env, "out of memory");
  *z = (zip_t){.fds = fds, .nfds = (uint32_t)nfds, .table = t, .files = files, .central = central, .central_len = central_len, .pos = pos, .first = (uint32_t)first, .dest = dest, .dest_len = dest_len, .left = left, .left_cap = (uint32_t)(left_len / LEFT)};
  z->w.release = free;
  z->w.result = zip_result;
  napi_value keep[5] = {argv[0], argv[1], argv[2], argv[5], argv[6]};
  return queue_work(env, &z->w, keep, 5, "modfs:read-zip", zip_execute);
}

typedef struct {
  work_t w;
  const uint8_t *src;
  const double *table;  // per object: start in src, length
  uint8_t *out;
  size_t out_len;
  double *made;         // per object: start in out, length
  int level;
  uint32_t count;
} deflate_t;

static void deflate_execute(napi_env env, void *data) {
  deflate_t *d = data;
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit(&z, d->level) != Z_OK) {
    d->w.failure = "deflate: out of memory";
    return;
  }
  size_t at = 0;
  for (uint32_t i = 0; i < d->count && !d->w.failure; i++) {
    deflateReset(&z);
    z.next_in = (Bytef *)(d->src + (size_t)d->table[i * 2]);
    z.avail_in = (uInt)d->table[i * 2 + 1];
    z.next_out = d->out + at;
    z.avail_out = (uInt)(d->out_len - at > 0xffffffffu ? 0xffffffffu : d->out_len - at);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) d->w.failure = "deflate: output buffer too small";
    size_t made = (size_t)(z.next_out - (d->out + at));
    d->made[i * 2] = (double)at;
    d->made[i * 2 + 1] = (double)made;
    at += made;
  }
  deflateEnd(&z);
}

// deflateMany(src: Buffer, table: Float64Array (start, length) pairs, out: Buffer,
// made: Float64Array, level): Promise<void>. Each object becomes a zlib stream in `out`, one
// after the other, at made[2i] with length made[2i + 1]; one compressor for all, reset between
// them (a zlib handle per small object costs more than compressing it).
static napi_value js_deflate_many(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return fail(env, "deflateMany(src, table, out, made, level)");
  void *src = NULL, *table = NULL, *out = NULL, *made = NULL;
  size_t src_len = 0, table_len = 0, out_len = 0, made_len = 0;
  int32_t level = 0;
  if (!buffer_arg(env, argv[0], &src, &src_len)) return fail(env, "src must be a Buffer");
  if (!typed_arg(env, argv[1], napi_float64_array, &table, &table_len) || table_len % 2 != 0)
    return fail(env, "table must be a Float64Array of (start, length) pairs");
  if (!buffer_arg(env, argv[2], &out, &out_len)) return fail(env, "out must be a Buffer");
  if (!typed_arg(env, argv[3], napi_float64_array, &made, &made_len) || made_len != table_len)
    return fail(env, "made must be a Float64Array as long as table");
  if (napi_get_value_int32(env, argv[4], &level) != napi_ok || level < 0 || level > 9) return fail(env, "level must be 0 to 9");
  if (!pairs_inside(table, table_len / 2, src_len)) return fail(env, "table entry outside src");
  deflate_t *d = calloc(1, sizeof *d);
  if (!d) return fail(env, "out of memory");
  d->src = src;
  d->table = table;
  d->out = out;
  d->out_len = out_len;
  d->made = made;
  d->level = level;
  d->count = (uint32_t)(table_len / 2);
  d->w.release = free;
  return queue_work(env, &d->w, argv, 4, "modfs:deflate-many", deflate_execute);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"digest", NULL, js_digest, NULL, NULL, NULL, napi_default, NULL},
      {"deflateMany", NULL, js_deflate_many, NULL, NULL, NULL, napi_default, NULL},
      {"readObjects", NULL, js_read_objects, NULL, NULL, NULL, napi_default, NULL},
      {"readZip", NULL, js_read_zip, NULL, NULL, NULL, napi_default, NULL},
      {"locate", NULL, js_locate, NULL, NULL, NULL, napi_default, NULL},
      {"centralDirectory", NULL, js_central_directory, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value v;
  napi_create_uint32(env, REC, &v);
  napi_set_named_property(env, exports, "RECORD_BYTES", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
