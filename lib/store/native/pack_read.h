// Reading pack entries, shared by the store's addon (inflate_work.c) and the FUSE binding's
// pushes from packs (lib/fs/native/fuse_lowlevel.c).
#ifndef MODFS_PACK_READ_H
#define MODFS_PACK_READ_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A pack entry's header: type, size, and where its zlib stream starts; 0 when it is cut.
static inline int pack_entry_header(const uint8_t *p, size_t n, int *type, uint64_t *size, size_t *at) {
  if (n == 0) return 0;
  uint8_t b = p[0];
  *type = (b >> 4) & 7;
  uint64_t v = b & 15;
  size_t i = 1;
  for (int shift = 4; b & 0x80; shift += 7) {
    if (i >= n || shift > 56) return 0;
    b = p[i++];
    v |= (uint64_t)(b & 0x7f) << shift;
  }
  *size = v;
  *at = i;
  return 1;
}

// Bytes [from, from + len) of fd into buf: NULL, or why not (written to msg).
static inline const char *pread_all(int fd, uint8_t *buf, size_t len, double from, char *msg, size_t msg_len) {
  for (size_t got = 0; got < len;) {
    ssize_t r = pread(fd, buf + got, len - got, (off_t)from + (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(msg, msg_len, "pack read at %.0f: %s", from + (double)got, r < 0 ? strerror(errno) : "pack truncated");
      return msg;
    }
    got += (size_t)r;
  }
  return NULL;
}
// Bytes [from, from + len) of a pack file, read whole on a pool thread.
typedef struct {
  int fd;
  double from;
  size_t len;
  char message[160];
} span_t;

// The span's bytes (the caller frees them), or NULL with `failure` set to why.
static inline uint8_t *span_read(span_t *sp, const char **failure) {
  uint8_t *src = malloc(sp->len ? sp->len : 1);
  if (!src) *failure = "pack read: out of memory";
  else if ((*failure = pread_all(sp->fd, src, sp->len, sp->from, sp->message, sizeof sp->message))) {
    free(src);
    src = NULL;
  }
  return src;
}
#endif
