/* The client side of 9P2000.L for the transport tests: T-messages built
 * byte by byte (little endian, as on the wire) and R-message fields read
 * back, independent of the server core's own encoder. */
#ifndef TESTS_UNIT_P9_CLIENT_H
#define TESTS_UNIT_P9_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define P9_NOTAG 0xffff
#define P9_NOFID 0xffffffffu
#define P9_RLERROR 7
#define P9_TLOPEN 12
#define P9_TLCREATE 14
#define P9_TVERSION 100
#define P9_TATTACH 104
#define P9_TFLUSH 108
#define P9_TWALK 110
#define P9_TREAD 116
#define P9_TWRITE 118
#define P9_TCLUNK 120

struct p9b {
	uint8_t buf[70000];
	size_t len;
};

static inline void p9_u8(struct p9b *b, uint8_t v)
{
	b->buf[b->len++] = v;
}

static inline void p9_u16(struct p9b *b, uint16_t v)
{
	p9_u8(b, (uint8_t)v);
	p9_u8(b, (uint8_t)(v >> 8));
}

static inline void p9_u32(struct p9b *b, uint32_t v)
{
	p9_u16(b, (uint16_t)v);
	p9_u16(b, (uint16_t)(v >> 16));
}

static inline void p9_u64(struct p9b *b, uint64_t v)
{
	p9_u32(b, (uint32_t)v);
	p9_u32(b, (uint32_t)(v >> 32));
}

static inline void p9_str(struct p9b *b, const char *s)
{
	p9_u16(b, (uint16_t)strlen(s));
	memcpy(b->buf + b->len, s, strlen(s));
	b->len += strlen(s);
}

static inline void p9_data(struct p9b *b, const void *d, size_t n)
{
	memcpy(b->buf + b->len, d, n);
	b->len += n;
}

static inline void p9_begin(struct p9b *b, uint8_t type, uint16_t tag)
{
	b->len = 0;
	p9_u32(b, 0);
	p9_u8(b, type);
	p9_u16(b, tag);
}

/* Fills in the size field; the message's length. */
static inline size_t p9_end(struct p9b *b)
{
	size_t n = b->len;

	b->len = 0;
	p9_u32(b, (uint32_t)n);
	b->len = n;
	return n;
}

static inline uint16_t p9_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t p9_get32(const uint8_t *p)
{
	return p9_get16(p) | (uint32_t)p9_get16(p + 2) << 16;
}

static inline size_t p9_tversion(struct p9b *b, uint32_t msize)
{
	p9_begin(b, P9_TVERSION, P9_NOTAG);
	p9_u32(b, msize);
	p9_str(b, "9P2000.L");
	return p9_end(b);
}

static inline size_t p9_tattach(struct p9b *b, uint16_t tag, uint32_t fid)
{
	p9_begin(b, P9_TATTACH, tag);
	p9_u32(b, fid);
	p9_u32(b, P9_NOFID);
	p9_str(b, "root");
	p9_str(b, "");
	p9_u32(b, 0);
	return p9_end(b);
}

/* Twalk of one name, or none (a clone) with name NULL. */
static inline size_t p9_twalk(struct p9b *b, uint16_t tag, uint32_t fid,
			      uint32_t newfid, const char *name)
{
	p9_begin(b, P9_TWALK, tag);
	p9_u32(b, fid);
	p9_u32(b, newfid);
	p9_u16(b, name ? 1 : 0);
	if (name)
		p9_str(b, name);
	return p9_end(b);
}

static inline size_t p9_tlcreate(struct p9b *b, uint16_t tag, uint32_t fid,
				 const char *name, uint32_t flags,
				 uint32_t mode)
{
	p9_begin(b, P9_TLCREATE, tag);
	p9_u32(b, fid);
	p9_str(b, name);
	p9_u32(b, flags);
	p9_u32(b, mode);
	p9_u32(b, 0);
	return p9_end(b);
}

static inline size_t p9_tlopen(struct p9b *b, uint16_t tag, uint32_t fid,
			       uint32_t flags)
{
	p9_begin(b, P9_TLOPEN, tag);
	p9_u32(b, fid);
	p9_u32(b, flags);
	return p9_end(b);
}

static inline size_t p9_twrite(struct p9b *b, uint16_t tag, uint32_t fid,
			       uint64_t off, const void *d, uint32_t n)
{
	p9_begin(b, P9_TWRITE, tag);
	p9_u32(b, fid);
	p9_u64(b, off);
	p9_u32(b, n);
	p9_data(b, d, n);
	return p9_end(b);
}

static inline size_t p9_tread(struct p9b *b, uint16_t tag, uint32_t fid,
			      uint64_t off, uint32_t n)
{
	p9_begin(b, P9_TREAD, tag);
	p9_u32(b, fid);
	p9_u64(b, off);
	p9_u32(b, n);
	return p9_end(b);
}

static inline size_t p9_tclunk(struct p9b *b, uint16_t tag, uint32_t fid)
{
	p9_begin(b, P9_TCLUNK, tag);
	p9_u32(b, fid);
	return p9_end(b);
}

static inline size_t p9_tflush(struct p9b *b, uint16_t tag, uint16_t oldtag)
{
	p9_begin(b, P9_TFLUSH, tag);
	p9_u16(b, oldtag);
	return p9_end(b);
}

#endif
