// Inflate work on libuv pool threads, so the event loop that answers the kernel never waits
// for zlib:
// - digest(): a module zip's deflated entries, inflated in pieces that are hashed and then
//   dropped. Per entry: git's blob id (SHA-1 over "blob <size>\0" + content), the SHA-256 the
//   h1 dirhash needs, CRC-32 (checked against the zip) and Adler-32 (the pack entry's zlib
//   trailer), and how far the deflate stream reached (the pack reuses those bytes).
// - readObjects(): pack entries read from a pack file and inflated, in one job per span.
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
#define MAX_REFS 4
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

// The arguments readObjects and readInto share: the span (fd, from, length), items at argv[3]
// (`stride` slots per entry) and status at argv[5] (one slot per entry).
typedef struct {
  span_t span;
  const double *items;
  int32_t *status;
  uint32_t count;
} span_entries_t;

// NULL, or the message to throw.
static const char *span_args(napi_env env, napi_value *argv, size_t stride, const char *items_why, span_entries_t *a) {
  int32_t fd = -1;
  double from = -1, len = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return "fd must be an open file descriptor";
  if (napi_get_value_double(env, argv[1], &from) != napi_ok || napi_get_value_double(env, argv[2], &len) != napi_ok || !(from >= 0) || !(len >= 0) || len > (double)(1u << 30))
    return "from and length must be a span under 1 GiB";
  void *it = NULL, *st = NULL;
  size_t it_len = 0, st_len = 0;
  if (!typed_arg(env, argv[3], napi_float64_array, &it, &it_len) || it_len % stride != 0) return items_why;
  if (!typed_arg(env, argv[5], napi_int32_array, &st, &st_len) || st_len != it_len / stride) return "status must be an Int32Array of one slot per entry";
  a->span = (span_t){.fd = fd, .from = from, .len = (size_t)len};
  a->items = it;
  a->status = st;
  a->count = (uint32_t)(it_len / stride);
  return NULL;
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
  span_entries_t a;
  void *meta = NULL;
  size_t meta_len = 0;
  const char *bad = span_args(env, argv, 2, "items must be a Float64Array of (start, end) pairs", &a);
  if (bad) return fail(env, bad);
  const double *t = a.items;
  const double len = (double)a.span.len;
  const uint32_t count = a.count;
  if (!typed_arg(env, argv[4], napi_float64_array, &meta, &meta_len) || meta_len != (size_t)count * 3) return fail(env, "meta must be a Float64Array of 3 slots per entry");
  for (uint32_t i = 0; i < count; i++)
    if (!(t[i * 2] >= 0 && t[i * 2] < t[i * 2 + 1] && t[i * 2 + 1] <= len)) return fail(env, "items must lie inside the span, each non-empty");
  objects_t *o = calloc(1, sizeof *o);
  if (!o) return fail(env, "out of memory");
  o->span = a.span;
  o->items = t;
  o->meta = meta;
  o->status = a.status;
  o->count = count;
  o->w.release = objects_release;
  o->w.result = objects_result;
  return queue_work(env, &o->w, argv + 3, 3, "modfs:read-objects", objects_execute);
}

// ---- readInto -------------------------------------------------------------------------

enum { RI_SLICE = 9 };

typedef struct {
  work_t w;
  span_t span;
  const double *items;  // per entry: start, end in the span, slice start, slice end, offset in dest
  uint8_t *dest;
  size_t dest_len;
  int32_t *status;
  uint32_t count;
} into_t;

static void into_execute(napi_env env, void *data) {
  into_t *o = data;
  uint8_t *src = span_read(&o->span, &o->w.failure), *tmp = NULL;
  size_t tmp_len = 0;
  struct libdeflate_decompressor *d = src ? libdeflate_alloc_decompressor() : NULL;
  for (uint32_t i = 0; src && i < o->count; i++) {
    const double *it = o->items + (size_t)i * 5;
    size_t start = (size_t)it[0], end = (size_t)it[1], a = (size_t)it[2], b = (size_t)it[3], at = 0;
    int type = 0;
    uint64_t size = 0;
    if ((o->status[i] = plain_entry(src + start, end - start, &type, &size, &at)) != IN_OK) continue;
    if (b > size) {
      o->status[i] = RI_SLICE;
      continue;
    }
    const uint8_t *z = src + start + at;
    size_t zlen = end - start - at;
    uint8_t *dst = o->dest + (size_t)it[4];
    // The whole object lands in place; a part of one goes through a scratch buffer.
    if (a == 0 && b == size) o->status[i] = inflate_to(d, z, zlen, dst, (size_t)size);
    else if (!fit_scratch(&tmp, &tmp_len, (size_t)size)) o->status[i] = IN_NOMEM;
    else if ((o->status[i] = inflate_to(d, z, zlen, tmp, (size_t)size)) == IN_OK) memcpy(dst, tmp + a, b - a);
  }
  libdeflate_free_decompressor(d);
  free(tmp);
  free(src);
}

// readInto(fd, from, length, items: Float64Array (start, end, sliceStart, sliceEnd, at) per
// entry, dest: Buffer, status: Int32Array): Promise<void>. Reads bytes [from, from + length)
// of the pack open as `fd`; bytes [sliceStart, sliceEnd) of each entry's object land in dest
// at `at`. status as readObjects', or 9 (the slice passes the object's end). The caller keeps
// fd open until it settles.
static napi_value js_read_into(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return fail(env, "readInto(fd, from, length, items, dest, status)");
  span_entries_t a;
  void *dest = NULL;
  size_t dest_len = 0;
  const char *bad = span_args(env, argv, 5, "items must be a Float64Array of 5 slots per entry", &a);
  if (bad) return fail(env, bad);
  const double *t = a.items;
  const double len = (double)a.span.len;
  const uint32_t count = a.count;
  if (!buffer_arg(env, argv[4], &dest, &dest_len)) return fail(env, "dest must be a Buffer");
  for (uint32_t i = 0; i < count; i++) {
    const double *it = t + (size_t)i * 5;
    if (!(it[0] >= 0 && it[0] < it[1] && it[1] <= len && it[2] >= 0 && it[2] <= it[3] && it[4] >= 0 && it[4] + (it[3] - it[2]) <= (double)dest_len))
      return fail(env, "items must lie inside the span, and their slices inside dest");
  }
  into_t *o = calloc(1, sizeof *o);
  if (!o) return fail(env, "out of memory");
  o->span = a.span;
  o->items = t;
  o->dest = dest;
  o->dest_len = dest_len;
  o->status = a.status;
  o->count = count;
  o->w.release = free;
  return queue_work(env, &o->w, argv + 3, 3, "modfs:read-into", into_execute);
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
      {"readInto", NULL, js_read_into, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value v;
  napi_create_uint32(env, REC, &v);
  napi_set_named_property(env, exports, "RECORD_BYTES", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
