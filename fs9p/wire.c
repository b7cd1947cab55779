/* 9P field decoding and encoding over iovecs (see wire.h). Runs on the
 * request's worker thread; touches only the request's buffers. */
#include <errno.h>
#include <string.h>

#include "lib/bytes.h"
#include "wire.h"

size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Walks to the iovec holding byte off; false when there is none. */
static bool iov_seek(const struct iovec *iov, unsigned n, size_t *off,
		     unsigned *idx)
{
	unsigned i = 0;

	while (i < n && *off >= iov[i].iov_len) {
		*off -= iov[i].iov_len;
		i++;
	}
	*idx = i;
	return i < n;
}

bool iov_copy_out(const struct iovec *iov, unsigned n, size_t off, void *dst,
		  size_t len)
{
	uint8_t *d = dst;
	unsigned i;

	if (!len)
		return true;
	if (!iov_seek(iov, n, &off, &i))
		return false;
	for (; len && i < n; i++, off = 0) {
		size_t c = iov[i].iov_len - off;

		if (c > len)
			c = len;
		memcpy(d, (const uint8_t *)iov[i].iov_base + off, c);
		d += c;
		len -= c;
	}
	return len == 0;
}

bool iov_copy_in(const struct iovec *iov, unsigned n, size_t off,
		 const void *src, size_t len)
{
	const uint8_t *s = src;
	unsigned i;

	if (!len)
		return true;
	if (!iov_seek(iov, n, &off, &i))
		return false;
	for (; len && i < n; i++, off = 0) {
		size_t c = iov[i].iov_len - off;

		if (c > len)
			c = len;
		memcpy((uint8_t *)iov[i].iov_base + off, s, c);
		s += c;
		len -= c;
	}
	return len == 0;
}

int iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
	      struct iovec *dst, unsigned max)
{
	unsigned i, k = 0;

	if (!len)
		return 0;
	if (!iov_seek(iov, n, &off, &i))
		return -EINVAL;
	for (; len && i < n; i++, off = 0) {
		size_t c = iov[i].iov_len - off;

		if (!c)
			continue;
		if (k == max)
			return -EINVAL;
		if (c > len)
			c = len;
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[k].iov_len = c;
		k++;
		len -= c;
	}
	return len ? -EINVAL : (int)k;
}

/* pos may start beyond len (fs9p_peek starts at 4 whatever in_len is):
 * then nothing is left, rather than len - pos wrapping around. */
static int get_bytes(struct p9_in *in, void *dst, size_t len)
{
	if (in->pos > in->len || len > in->len - in->pos)
		return -EINVAL;
	if (!iov_copy_out(in->iov, in->niov, in->pos, dst, len))
		return -EINVAL;
	in->pos += len;
	return 0;
}

int p9_get8(struct p9_in *in, uint8_t *v)
{
	return get_bytes(in, v, 1);
}

int p9_get16(struct p9_in *in, uint16_t *v)
{
	uint8_t b[2];
	int r = get_bytes(in, b, 2);

	if (!r)
		*v = get16(b);
	return r;
}

int p9_get32(struct p9_in *in, uint32_t *v)
{
	uint8_t b[4];
	int r = get_bytes(in, b, 4);

	if (!r)
		*v = get32(b);
	return r;
}

int p9_get64(struct p9_in *in, uint64_t *v)
{
	uint8_t b[8];
	int r = get_bytes(in, b, 8);

	if (!r)
		*v = get64(b);
	return r;
}

int p9_get_str(struct p9_in *in, char *buf, size_t cap)
{
	uint16_t len;
	int r = p9_get16(in, &len);

	if (r)
		return r;
	if (len > in->len - in->pos)
		return -EINVAL;
	if ((size_t)len + 1 > cap)
		return -ENAMETOOLONG;
	r = get_bytes(in, buf, len);
	if (r)
		return r;
	buf[len] = 0;
	return memchr(buf, 0, len) ? -EINVAL : 0;
}

int p9_skip_str(struct p9_in *in)
{
	uint16_t len;
	int r = p9_get16(in, &len);

	if (r)
		return r;
	if (len > in->len - in->pos)
		return -EINVAL;
	in->pos += len;
	return 0;
}

void p9_put_bytes(struct p9_out *o, const void *p, size_t len)
{
	if (o->overflow || len > o->cap - o->pos ||
	    !iov_copy_in(o->iov, o->niov, o->pos, p, len)) {
		o->overflow = true;
		return;
	}
	o->pos += len;
}

void p9_put8(struct p9_out *o, uint8_t v)
{
	p9_put_bytes(o, &v, 1);
}

void p9_put16(struct p9_out *o, uint16_t v)
{
	uint8_t b[2];

	put16(b, v);
	p9_put_bytes(o, b, 2);
}

void p9_put32(struct p9_out *o, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	p9_put_bytes(o, b, 4);
}

void p9_put64(struct p9_out *o, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	p9_put_bytes(o, b, 8);
}

void p9_put_str(struct p9_out *o, const char *s, size_t len)
{
	if (len > UINT16_MAX) {
		o->overflow = true;
		return;
	}
	p9_put16(o, (uint16_t)len);
	p9_put_bytes(o, s, len);
}

void p9_put_qid(struct p9_out *o, const struct p9_qid *q)
{
	p9_put8(o, q->type);
	p9_put32(o, q->version);
	p9_put64(o, q->path);
}
