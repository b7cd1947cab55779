/* The test guest's 9P2000.L client over virtio-9p (p9.c): one request at
 * a time on the device's one queue, polling. Every reply is checked (size
 * field against what the device wrote, type T+1, tag, body length), so the
 * client is also a conformance check of the server. Functions return 0 or
 * a count, -errno for an Rlerror, or P9_EPROTO_BAD for a reply that breaks
 * the protocol (already printed). Single-threaded: one CPU drives it. */
#ifndef GUEST_P9_H
#define GUEST_P9_H

#include "virtio.h"

#define VIRTIO_ID_9P 9
#define P9_NOFID 0xffffffffu
#define P9_EPROTO_BAD (-1000)
#define P9_TAG_MAX 64

/* Linux open flags and modes as 9P2000.L carries them. */
#define P9_RDONLY 0
#define P9_WRONLY 1
#define P9_RDWR 2
#define P9_AT_REMOVEDIR 0x200
#define P9_S_IFMT 0170000
#define P9_S_IFDIR 0040000
#define P9_S_IFREG 0100000

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct p9_attr {
	uint64_t valid;
	struct p9_qid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, size;
};

struct p9 {
	struct vdev dev;
	char mount_tag[P9_TAG_MAX + 1];
	uint32_t msize;	  /* negotiated */
	uint32_t iosize;  /* largest read/write payload: msize - 24 */
	uint16_t tag;	  /* of the next request */
	uint8_t *tx, *rx; /* msize each */
	uint64_t requests;
};

/* Finds the device (transport=pci|mmio, ecam=, virtio_mmio.device=),
 * negotiates MOUNT_TAG, reads the tag, sets up the queue; 0 or -1. */
int p9_open(struct p9 *c);
/* Tversion 9P2000.L with msize; the reply may lower it, never raise it. */
int p9_version(struct p9 *c, uint32_t msize);
int p9_attach(struct p9 *c, uint32_t fid, const char *uname, uint32_t uid,
	      struct p9_qid *qid);
/* Walks fid to newfid through n names (n = 0 clones); returns the number
 * of qids, which must be n for success (a shorter walk is reported by the
 * server as an error for its first name). */
int p9_walk(struct p9 *c, uint32_t fid, uint32_t newfid, unsigned n,
	    const char *const *names);
int p9_walk1(struct p9 *c, uint32_t fid, uint32_t newfid, const char *name);
/* fid (a directory) becomes the created, opened file. */
int p9_lcreate(struct p9 *c, uint32_t fid, const char *name, uint32_t flags,
	       uint32_t mode, struct p9_qid *qid);
int p9_lopen(struct p9 *c, uint32_t fid, uint32_t flags, struct p9_qid *qid);
/* Data straight to or from buf (its own descriptor, no copy); count at
 * most iosize. The count the server did. */
int64_t p9_read(struct p9 *c, uint32_t fid, uint64_t off, void *buf,
		uint32_t count);
int64_t p9_write(struct p9 *c, uint32_t fid, uint64_t off, const void *buf,
		 uint32_t count);
int p9_getattr(struct p9 *c, uint32_t fid, struct p9_attr *a);
/* Raw dirents (qid[13] offset[8] type[1] name[s]) into buf; their bytes. */
int64_t p9_readdir(struct p9 *c, uint32_t fid, uint64_t off, void *buf,
		   uint32_t count);
int p9_mkdir(struct p9 *c, uint32_t dfid, const char *name, uint32_t mode,
	     struct p9_qid *qid);
int p9_unlinkat(struct p9 *c, uint32_t dfid, const char *name, uint32_t flags);
int p9_clunk(struct p9 *c, uint32_t fid);

/* One directory entry of a readdir buffer: at *pos, advancing it; name
 * is copied NUL-terminated. 1 for an entry, 0 at the end, or
 * P9_EPROTO_BAD for a malformed one. */
int p9_dirent(const uint8_t *buf, uint32_t len, uint32_t *pos,
	      uint64_t *next_off, char *name, size_t name_size);

/* What an error code is, for messages: "errno N" or "protocol". */
const char *p9_strerror(int err, char *buf, size_t size);

#endif
