// modfs's FUSE binding: libfuse 3's low-level API, driven from Node through N-API.
//
// One thread reads requests from /dev/fuse and answers what needs no JavaScript (open,
// opendir, flush, statfs, forget replies) on the spot; lookup, getattr, read and readdir go
// into a queue that the JS thread drains in batches, and JS replies from its own thread
// (libfuse's reply calls are thread-safe). Compared with the high-level libfuse 2 binding
// this saves the round trip back to a waiting FUSE thread per request, path resolution in
// libfuse, and lets the kernel skip open/release entirely (no_open), use readdirplus and
// cache directory listings of immutable directories.
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE
#include <errno.h>
#include <fuse_lowlevel.h>
#include <libdeflate.h>
#include "../../store/native/pack_read.h"
#include <node_api.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

enum { OP_LOOKUP = 1, OP_GETATTR = 2, OP_READ = 3, OP_READDIR = 4, OP_READDIRPLUS = 5, OP_FORGET = 6, OP_ENDED = 7, OP_LISTED = 8, OP_DROPPED = 9, OP_LOOKED_UP = 10 };
#define FIELDS 5
// Inode numbers with this bit name nodes whose content or listing can change (the root,
// prefixes, list files): no page or readdir cache is kept for them across opens.
#define VOLATILE_BIT (1ULL << 40)
// Set by JS on directories inside a version below its root: the zip rules leave no go.mod
// there (a nested module is not part of the zip), and go asks for one in every directory.
#define NO_GOMOD_BIT (1ULL << 39)
#define SLOT_BITS 22

typedef struct {
  int op;
  double id;
  uint64_t ino, off, size;
  char *name;
} item_t;

typedef struct {
  fuse_req_t req;
  uint32_t gen;
} slot_t;

typedef struct store_job {
  struct store_job *next;  // in the push queue, then among the kept pushes
  struct store_job *hnext; // in its inode's bucket, while reads may be answered from it
  fuse_ino_t ino;
  off_t off;
  size_t len;
  int whole; // the whole content of an immutable file (else a piece, or a file's head)
  int tries; // pushes the kernel refused for an inode it did not know yet
  double due; // CLOCK_MONOTONIC ms: not pushed again before
  char data[];
} store_job_t;

// Page-cache pushes wait on page locks that a pending read may hold until JS answers it, so
// they run on their own thread, never on the JS thread.
#define STORE_QUEUE_MAX (16u << 20)
// A reader often asks for a file between its push being queued and landing: go reads a
// directory's files the moment its listing returns. Whole files pushed lately, and those still
// queued, answer such reads here. Misses come within a millisecond or two of the push.
#define KEPT_MAX (2u << 20)
#define BUCKETS 4096
// Content waiting for its directory's listing (below) before it can be pushed.
#define STAGED_MAX (16u << 20)

// A directory's whole readdirplus answer, prepared by JS before the kernel asks (go lists a
// directory right after reading its parent's files), answered here page by page. Entries
// carry inode numbers JS assigned; each page and lookup answered is reported to JS
// (OP_LISTED, OP_LOOKED_UP), which counts the lookups the kernel now holds. Pushes of the directory's files wait on it: the
// kernel takes a file's pages only once it knows the file's inode, from this listing.
typedef struct listing {
  struct listing *hnext;
  fuse_ino_t ino;
  int listed;
  uint32_t n;
  uint32_t *starts; // n + 1 byte offsets of the entries in buf
  store_job_t *staged, *staged_tail;
  char *buf;
} listing_t;

typedef struct {
  struct fuse_session *se;
  pthread_t store_thread;
  pthread_cond_t store_cond;
  store_job_t *store_head, *store_tail;
  size_t store_bytes;
  int store_stop;
  int store_done; // store_main has returned
  double stored;
  store_job_t *buckets[BUCKETS];
  store_job_t *kept_head, *kept_tail;
  size_t kept_bytes;
  uint64_t reads_from_pushes; // reads answered from pushed content, without JS
  listing_t *listings[BUCKETS];
  size_t staged_bytes;
  uint64_t pages_listed; // readdir and readdirplus pages answered from prepared listings
  uint64_t lookups_listed; // lookups answered from prepared listings
  pthread_t thread;
  int started, ended, unmounted, destroyed;
  napi_threadsafe_function tsfn;
  pthread_mutex_t lock;
  item_t *q;
  size_t qlen, qcap;
  int scheduled;
  slot_t *slots;
  uint32_t nslots;
  uint32_t *free_slots;
  uint32_t nfree;
  uid_t uid;
  gid_t gid;
  double absent_timeout;       // seconds; 0: every lookup goes to JS
  uint64_t absent_answered;    // lookups answered by surely_absent()
} session_t;

// ---- queue (loop thread → JS thread) ---------------------------------------------------

static double take_slot(session_t *s, fuse_req_t req) {
  uint32_t i;
  if (s->nfree) {
    i = s->free_slots[--s->nfree];
  } else {
    if (s->nslots >= (1u << SLOT_BITS)) return -1;
    uint32_t n = s->nslots ? s->nslots * 2 : 256;
    slot_t *ns = realloc(s->slots, n * sizeof(slot_t));
    uint32_t *nf = realloc(s->free_slots, n * sizeof(uint32_t));
    if (!ns || !nf) {
      if (ns) s->slots = ns;
      if (nf) s->free_slots = nf;
      return -1;
    }
    s->slots = ns;
    s->free_slots = nf;
    for (uint32_t k = s->nslots; k < n; k++) s->slots[k] = (slot_t){NULL, 0};
    // Hand out the new slots lowest first.
    for (uint32_t k = n; k > s->nslots + 1; k--) s->free_slots[s->nfree++] = k - 1;
    i = s->nslots;
    s->nslots = n;
  }
  s->slots[i].req = req;
  s->slots[i].gen = (s->slots[i].gen + 1) & 0x3fffffff;
  return (double)s->slots[i].gen * (double)(1u << SLOT_BITS) + (double)i;
}

/** The request behind an id, released from its slot; NULL if it was answered already. */
static fuse_req_t give_slot(session_t *s, double id) {
  if (!(id >= 0)) return NULL;
  uint64_t v = (uint64_t)id;
  uint32_t i = v & ((1u << SLOT_BITS) - 1);
  uint32_t gen = (uint32_t)(v >> SLOT_BITS);
  if (i >= s->nslots || s->slots[i].gen != gen || !s->slots[i].req) return NULL;
  fuse_req_t r = s->slots[i].req;
  s->slots[i].req = NULL;
  s->free_slots[s->nfree++] = i;
  return r;
}

// Under the lock: an item for JS; 0 when there is no room. *kick: JS must be woken, after
// the lock is let go.
static int queue_item(session_t *s, fuse_req_t req, int op, uint64_t ino, uint64_t off, uint64_t size, char *name, int *kick) {
  double id = -1;
  if (req && (id = take_slot(s, req)) < 0) return 0;
  if (s->qlen == s->qcap) {
    size_t n = s->qcap ? s->qcap * 2 : 256;
    item_t *nq = realloc(s->q, n * sizeof(item_t));
    if (!nq) {
      if (req) give_slot(s, id);
      return 0;
    }
    s->q = nq;
    s->qcap = n;
  }
  s->q[s->qlen++] = (item_t){op, id, ino, off, size, name};
  if (!s->scheduled) *kick = s->scheduled = 1;
  return 1;
}

static void wake_js(session_t *s, int kick) {
  if (kick) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
}

static void enqueue(session_t *s, fuse_req_t req, int op, uint64_t ino, uint64_t off, uint64_t size, const char *name) {
  int kick = 0, ok = 1;
  char *copy = NULL;
  if (name && !(copy = strdup(name))) ok = 0;
  pthread_mutex_lock(&s->lock);
  if (ok) ok = queue_item(s, req, op, ino, off, size, copy, &kick);
  pthread_mutex_unlock(&s->lock);
  if (!ok) {
    free(copy);
    if (req) fuse_reply_err(req, ENOMEM);
    return;
  }
  wake_js(s, kick);
}

// ---- low-level operations (loop thread) ------------------------------------------------

static int no_open = 0;

static void ll_init(void *ud, struct fuse_conn_info *c) {
  (void)ud;
  c->want |= FUSE_CAP_ASYNC_READ;
  if (c->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
    c->want |= FUSE_CAP_NO_OPEN_SUPPORT;
    no_open = 1;
  }
  if (c->capable & FUSE_CAP_READDIRPLUS) c->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
  if (c->capable & FUSE_CAP_AUTO_INVAL_DATA) c->want |= FUSE_CAP_AUTO_INVAL_DATA;
  if (c->capable & FUSE_CAP_PARALLEL_DIROPS) c->want |= FUSE_CAP_PARALLEL_DIROPS;
  c->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

// Names that cannot exist, answered here: go.mod below a version's root, and the lock and
// temporary files the go command makes while downloading, which never exist outside a
// version (the namespace refuses them there). The answer never changes, so the kernel keeps
// it as long as any entry.
static int surely_absent(fuse_ino_t parent, const char *name) {
  if ((parent & NO_GOMOD_BIT) && !(parent & VOLATILE_BIT)) return strcmp(name, "go.mod") == 0;
  if (!(parent & VOLATILE_BIT)) return 0;
  size_t n = strlen(name);
  return ends_with(name, n, ".lock") || ends_with(name, n, ".partial") || ends_with(name, n, ".tmp");
}

static int lookup_from_listing(session_t *s, fuse_req_t req, fuse_ino_t parent, const char *name);

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  session_t *s = fuse_req_userdata(req);
  if (s->absent_timeout > 0 && surely_absent(parent, name)) {
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.entry_timeout = s->absent_timeout;
    __atomic_add_fetch(&s->absent_answered, 1, __ATOMIC_RELAXED);
    fuse_reply_entry(req, &e);
    return;
  }
  if (lookup_from_listing(s, req, parent, name)) return;
  enqueue(s, req, OP_LOOKUP, parent, 0, 0, name);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  enqueue(fuse_req_userdata(req), req, OP_GETATTR, ino, 0, 0, NULL);
}

// Under the lock: a push goes on the queue.
static void queue_push(session_t *s, store_job_t *j) {
  j->next = NULL;
  if (s->store_tail) s->store_tail->next = j;
  else s->store_head = j;
  s->store_tail = j;
  s->store_bytes += j->len;
  pthread_cond_signal(&s->store_cond);
}

static void bucket(session_t *s, store_job_t *j) {
  j->hnext = s->buckets[j->ino % BUCKETS];
  s->buckets[j->ino % BUCKETS] = j;
}

static listing_t **find_listing(session_t *s, fuse_ino_t ino) {
  listing_t **p = &s->listings[ino % BUCKETS];
  while (*p && (*p)->ino != ino) p = &(*p)->hnext;
  return p;
}

// Under the lock: the listing was answered, so its files' inodes are known: push them.
static void release_staged(session_t *s, listing_t *l) {
  l->listed = 1;
  for (store_job_t *j = l->staged, *next; j; j = next) {
    next = j->next;
    s->staged_bytes -= j->len;
    queue_push(s, j);
  }
  l->staged = l->staged_tail = NULL;
}

static void unbucket(session_t *s, store_job_t *j);

// Under the lock: unlinked by the caller; staged content that was never pushed goes too.
static void free_listing(session_t *s, listing_t *l) {
  for (store_job_t *j = l->staged, *next; j; j = next) {
    next = j->next;
    s->staged_bytes -= j->len;
    unbucket(s, j);
    free(j);
  }
  free(l->starts);
  free(l->buf);
  free(l);
}

#define ENTRY_OUT 128 // sizeof(struct fuse_entry_out), as JS lays out the listing

// Whether a readdir or readdirplus page was answered from a prepared listing. The kernel asks
// for plain pages once readdirplus entries went unused, as for the last, empty page of every
// listing (getdents until it returns nothing). A plain entry is the readdirplus entry without
// its attributes (struct fuse_direntplus = fuse_entry_out + fuse_dirent) and counts no lookup.
static int page_from_listing(session_t *s, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus) {
  pthread_mutex_lock(&s->lock);
  listing_t *l = *find_listing(s, ino);
  if (!l) {
    pthread_mutex_unlock(&s->lock);
    return 0;
  }
  const size_t skip = plus ? 0 : ENTRY_OUT;
  uint32_t from = off < 0 ? 0 : off > (off_t)l->n ? l->n : (uint32_t)off, to = from;
  size_t n = 0;
  for (; to < l->n; to++) {
    size_t len = l->starts[to + 1] - l->starts[to] - skip;
    if (n + len > size) break;
    n += len;
  }
  char *page = n ? malloc(n) : NULL;
  if (n && !page) {
    pthread_mutex_unlock(&s->lock);
    return 0;
  }
  for (uint32_t k = from, at = 0; k < to; k++) {
    size_t len = l->starts[k + 1] - l->starts[k] - skip;
    memcpy(page + at, l->buf + l->starts[k] + skip, len);
    at += len;
  }
  int first = plus && !l->listed, kick = 0;
  // Queued before the answer, so JS counts these lookups before any forget of them, and
  // under the lock, so before the OP_DROPPED of a drop that follows.
  if (plus && to > from) queue_item(s, NULL, OP_LISTED, ino, from, to - from, NULL, &kick);
  pthread_mutex_unlock(&s->lock);
  wake_js(s, kick);
  fuse_reply_buf(req, page, n);
  free(page);
  // After the answer: the kernel knows the files' inodes once the lister has read it.
  if (first) {
    pthread_mutex_lock(&s->lock);
    if ((l = *find_listing(s, ino)) && !l->listed) release_staged(s, l);
    pthread_mutex_unlock(&s->lock);
  }
  __atomic_add_fetch(&s->pages_listed, 1, __ATOMIC_RELAXED);
  return 1;
}

// Whether a lookup was answered from a prepared listing of its parent: the kernel looks up
// names it had from plain readdir pages (it asks for attributes with the first page only,
// unless the lister looked at an entry in between) and names of a listing it had forgotten.
// The entry there is the answer JS would give; JS counts it (OP_LOOKED_UP) as it counts a
// page's entries, but the directory itself has not been listed.
static int lookup_from_listing(session_t *s, fuse_req_t req, fuse_ino_t parent, const char *name) {
  size_t len = strlen(name);
  pthread_mutex_lock(&s->lock);
  listing_t *l = *find_listing(s, parent);
  uint32_t k = 0;
  const char *e = NULL;
  for (; l && k < l->n; k++) {
    e = l->buf + l->starts[k];
    uint32_t namelen;
    memcpy(&namelen, e + ENTRY_OUT + 16, 4);
    if (namelen == len && memcmp(e + ENTRY_OUT + 24, name, len) == 0) break;
  }
  uint64_t nodeid = 0;
  if (l && k < l->n) memcpy(&nodeid, e, 8);
  if (!nodeid) { // not there, or listed without attributes
    pthread_mutex_unlock(&s->lock);
    return 0;
  }
  // struct fuse_entry_out: nodeid, generation, entry_valid, attr_valid (s), their ns, then
  // struct fuse_attr: ino, size, blocks, atime, mtime, ctime, their ns, mode, nlink, uid, gid, rdev, blksize.
  uint64_t q[9];
  uint32_t w[13];
  memcpy(q, e, 32);
  memcpy(w, e + 32, 8);
  memcpy(q + 4, e + 48, 40);
  memcpy(w + 2, e + 88, 36);
  struct fuse_entry_param ep;
  memset(&ep, 0, sizeof ep);
  ep.ino = q[0];
  ep.generation = q[1];
  ep.entry_timeout = (double)q[2] + w[0] / 1e9;
  ep.attr_timeout = (double)q[3] + w[1] / 1e9;
  ep.attr.st_ino = (ino_t)q[0];
  ep.attr.st_size = (off_t)q[4];
  ep.attr.st_blocks = (blkcnt_t)q[5];
  ep.attr.st_atim.tv_sec = (time_t)q[6];
  ep.attr.st_mtim.tv_sec = (time_t)q[7];
  ep.attr.st_ctim.tv_sec = (time_t)q[8];
  ep.attr.st_atim.tv_nsec = w[2];
  ep.attr.st_mtim.tv_nsec = w[3];
  ep.attr.st_ctim.tv_nsec = w[4];
  ep.attr.st_mode = w[5];
  ep.attr.st_nlink = w[6];
  ep.attr.st_uid = w[7];
  ep.attr.st_gid = w[8];
  ep.attr.st_rdev = w[9];
  ep.attr.st_blksize = w[10];
  int kick = 0;
  int ok = queue_item(s, NULL, OP_LOOKED_UP, parent, k, 1, NULL, &kick);
  pthread_mutex_unlock(&s->lock);
  wake_js(s, kick);
  if (!ok) return 0;
  fuse_reply_entry(req, &ep);
  __atomic_add_fetch(&s->lookups_listed, 1, __ATOMIC_RELAXED);
  return 1;
}

// Whether a read was answered from content pushed (or about to be) into the page cache.
static int read_from_pushed(session_t *s, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  if (ino & VOLATILE_BIT) return 0;
  int found = 0;
  char *copy = NULL;
  size_t n = 0;
  pthread_mutex_lock(&s->lock);
  for (store_job_t *j = s->buckets[ino % BUCKETS]; j; j = j->hnext) {
    if (j->ino != ino) continue;
    if (off >= 0 && (size_t)off < j->len) {
      n = j->len - (size_t)off < size ? j->len - (size_t)off : size;
      if ((copy = malloc(n))) memcpy(copy, j->data + off, n);
    }
    found = n == 0 || copy != NULL;
    break;
  }
  pthread_mutex_unlock(&s->lock);
  if (!found) return 0;
  fuse_reply_buf(req, copy, n);
  free(copy);
  __atomic_add_fetch(&s->reads_from_pushes, 1, __ATOMIC_RELAXED);
  return 1;
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  session_t *s = fuse_req_userdata(req);
  if (read_from_pushed(s, req, ino, size, off)) return;
  enqueue(s, req, OP_READ, ino, (uint64_t)off, size, NULL);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  session_t *s = fuse_req_userdata(req);
  if (page_from_listing(s, req, ino, size, off, 0)) return;
  enqueue(s, req, OP_READDIR, ino, (uint64_t)off, size, NULL);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  session_t *s = fuse_req_userdata(req);
  if (page_from_listing(s, req, ino, size, off, 1)) return;
  enqueue(s, req, OP_READDIRPLUS, ino, (uint64_t)off, size, NULL);
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  int keep = !(ino & VOLATILE_BIT);
  fi->keep_cache = keep;
  fi->cache_readdir = keep;
  fuse_reply_open(req, fi);
}

// Where the kernel supports it, the first open's ENOSYS makes it stop sending open and
// release for good and keep every file's pages across opens; attributes still expire per
// inode, and a changed size or mtime drops the pages (auto_inval_data). Otherwise each open
// is answered here, keeping the cache of all but volatile files.
static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (no_open) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  fi->keep_cache = !(ino & VOLATILE_BIT);
  fuse_reply_open(req, fi);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  enqueue(fuse_req_userdata(req), NULL, OP_FORGET, ino, 0, nlookup, NULL);
  fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *list) {
  session_t *s = fuse_req_userdata(req);
  for (size_t i = 0; i < count; i++) enqueue(s, NULL, OP_FORGET, list[i].ino, 0, list[i].nlookup, NULL);
  fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops LL_OPS = {
    .init = ll_init,
    .lookup = ll_lookup,
    .forget = ll_forget,
    .forget_multi = ll_forget_multi,
    .getattr = ll_getattr,
    .read = ll_read,
    .open = ll_open,
    .opendir = ll_opendir,
    .readdir = ll_readdir,
    .readdirplus = ll_readdirplus,
};

// Under the lock: a pushed job leaves its inode's bucket.
static void unbucket(session_t *s, store_job_t *j) {
  for (store_job_t **p = &s->buckets[j->ino % BUCKETS]; *p; p = &(*p)->hnext)
    if (*p == j) {
      *p = j->hnext;
      return;
    }
}

// Under the lock: a pushed whole file is kept to answer reads that raced it, oldest out first.
static void keep_pushed(session_t *s, store_job_t *j) {
  if (!j->whole) {
    free(j);
    return;
  }
  j->next = NULL;
  if (s->kept_tail) s->kept_tail->next = j;
  else s->kept_head = j;
  s->kept_tail = j;
  s->kept_bytes += j->len;
  while (s->kept_bytes > KEPT_MAX && s->kept_head) {
    store_job_t *old = s->kept_head;
    s->kept_head = old->next;
    if (!s->kept_head) s->kept_tail = NULL;
    s->kept_bytes -= old->len;
    unbucket(s, old);
    free(old);
  }
}

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *store_main(void *arg) {
  session_t *s = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->store_head && !s->store_stop) pthread_cond_wait(&s->store_cond, &s->lock);
    if (s->store_stop) break;
    store_job_t *j = s->store_head;
    s->store_head = j->next;
    if (!s->store_head) s->store_tail = NULL;
    s->store_bytes -= j->len;
    pthread_mutex_unlock(&s->lock);
    double wait = j->tries ? j->due - monotonic_ms() : 0;
    if (wait > 0) usleep((useconds_t)(wait * 1000));
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT(j->len);
    bv.buf[0].mem = j->data;
    // The kernel links the inodes of a lookup or readdirplus answer when the asker wakes up,
    // maybe after this push: it is tried again behind the others instead of holding them up.
    int r = fuse_lowlevel_notify_store(s->se, j->ino, j->off, &bv, 0);
    pthread_mutex_lock(&s->lock);
    if (r == -ENOENT && ++j->tries < 4 && !s->store_stop) {
      j->due = monotonic_ms() + 0.2 * j->tries;
      queue_push(s, j);
      continue;
    }
    if (r == 0) s->stored++;
    keep_pushed(s, j);
  }
  for (int b = 0; b < BUCKETS; b++)
    for (listing_t *l = s->listings[b], *next; l; l = next) {
      next = l->hnext;
      free_listing(s, l);
    }
  memset(s->listings, 0, sizeof s->listings);
  memset(s->buckets, 0, sizeof s->buckets);
  for (int list = 0; list < 2; list++) {
    store_job_t *j = list ? s->kept_head : s->store_head;
    while (j) {
      store_job_t *next = j->next;
      free(j);
      j = next;
    }
  }
  s->store_head = s->store_tail = s->kept_head = s->kept_tail = NULL;
  s->kept_bytes = 0;
  s->store_done = 1;
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

static void *loop_main(void *arg) {
  session_t *s = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  int r = fuse_session_loop(s->se);
  enqueue(s, NULL, OP_ENDED, 0, 0, (uint64_t)(r < 0 ? -r : r), NULL);
  return NULL;
}

// ---- JS side ---------------------------------------------------------------------------

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return throw_last(env);    \
  } while (0)

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "N-API call failed");
  return NULL;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)data;
  session_t *s = context;
  if (!env) return;
  pthread_mutex_lock(&s->lock);
  item_t *items = s->q;
  size_t n = s->qlen;
  s->q = NULL;
  s->qlen = s->qcap = 0;
  s->scheduled = 0;
  pthread_mutex_unlock(&s->lock);
  if (!n) return;
  napi_value ab, f64, names, undef, argv[3];
  void *raw;
  napi_get_undefined(env, &undef);
  if (napi_create_arraybuffer(env, n * FIELDS * sizeof(double), &raw, &ab) != napi_ok) goto out;
  napi_create_typedarray(env, napi_float64_array, n * FIELDS, ab, 0, &f64);
  napi_create_array_with_length(env, n, &names);
  double *d = raw;
  for (size_t i = 0; i < n; i++) {
    item_t *it = &items[i];
    d[i * FIELDS + 0] = it->op;
    d[i * FIELDS + 1] = it->id;
    d[i * FIELDS + 2] = (double)it->ino;
    d[i * FIELDS + 3] = (double)it->off;
    d[i * FIELDS + 4] = (double)it->size;
    if (it->name) {
      napi_value str;
      napi_create_string_utf8(env, it->name, NAPI_AUTO_LENGTH, &str);
      napi_set_element(env, names, (uint32_t)i, str);
    }
  }
  argv[0] = f64;
  argv[1] = names;
  napi_create_uint32(env, (uint32_t)n, &argv[2]);
  if (napi_call_function(env, undef, cb, 3, argv, NULL) != napi_ok) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
out:
  for (size_t i = 0; i < n; i++) free(items[i].name);
  free(items);
}

static session_t *get_session(napi_env env, napi_value v) {
  session_t *s = NULL;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, NULL, "not a FUSE session");
    return NULL;
  }
  return s;
}

static void finalize_session(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  session_t *s = data;
  // A session still serving keeps its memory: its thread may be using it.
  if (s->started && !s->destroyed) return;
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->store_cond);
  free(s->slots);
  free(s->free_slots);
  free(s->q);
  free(s);
}

static char *get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *out = malloc(len + 1);
  if (!out) return NULL;
  napi_get_value_string_utf8(env, v, out, len + 1, &len);
  return out;
}

// mount(mountpoint, options, debug, onRequests) → session
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "mount(mountpoint, options, debug, onRequests, absentTimeout?)");
    return NULL;
  }
  double absent_timeout = 0;
  if (argc >= 5) napi_get_value_double(env, argv[4], &absent_timeout);
  bool debug = false;
  napi_get_value_bool(env, argv[2], &debug);
  char *mnt = get_string(env, argv[0]);
  char *opts = get_string(env, argv[1]);
  session_t *s = calloc(1, sizeof(session_t));
  if (!mnt || !opts || !s) {
    free(mnt), free(opts), free(s);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->store_cond, NULL);
  s->uid = getuid();
  s->gid = getgid();
  s->absent_timeout = absent_timeout;
  char *args_v[] = {"modfs", "-o", opts, debug ? "-d" : NULL, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, args_v);
  const char *why = NULL;
  s->se = fuse_session_new(&args, &LL_OPS, sizeof(LL_OPS), s);
  if (!s->se) why = "cannot create a FUSE session (bad options?)";
  else if (fuse_session_mount(s->se, mnt) != 0) why = "mount failed (see the error above; is /dev/fuse usable and fusermount3 installed?)";
  fuse_opt_free_args(&args);
  free(mnt);
  free(opts);
  if (why) {
    if (s->se) fuse_session_destroy(s->se);
    pthread_mutex_destroy(&s->lock);
    free(s);
    napi_throw_error(env, "EMOUNT", why);
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "modfs-fuse", NAPI_AUTO_LENGTH, &name);
  int store_started = 0;
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, s, call_js, &s->tsfn) != napi_ok ||
      !(store_started = pthread_create(&s->store_thread, NULL, store_main, s) == 0) ||
      pthread_create(&s->thread, NULL, loop_main, s) != 0) {
    if (store_started) {
      pthread_mutex_lock(&s->lock);
      s->store_stop = 1;
      pthread_cond_signal(&s->store_cond);
      pthread_mutex_unlock(&s->lock);
      pthread_join(s->store_thread, NULL);
    }
    fuse_session_unmount(s->se);
    fuse_session_destroy(s->se);
    napi_throw_error(env, "EMOUNT", "cannot start the FUSE thread");
    return NULL;
  }
  s->started = 1;
  CHECK(napi_create_external(env, s, finalize_session, NULL, &result));
  return result;
}

static void fill_stat(struct stat *st, session_t *s, double ino, double mode, double size, double mtime_ms, double nlink) {
  memset(st, 0, sizeof(*st));
  st->st_ino = (ino_t)ino;
  st->st_mode = (mode_t)mode;
  st->st_size = (off_t)size;
  st->st_nlink = (nlink_t)nlink;
  st->st_uid = s->uid;
  st->st_gid = s->gid;
  st->st_blksize = 4096;
  st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
  double sec = mtime_ms / 1000;
  st->st_mtim.tv_sec = (time_t)sec;
  st->st_mtim.tv_nsec = (long)((mtime_ms - (double)st->st_mtim.tv_sec * 1000) * 1e6);
  if (st->st_mtim.tv_nsec < 0 || st->st_mtim.tv_nsec >= 1000000000) st->st_mtim.tv_nsec = 0;
  st->st_atim = st->st_ctim = st->st_mtim;
}

static fuse_req_t claim(napi_env env, session_t *s, napi_value idv) {
  double id;
  if (napi_get_value_double(env, idv, &id) != napi_ok) {
    napi_throw_type_error(env, NULL, "request id must be a number");
    return NULL;
  }
  pthread_mutex_lock(&s->lock);
  fuse_req_t r = s->destroyed ? NULL : give_slot(s, id);
  pthread_mutex_unlock(&s->lock);
  return r;
}

#define ARGS(n)                                                     \
  size_t argc = n;                                                  \
  napi_value argv[n];                                               \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));      \
  if (argc < n) {                                                   \
    napi_throw_type_error(env, NULL, "missing arguments");          \
    return NULL;                                                    \
  }                                                                 \
  session_t *s = get_session(env, argv[0]);                         \
  if (!s) return NULL;

static napi_value num_args(napi_env env, napi_value *argv, size_t from, size_t to, double *out) {
  for (size_t i = from; i < to; i++)
    if (napi_get_value_double(env, argv[i], &out[i - from]) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected a number");
      return NULL;
    }
  return (napi_value)1;
}

// replyEntry(s, id, ino, mode, size, mtimeMs, nlink, entryTimeout, attrTimeout); ino 0 = negative
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  ARGS(9);
  double v[7];
  if (!num_args(env, argv, 2, 9, v)) return NULL;
  fuse_req_t r = claim(env, s, argv[1]);
  if (!r) return NULL;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof(e));
  e.ino = (fuse_ino_t)v[0];
  if (e.ino) fill_stat(&e.attr, s, v[0], v[1], v[2], v[3], v[4]);
  e.entry_timeout = v[5];
  e.attr_timeout = v[6];
  fuse_reply_entry(r, &e);
  return NULL;
}

// replyAttr(s, id, ino, mode, size, mtimeMs, nlink, attrTimeout)
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  ARGS(8);
  double v[6];
  if (!num_args(env, argv, 2, 8, v)) return NULL;
  fuse_req_t r = claim(env, s, argv[1]);
  if (!r) return NULL;
  struct stat st;
  fill_stat(&st, s, v[0], v[1], v[2], v[3], v[4]);
  fuse_reply_attr(r, &st, v[5]);
  return NULL;
}

// replyBuf(s, id, buffer, length)
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  ARGS(4);
  void *data;
  size_t len;
  double want;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok || napi_get_value_double(env, argv[3], &want) != napi_ok) {
    napi_throw_type_error(env, NULL, "replyBuf(session, id, buffer, length)");
    return NULL;
  }
  if (want < 0 || want > (double)len) {
    napi_throw_range_error(env, NULL, "length outside the buffer");
    return NULL;
  }
  fuse_req_t r = claim(env, s, argv[1]);
  if (!r) return NULL;
  fuse_reply_buf(r, data, (size_t)want);
  return NULL;
}

// replyErr(s, id, errno)
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  ARGS(3);
  double e;
  if (!num_args(env, argv, 2, 3, &e)) return NULL;
  fuse_req_t r = claim(env, s, argv[1]);
  if (!r) return NULL;
  fuse_reply_err(r, (int)e);
  return NULL;
}

// Under the lock: stages `j` on the prepared listing of `dir` while the kernel has not had it,
// else queues it for the push thread; 0 when it is refused (budget full, session closing).
// `strict`: a `dir` whose listing is gone was dropped unanswered, so the kernel may not know the
// file: refused too.
static int take_push(session_t *s, store_job_t *j, fuse_ino_t dir, int strict) {
  listing_t *l = dir > 0 ? *find_listing(s, dir) : NULL;
  int open = !s->destroyed && !s->unmounted && !s->store_stop;
  if (!open || (strict && dir > 0 && !l)) return 0;
  if (l && !l->listed) {
    if (s->staged_bytes + j->len > STAGED_MAX) return 0;
    if (l->staged_tail) l->staged_tail->next = j;
    else l->staged = j;
    l->staged_tail = j;
    s->staged_bytes += j->len;
    if (j->whole) bucket(s, j);
    return 1;
  }
  if (s->store_bytes + j->len > STORE_QUEUE_MAX) return 0;
  queue_push(s, j);
  if (j->whole) bucket(s, j);
  return 1;
}

// notifyStore(s, ino, offset, buffer, length, whole, dirIno) → queued (true) or dropped (queue
// full, or unmounted). Puts file content into the kernel's page cache before anyone asks for
// it; the bytes are copied, so the buffer is free when this returns. `whole`: the buffer is
// all of an immutable file from offset 0, so reads of that inode may be answered from it
// here. `dirIno` (0: none): the file's directory, whose prepared listing the kernel has not
// asked for yet, so the push waits for it.
static napi_value js_notify_store(napi_env env, napi_callback_info info) {
  ARGS(7);
  double v[2], want, dir;
  void *data;
  size_t len;
  bool whole = false;
  if (!num_args(env, argv, 1, 3, v) || napi_get_buffer_info(env, argv[3], &data, &len) != napi_ok ||
      napi_get_value_double(env, argv[4], &want) != napi_ok || want < 0 || want > (double)len ||
      napi_get_value_bool(env, argv[5], &whole) != napi_ok || napi_get_value_double(env, argv[6], &dir) != napi_ok) {
    napi_throw_type_error(env, NULL, "notifyStore(session, ino, offset, buffer, length, whole, dirIno)");
    return NULL;
  }
  bool queued = false;
  store_job_t *j = malloc(sizeof(store_job_t) + (size_t)want);
  if (j) {
    *j = (store_job_t){NULL, NULL, (fuse_ino_t)v[0], (off_t)v[1], (size_t)want, whole && v[1] == 0 && !((fuse_ino_t)v[0] & VOLATILE_BIT), 0, 0};
    memcpy(j->data, data, (size_t)want);
    pthread_mutex_lock(&s->lock);
    queued = take_push(s, j, (fuse_ino_t)dir, 0);
    pthread_mutex_unlock(&s->lock);
    if (!queued) free(j);
  }
  napi_value out;
  napi_get_boolean(env, queued, &out);
  return out;
}

// ---- files pushed straight from a pack ---------------------------------------------------

#define ITEM 5 // numbers per file in pushFromPack's items

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref refs[3];  // the session, items and result stay alive until it settles
  session_t *s;
  span_t span;
  const double *items;  // per file: start, end of its pack entry in the span, ino, dirIno, bytes to push
  int32_t *result;
  uint32_t count;
  const char *failure;
} pack_push_t;

// The first `want` bytes of a zlib stream, inflated without the rest: given all the input,
// one inflate() stops when the output is full, where libdeflate only inflates whole buffers.
static int inflate_head(const uint8_t *in, size_t in_len, char *out, size_t want) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit(&z) != Z_OK) return 0;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)in_len;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)want;
  int r = inflate(&z, Z_SYNC_FLUSH);
  inflateEnd(&z);
  return z.avail_out == 0 && (r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR);
}

static void pack_push_execute(napi_env env, void *data) {
  pack_push_t *pp = data;
  store_job_t **jobs = calloc(pp->count ? pp->count : 1, sizeof *jobs);
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  uint8_t *src = NULL;
  if (!jobs || !d) {
    pp->failure = "pushFromPack: out of memory";
    goto out;
  }
  if (!(src = span_read(&pp->span, &pp->failure))) goto out;
  for (uint32_t i = 0; i < pp->count; i++) {
    const double *it = pp->items + (size_t)i * ITEM;
    size_t start = (size_t)it[0], end = (size_t)it[1], at = 0;
    uint64_t size = 0;
    int type = 0;
    pp->result[i] = -1;
    if (!pack_entry_header(src + start, end - start, &type, &size, &at) || type != 3) continue;  // blobs only
    const uint64_t want = it[4] < (double)size ? (uint64_t)it[4] : size;
    if (want > STAGED_MAX) continue;
    store_job_t *j = malloc(sizeof(store_job_t) + (size_t)want);
    if (!j) continue;
    *j = (store_job_t){NULL, NULL, (fuse_ino_t)it[2], 0, (size_t)want, want == size && !((fuse_ino_t)it[2] & VOLATILE_BIT), 0, 0};
    const uint8_t *in = src + start + at;
    const size_t in_len = end - start - at;
    if (want < size ? !inflate_head(in, in_len, j->data, (size_t)want)
                    : libdeflate_zlib_decompress(d, in, in_len, j->data, (size_t)size, NULL) != LIBDEFLATE_SUCCESS) {
      free(j);
      continue;
    }
    jobs[i] = j;
  }
  session_t *s = pp->s;
  pthread_mutex_lock(&s->lock);
  for (uint32_t i = 0; i < pp->count; i++) {
    if (!jobs[i]) continue;
    pp->result[i] = take_push(s, jobs[i], (fuse_ino_t)pp->items[(size_t)i * ITEM + 3], 1);
    if (!pp->result[i]) free(jobs[i]);
  }
  pthread_mutex_unlock(&s->lock);
out:
  libdeflate_free_decompressor(d);
  free(jobs);
  free(src);
}

static void pack_push_settle(napi_env env, napi_status status, void *data) {
  pack_push_t *pp = data;
  napi_value v;
  if (status != napi_ok || pp->failure) {
    napi_value msg;
    napi_create_string_utf8(env, pp->failure ? pp->failure : "pushFromPack cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_reject_deferred(env, pp->deferred, v);
  } else {
    napi_get_undefined(env, &v);
    napi_resolve_deferred(env, pp->deferred, v);
  }
  for (int i = 0; i < 3; i++) napi_delete_reference(env, pp->refs[i]);
  napi_delete_async_work(env, pp->work);
  free(pp);
}

// pushFromPack(s, fd, from, length, items: Float64Array (start, end, ino, dirIno, bytes) per
// file, result: Int32Array) → Promise<void>. On a pool thread: reads bytes [from, from + length)
// of the pack open as `fd`, inflates the first `bytes` of each file's blob entry (all of it when
// it has no more), and takes them as notifyStore does (`dirIno` 0 to push at once). result[i]: 1 taken, 0 refused (see take_push;
// a dirIno whose listing is gone counts as dropped unanswered), -1 not a good blob entry. The
// caller keeps fd open until it settles. No JS buffer holds the content on the way.
static napi_value js_push_from_pack(napi_env env, napi_callback_info info) {
  ARGS(6);
  int32_t fd = -1;
  double span[2];
  void *items = NULL, *result = NULL;
  size_t n_items = 0, n_result = 0;
  napi_typedarray_type t1, t2;
  if (napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0 || !num_args(env, argv, 2, 4, span) || !(span[0] >= 0) || !(span[1] >= 0) ||
      span[1] > (double)(1u << 30) || napi_get_typedarray_info(env, argv[4], &t1, &n_items, &items, NULL, NULL) != napi_ok || t1 != napi_float64_array ||
      n_items % ITEM != 0 || napi_get_typedarray_info(env, argv[5], &t2, &n_result, &result, NULL, NULL) != napi_ok || t2 != napi_int32_array || n_result != n_items / ITEM) {
    napi_throw_type_error(env, NULL, "pushFromPack(session, fd, from, length, items, result)");
    return NULL;
  }
  const double *it = items;
  for (size_t i = 0; i < n_result; i++)
    if (!(it[i * ITEM] >= 0 && it[i * ITEM] < it[i * ITEM + 1] && it[i * ITEM + 1] <= span[1] && it[i * ITEM + 2] > 0 && it[i * ITEM + 3] >= 0 && it[i * ITEM + 4] > 0)) {
      napi_throw_range_error(env, NULL, "pushFromPack: an entry outside the span, a bad inode, or nothing to push");
      return NULL;
    }
  pack_push_t *pp = calloc(1, sizeof *pp);
  if (!pp) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  pp->s = s;
  pp->span = (span_t){.fd = fd, .from = span[0], .len = (size_t)span[1]};
  pp->items = items;
  pp->result = result;
  pp->count = (uint32_t)n_result;
  napi_value promise, name;
  napi_create_promise(env, &pp->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &pp->refs[0]);
  napi_create_reference(env, argv[4], 1, &pp->refs[1]);
  napi_create_reference(env, argv[5], 1, &pp->refs[2]);
  napi_create_string_utf8(env, "modfs:push-from-pack", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, pack_push_execute, pack_push_settle, pp, &pp->work);
  napi_queue_async_work(env, pp->work);
  return promise;
}

// setListing(s, dirIno, buffer, starts) → whether it was taken. `buffer` holds the whole
// readdirplus answer, `starts` (Uint32Array) the n + 1 byte offsets of its entries; both are
// copied. An entry's offset field must be its index + 1.
static napi_value js_set_listing(napi_env env, napi_callback_info info) {
  ARGS(4);
  double ino;
  void *data, *sv;
  size_t len, count;
  napi_typedarray_type type;
  if (!num_args(env, argv, 1, 2, &ino)) return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &type, &count, &sv, NULL, NULL) != napi_ok || type != napi_uint32_array || count < 1) {
    napi_throw_type_error(env, NULL, "setListing(session, dirIno, buffer, starts)");
    return NULL;
  }
  const uint32_t *starts = sv;
  for (size_t k = 0; k < count; k++)
    if (starts[k] > len || (k && starts[k] < starts[k - 1])) {
      napi_throw_range_error(env, NULL, "setListing: entry offsets out of order or outside the buffer");
      return NULL;
    }
  listing_t *l = calloc(1, sizeof(listing_t));
  bool taken = false;
  int filled = l && (l->buf = malloc(len ? len : 1)) && (l->starts = malloc(count * sizeof(uint32_t)));
  if (filled) {
    memcpy(l->buf, data, len);
    memcpy(l->starts, starts, count * sizeof(uint32_t));
    l->ino = (fuse_ino_t)ino;
    l->n = (uint32_t)(count - 1);
  }
  pthread_mutex_lock(&s->lock);
  listing_t **at = filled ? find_listing(s, l->ino) : NULL;
  if (at && !*at && !s->destroyed && !s->store_stop) {
    *at = l;
    taken = true;
  }
  if (!taken && l) free_listing(s, l); // nothing staged on it yet
  pthread_mutex_unlock(&s->lock);
  napi_value out;
  napi_get_boolean(env, taken, &out);
  return out;
}

// listingAnswered(s, dirIno): JS answered a page of the prepared listing itself (the kernel's
// request passed C before the listing reached it): call after the reply. Its staged pushes
// go now, as after a page answered here.
static napi_value js_listing_answered(napi_env env, napi_callback_info info) {
  ARGS(2);
  double ino;
  if (!num_args(env, argv, 1, 2, &ino)) return NULL;
  pthread_mutex_lock(&s->lock);
  listing_t *l = *find_listing(s, (fuse_ino_t)ino);
  if (l && !l->listed && !s->store_stop) release_staged(s, l);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

// dropListing(s, dirIno): no more answers from it; its staged pushes are dropped. An
// OP_DROPPED follows every OP_LISTED and OP_LOOKED_UP of it through the queue (those are
// queued under the lock), so JS learns when the last of its lookups has been counted.
static napi_value js_drop_listing(napi_env env, napi_callback_info info) {
  ARGS(2);
  double ino;
  if (!num_args(env, argv, 1, 2, &ino)) return NULL;
  pthread_mutex_lock(&s->lock);
  listing_t **at = find_listing(s, (fuse_ino_t)ino);
  listing_t *l = *at;
  if (l) {
    *at = l->hnext;
    free_listing(s, l);
  }
  pthread_mutex_unlock(&s->lock);
  enqueue(s, NULL, OP_DROPPED, (uint64_t)ino, 0, 0, NULL);
  return NULL;
}

// counters(s) → [page-cache pushes the kernel accepted, lookups of names that cannot exist
// answered here, reads answered here from pushed content, listing pages answered here,
// lookups answered here from listings]
static napi_value js_counters(napi_env env, napi_callback_info info) {
  ARGS(1);
  pthread_mutex_lock(&s->lock);
  double n[5] = {s->stored, (double)__atomic_load_n(&s->absent_answered, __ATOMIC_RELAXED),
                 (double)__atomic_load_n(&s->reads_from_pushes, __ATOMIC_RELAXED),
                 (double)__atomic_load_n(&s->pages_listed, __ATOMIC_RELAXED),
                 (double)__atomic_load_n(&s->lookups_listed, __ATOMIC_RELAXED)};
  pthread_mutex_unlock(&s->lock);
  napi_value out, x;
  napi_create_array_with_length(env, 5, &out);
  for (uint32_t k = 0; k < 5; k++) {
    napi_create_double(env, n[k], &x);
    napi_set_element(env, out, k, x);
  }
  return out;
}

// stopStore(s) → whether the page-cache thread has stopped. The first call asks it to stop
// and drops what is queued; a push in progress may wait on a page lock that only an answer
// from the JS thread releases, so the caller keeps answering and asks again.
static napi_value js_stop_store(napi_env env, napi_callback_info info) {
  ARGS(1);
  pthread_mutex_lock(&s->lock);
  s->store_stop = 1;
  pthread_cond_signal(&s->store_cond);
  int done = s->store_done;
  pthread_mutex_unlock(&s->lock);
  napi_value out;
  napi_get_boolean(env, done, &out);
  return out;
}

// unmount(s): detaches the mount; the thread ends (OP_ENDED) once the kernel lets go.
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  ARGS(1);
  if (!s->unmounted && !s->destroyed) {
    s->unmounted = 1;
    fuse_session_unmount(s->se);
  }
  return NULL;
}

// destroy(s): after OP_ENDED; frees the session's libfuse state.
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  ARGS(1);
  if (s->destroyed) return NULL;
  pthread_join(s->thread, NULL);
  pthread_mutex_lock(&s->lock);
  s->destroyed = 1;
  s->store_stop = 1;
  pthread_cond_signal(&s->store_cond);
  pthread_mutex_unlock(&s->lock);
  // The connection is gone, so no push can still be waiting on a page lock.
  pthread_join(s->store_thread, NULL);
  if (!s->unmounted) fuse_session_unmount(s->se);
  fuse_session_destroy(s->se);
  s->se = NULL;
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  return NULL;
}

// trimMemory(): hands memory that malloc holds freed back to the system, on a libuv pool
// thread so the event loop does not wait for the walk over the arenas. One at a time: returns
// false while a trim is still running.
static napi_async_work trim_work = NULL;

static void trim_execute(napi_env env, void *data) { malloc_trim(0); }

static void trim_complete(napi_env env, napi_status status, void *data) {
  napi_delete_async_work(env, trim_work);
  trim_work = NULL;
}

static napi_value js_trim_memory(napi_env env, napi_callback_info info) {
  int started = 0;
  if (!trim_work) {
    napi_value name;
    napi_create_string_utf8(env, "modfs:trim", NAPI_AUTO_LENGTH, &name);
    if (napi_create_async_work(env, NULL, name, trim_execute, trim_complete, NULL, &trim_work) == napi_ok) {
      started = napi_queue_async_work(env, trim_work) == napi_ok;
      if (!started) {
        napi_delete_async_work(env, trim_work);
        trim_work = NULL;
      }
    }
  }
  napi_value out;
  napi_get_boolean(env, started, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"replyEntry", NULL, js_reply_entry, NULL, NULL, NULL, napi_default, NULL},
      {"replyAttr", NULL, js_reply_attr, NULL, NULL, NULL, napi_default, NULL},
      {"replyBuf", NULL, js_reply_buf, NULL, NULL, NULL, napi_default, NULL},
      {"replyErr", NULL, js_reply_err, NULL, NULL, NULL, napi_default, NULL},
      {"notifyStore", NULL, js_notify_store, NULL, NULL, NULL, napi_default, NULL},
      {"pushFromPack", NULL, js_push_from_pack, NULL, NULL, NULL, napi_default, NULL},
      {"counters", NULL, js_counters, NULL, NULL, NULL, napi_default, NULL},
      {"setListing", NULL, js_set_listing, NULL, NULL, NULL, napi_default, NULL},
      {"dropListing", NULL, js_drop_listing, NULL, NULL, NULL, napi_default, NULL},
      {"listingAnswered", NULL, js_listing_answered, NULL, NULL, NULL, napi_default, NULL},
      {"stopStore", NULL, js_stop_store, NULL, NULL, NULL, napi_default, NULL},
      {"unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"trimMemory", NULL, js_trim_memory, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value v;
  napi_create_double(env, (double)VOLATILE_BIT, &v);
  napi_set_named_property(env, exports, "VOLATILE_BIT", v);
  napi_create_double(env, (double)NO_GOMOD_BIT, &v);
  napi_set_named_property(env, exports, "NO_GOMOD_BIT", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
