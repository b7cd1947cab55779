/* Bounds-checked 9P decoding from, and encoding into, iovec arrays that
 * may split a message anywhere. A reader never reads past its length (the
 * message's size field, already checked against in_len and msize); a
 * writer never writes past its capacity and remembers an overflow. Used
 * by whichever worker thread handles the request; no shared state. */
#ifndef FS9P_WIRE_H
#define FS9P_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct p9_in {
	const struct iovec *iov;
	unsigned niov;
	size_t len; /* bytes of the message */
	size_t pos;
};

struct p9_out {
	const struct iovec *iov;
	unsigned niov;
	size_t cap; /* bytes the reply may use */
	size_t pos;
	bool overflow;
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/* Copies len bytes at off of the iovecs to/from a flat buffer; false when
 * the iovecs hold fewer than off + len bytes. */
bool iov_copy_out(const struct iovec *iov, unsigned n, size_t off, void *dst,
		  size_t len);
bool iov_copy_in(const struct iovec *iov, unsigned n, size_t off,
		 const void *src, size_t len);
/* The iovecs covering [off, off + len) of iov, in dst[0..max); their count,
 * or -EINVAL when iov is shorter or more than max are needed. */
int iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
	      struct iovec *dst, unsigned max);
size_t iov_total(const struct iovec *iov, unsigned n);

/* Each returns 0 or -EINVAL when the message ends first. */
int p9_get8(struct p9_in *in, uint8_t *v);
int p9_get16(struct p9_in *in, uint16_t *v);
int p9_get32(struct p9_in *in, uint32_t *v);
int p9_get64(struct p9_in *in, uint64_t *v);
/* A string into buf (NUL-terminated): -EINVAL when truncated or holding a
 * NUL byte, -ENAMETOOLONG when it does not fit in cap - 1 bytes. */
int p9_get_str(struct p9_in *in, char *buf, size_t cap);
int p9_skip_str(struct p9_in *in);

void p9_put8(struct p9_out *o, uint8_t v);
void p9_put16(struct p9_out *o, uint16_t v);
void p9_put32(struct p9_out *o, uint32_t v);
void p9_put64(struct p9_out *o, uint64_t v);
void p9_put_bytes(struct p9_out *o, const void *p, size_t len);
void p9_put_str(struct p9_out *o, const char *s, size_t len);
void p9_put_qid(struct p9_out *o, const struct p9_qid *q);

#endif
