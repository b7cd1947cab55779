/* The 9P2000.L field decoder and encoder (fs9p/wire.c) on arbitrary
 * bytes, split across iovecs at fuzzer-chosen points, decoded as the
 * T-message the first byte names, field by field as the handlers in
 * fs9p/ops_*.c read it, and checked against a reference decoder over the
 * same bytes held flat:
 *   - every getter's result, value and position equal the reference's,
 *     and the position never passes the message's length (its size
 *     field, clipped to in_len and to the iovecs as fs9p_handle does);
 *   - every string decoded lies inside the message (its bytes are the
 *     message's, at the reference's offset) and is NUL-terminated inside
 *     a buffer of exactly its capacity (ASan sees any overrun);
 *   - Twrite's data (iov_slice) is count bytes of the message, made of
 *     pieces of the request's own iovecs, in order;
 *   - every iovec is its own heap block of exactly its size, so a read
 *     beyond any of them is an ASan report;
 *   - a message decoded whole re-encodes (p9_put_*) into iovecs split
 *     elsewhere to exactly its own bytes; with less room the encoder
 *     flags an overflow and writes nothing past its capacity;
 *   - fs9p_peek agrees with the reference on type, tag and oldtag.
 *
 * Input: [type selector] [split control] [split sizes...] [out split]
 * [message bytes...]. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fs9p/fs9p.h"
#include "fs9p/proto.h"
#include "fs9p/wire.h"
#include "lib/bytes.h"

#define MAX_IOV 8
#define MAX_MSG 8192
#define MAX_FIELDS 24
#define MAX_SLICE 16
#define XATTR_NAME_CAP 256 /* XATTR_NAME_MAX + 1 */

enum kind {
	END,
	U8,
	U16,
	U32,
	U64,
	STR_NAME,   /* p9_get_str into NAME_MAX + 1 bytes */
	STR_PATH,   /* into PATH_MAX (Tsymlink's target) */
	STR_XATTR,  /* into XATTR_NAME_MAX + 1 */
	STR_CLIENT, /* into 256 (Tlock's client_id) */
	STR_VER,    /* into 32 (Tversion's version) */
	SKIP,	    /* p9_skip_str */
	WALK,	    /* nwname[2], then that many names (at most 16) */
	DATA,	    /* Twrite: count[4] then count bytes, after a check */
};

struct msg_schema {
	uint8_t type;
	uint8_t f[MAX_FIELDS];
};

/* As the handlers read each T-message (fs9p/ops_*.c). */
static const struct msg_schema schemas[] = {
	{ P9_TVERSION, { U32, STR_VER } },
	{ P9_TAUTH, { U32, SKIP, SKIP, U32 } },
	{ P9_TATTACH, { U32, U32, SKIP, SKIP, U32 } },
	{ P9_TFLUSH, { U16 } },
	{ P9_TWALK, { U32, U32, WALK } },
	{ P9_TLOPEN, { U32, U32 } },
	{ P9_TLCREATE, { U32, STR_NAME, U32, U32, U32 } },
	{ P9_TSYMLINK, { U32, STR_NAME, STR_PATH, U32 } },
	{ P9_TMKNOD, { U32, STR_NAME, U32, U32, U32, U32 } },
	{ P9_TRENAME, { U32, U32, STR_NAME } },
	{ P9_TREADLINK, { U32 } },
	{ P9_TGETATTR, { U32, U64 } },
	{ P9_TSETATTR, { U32, U32, U32, U32, U32, U64, U64, U64, U64, U64 } },
	{ P9_TXATTRWALK, { U32, U32, STR_XATTR } },
	{ P9_TXATTRCREATE, { U32, STR_XATTR, U64, U32 } },
	{ P9_TREADDIR, { U32, U64, U32 } },
	{ P9_TFSYNC, { U32, U32 } },
	{ P9_TLOCK, { U32, U8, U32, U64, U64, U32, STR_CLIENT } },
	{ P9_TGETLOCK, { U32, U8, U64, U64, U32, STR_CLIENT } },
	{ P9_TLINK, { U32, U32, STR_NAME } },
	{ P9_TMKDIR, { U32, STR_NAME, U32, U32 } },
	{ P9_TRENAMEAT, { U32, STR_NAME, U32, STR_NAME } },
	{ P9_TUNLINKAT, { U32, STR_NAME, U32 } },
	{ P9_TREAD, { U32, U64, U32 } },
	{ P9_TWRITE, { U32, U64, DATA } },
	{ P9_TCLUNK, { U32 } },
	{ P9_TREMOVE, { U32 } },
	{ P9_TSTATFS, { U32 } },
};
#define NSCHEMAS (sizeof(schemas) / sizeof(schemas[0]))

/* The reference decoder: the message flat, len its usable bytes. */
struct ref {
	const uint8_t *b;
	size_t len, pos;
};

static int ref_get(struct ref *r, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (r->len - r->pos < n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)r->b[r->pos + i] << (8 * i);
	r->pos += n;
	*v = x;
	return 0;
}

/* A string: 0 with its offset and length, or the error wire.h documents
 * (truncated or with a NUL inside: -EINVAL; longer than cap - 1:
 * -ENAMETOOLONG; a truncated one is -EINVAL whatever its length). */
static int ref_str(struct ref *r, size_t cap, size_t *off, size_t *len)
{
	uint64_t n;
	int e = ref_get(r, 2, &n);

	if (e)
		return e;
	if (n > r->len - r->pos)
		return -EINVAL;
	if (n + 1 > cap)
		return -ENAMETOOLONG;
	*off = r->pos;
	*len = n;
	r->pos += n;
	return memchr(r->b + *off, 0, n) ? -EINVAL : 0;
}

static int ref_skip(struct ref *r, size_t *off, size_t *len)
{
	uint64_t n;
	int e = ref_get(r, 2, &n);

	if (e)
		return e;
	if (n > r->len - r->pos)
		return -EINVAL;
	*off = r->pos;
	*len = n;
	r->pos += n;
	return 0;
}

/* One decoded field, for the re-encoding. */
struct field {
	enum kind kind;
	uint64_t v;	     /* integers; a string's or data's length */
	size_t off;	     /* strings and data: where in the message */
	bool is_len_of_walk; /* the nwname of a walk */
};

struct decoded {
	struct field f[MAX_FIELDS + P9_MAXWELEM + 2];
	unsigned n;
};

static void add_field(struct decoded *d, enum kind k, uint64_t v, size_t off)
{
	INVARIANT(d->n < sizeof(d->f) / sizeof(d->f[0]));
	d->f[d->n++] = (struct field){ k, v, off, false };
}

/* The pieces of the message as the transport would hand them over. */
struct pieces {
	struct iovec iov[MAX_IOV];
	unsigned n;
	size_t total;
};

/* True when [p, p + len) lies inside one of the iovecs. */
static bool inside_iov(const struct pieces *pc, const void *p, size_t len)
{
	const uint8_t *a = p;

	for (unsigned i = 0; i < pc->n; i++) {
		const uint8_t *b = pc->iov[i].iov_base;
		if (a >= b && len <= pc->iov[i].iov_len &&
		    (size_t)(a - b) <= pc->iov[i].iov_len - len)
			return true;
	}
	return false;
}

static size_t str_cap(enum kind k)
{
	switch (k) {
	case STR_NAME: return NAME_MAX + 1;
	case STR_PATH: return PATH_MAX;
	case STR_XATTR: return XATTR_NAME_CAP;
	case STR_CLIENT: return 256;
	case STR_VER: return 32;
	default: return 0;
	}
}

/* Decodes one string with both decoders and compares; 0 or the error. */
static int check_str(struct p9_in *in, struct ref *rf, size_t cap,
		     struct decoded *d, enum kind k)
{
	char *buf = malloc(cap);
	size_t off = 0, len = 0, pos0 = in->pos;
	int r, e;

	INVARIANT(buf);
	r = p9_get_str(in, buf, cap);
	e = ref_str(rf, cap, &off, &len);
	INVARIANT(r == e);
	INVARIANT(in->pos <= in->len);
	if (!r) {
		INVARIANT(in->pos == rf->pos);
		INVARIANT(in->pos == pos0 + 2 + len);
		INVARIANT(off + len <= rf->len);
		INVARIANT(strlen(buf) == len);
		INVARIANT(!memcmp(buf, rf->b + off, len));
		add_field(d, k, len, off);
	}
	free(buf);
	return r;
}

static int check_int(struct p9_in *in, struct ref *rf, enum kind k,
		     struct decoded *d)
{
	static const size_t width[] = {
		[U8] = 1, [U16] = 2, [U32] = 4, [U64] = 8
	};
	uint8_t v8 = 0;
	uint16_t v16 = 0;
	uint32_t v32 = 0;
	uint64_t v64 = 0, want = 0, got = 0;
	size_t pos0 = in->pos;
	int r, e;

	switch (k) {
	case U8: r = p9_get8(in, &v8), got = v8; break;
	case U16: r = p9_get16(in, &v16), got = v16; break;
	case U32: r = p9_get32(in, &v32), got = v32; break;
	default: r = p9_get64(in, &v64), got = v64; break;
	}
	e = ref_get(rf, width[k], &want);
	INVARIANT(r == e);
	INVARIANT(in->pos <= in->len);
	if (r) {
		INVARIANT(in->pos == pos0); /* a failed read consumes nothing */
		return r;
	}
	INVARIANT(got == want);
	INVARIANT(in->pos == rf->pos && in->pos == pos0 + width[k]);
	add_field(d, k, got, 0);
	return 0;
}

/* Twrite's data as op_write and write_file take it. */
static int check_data(struct p9_in *in, struct ref *rf, const struct pieces *pc,
		      struct decoded *d)
{
	struct iovec sl[MAX_SLICE];
	uint32_t count;
	uint64_t want;
	size_t at = 0;
	int r = p9_get32(in, &count), e = ref_get(rf, 4, &want), k;

	INVARIANT(r == e);
	if (r)
		return r;
	INVARIANT(count == want);
	if (count > in->len - in->pos)
		return -EINVAL; /* op_write's check */
	/* So the data lies inside the message and the reference. */
	INVARIANT(in->pos + count <= in->len && rf->pos + count <= rf->len);
	k = iov_slice(pc->iov, pc->n, in->pos, count, sl, MAX_SLICE);
	INVARIANT(k >= 0); /* MAX_SLICE > MAX_IOV: always enough */
	for (int i = 0; i < k; i++) {
		INVARIANT(sl[i].iov_len > 0);
		INVARIANT(inside_iov(pc, sl[i].iov_base, sl[i].iov_len));
		INVARIANT(!memcmp(sl[i].iov_base, rf->b + rf->pos + at,
				  sl[i].iov_len));
		at += sl[i].iov_len;
	}
	INVARIANT(at == count);
	add_field(d, DATA, count, rf->pos);
	in->pos += count;
	rf->pos += count;
	return 0;
}

static int check_walk(struct p9_in *in, struct ref *rf, struct decoded *d)
{
	int r = check_int(in, rf, U16, d);
	uint64_t n;

	if (r)
		return r;
	n = d->f[d->n - 1].v;
	d->f[d->n - 1].is_len_of_walk = true;
	if (n > P9_MAXWELEM)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if ((r = check_str(in, rf, NAME_MAX + 1, d, STR_NAME)))
			return r;
	return 0;
}

static int check_skip(struct p9_in *in, struct ref *rf, struct decoded *d)
{
	size_t off = 0, len = 0;
	int r = p9_skip_str(in), e = ref_skip(rf, &off, &len);

	INVARIANT(r == e);
	INVARIANT(in->pos <= in->len);
	if (r)
		return r;
	INVARIANT(in->pos == rf->pos && off + len <= rf->len);
	add_field(d, SKIP, len, off);
	return 0;
}

/* The body as schema s; 0 when every field decoded. */
static int decode_body(const struct msg_schema *s, struct p9_in *in,
		       struct ref *rf, const struct pieces *pc,
		       struct decoded *d)
{
	for (unsigned i = 0; i < MAX_FIELDS && s->f[i] != END; i++) {
		enum kind k = s->f[i];
		int r;

		switch (k) {
		case U8:
		case U16:
		case U32:
		case U64: r = check_int(in, rf, k, d); break;
		case SKIP: r = check_skip(in, rf, d); break;
		case WALK: r = check_walk(in, rf, d); break;
		case DATA: r = check_data(in, rf, pc, d); break;
		default: r = check_str(in, rf, str_cap(k), d, k); break;
		}
		INVARIANT(in->pos <= in->len && in->len <= pc->total);
		if (r)
			return r;
	}
	return 0;
}

/* Splits buf[0..len) into n heap blocks of sizes chosen by ctl. */
static void split(struct pieces *pc, const uint8_t *buf, size_t len, unsigned n,
		  const uint8_t *ctl)
{
	size_t at = 0;

	pc->n = n;
	pc->total = len;
	for (unsigned i = 0; i < n; i++) {
		size_t left = len - at, take;
		if (i + 1 == n)
			take = left;
		else if (ctl[i] < 16)
			take = ctl[i] < left ? ctl[i] : left; /* small ones */
		else
			take = left * ctl[i] / 512; /* up to half of the rest */
		pc->iov[i].iov_base = malloc(take ? take : 1);
		INVARIANT(pc->iov[i].iov_base);
		if (take)
			memcpy(pc->iov[i].iov_base, buf + at, take);
		pc->iov[i].iov_len = take;
		at += take;
	}
}

static void free_pieces(struct pieces *pc)
{
	for (unsigned i = 0; i < pc->n; i++)
		free(pc->iov[i].iov_base);
}

/* Writes the decoded header and fields with the encoder. */
static void encode(struct p9_out *o, const uint8_t *msg, uint32_t size,
		   uint8_t type, uint16_t tag, const struct decoded *d)
{
	p9_put32(o, size);
	p9_put8(o, type);
	p9_put16(o, tag);
	for (unsigned i = 0; i < d->n; i++) {
		const struct field *f = &d->f[i];
		switch (f->kind) {
		case U8: p9_put8(o, (uint8_t)f->v); break;
		case U16: p9_put16(o, (uint16_t)f->v); break;
		case U32: p9_put32(o, (uint32_t)f->v); break;
		case U64: p9_put64(o, f->v); break;
		case DATA:
			p9_put32(o, (uint32_t)f->v);
			p9_put_bytes(o, msg + f->off, f->v);
			break;
		default: p9_put_str(o, (const char *)msg + f->off, f->v); break;
		}
	}
}

#define GUARD 0xe7

/* Re-encodes into out iovecs split by ctl, with room for exactly end
 * bytes and then with less: the bytes come back, or an overflow. */
static void round_trip(const uint8_t *msg, size_t end, uint32_t size,
		       uint8_t type, uint16_t tag, const struct decoded *d,
		       uint8_t ctl)
{
	static uint8_t flat[MAX_MSG + 64];
	uint8_t sizes[MAX_IOV];
	struct pieces pc;
	struct p9_out o;
	unsigned n = 1 + (ctl & 7);
	size_t cut = ctl >> 3, at = 0;

	for (unsigned i = 0; i < MAX_IOV; i++)
		sizes[i] = (uint8_t)(ctl * (i + 7) + i);
	memset(flat, GUARD, end + 16);
	split(&pc, flat, end + 16, n, sizes);
	o = (struct p9_out){ pc.iov, pc.n, end, 0, false };
	encode(&o, msg, size, type, tag, d);
	INVARIANT(!o.overflow && o.pos == end);
	for (unsigned i = 0; i < pc.n; i++) {
		memcpy(flat + at, pc.iov[i].iov_base, pc.iov[i].iov_len);
		at += pc.iov[i].iov_len;
	}
	INVARIANT(!memcmp(flat, msg, end));
	for (size_t i = end; i < end + 16; i++)
		INVARIANT(flat[i] == GUARD);
	free_pieces(&pc);

	/* Room for fewer bytes: an overflow, nothing written past cap. */
	if (cut > end)
		cut = end;
	if (!cut)
		return;
	memset(flat, GUARD, end + 16);
	split(&pc, flat, end + 16, n, sizes);
	o = (struct p9_out){ pc.iov, pc.n, end - cut, 0, false };
	encode(&o, msg, size, type, tag, d);
	INVARIANT(o.overflow && o.pos <= end - cut);
	at = 0;
	for (unsigned i = 0; i < pc.n; i++) {
		for (size_t j = 0; j < pc.iov[i].iov_len; j++)
			if (at + j >= end - cut)
				INVARIANT(((uint8_t *)pc.iov[i].iov_base)[j] ==
					  GUARD);
		at += pc.iov[i].iov_len;
	}
	free_pieces(&pc);
}

/* fs9p_peek against the flat header. */
static void check_peek(const struct pieces *pc, size_t in_len,
		       const uint8_t *msg)
{
	struct fs9p_msg m = { pc->iov, pc->n, in_len, NULL, 0, 0 };
	size_t usable = in_len < pc->total ? in_len : pc->total;
	uint16_t tag = 0, old = 0x5a5a;
	uint8_t type = 0;
	int r = fs9p_peek(&m, &type, &tag, &old);

	if (usable < FS9P_HDR_SIZE ||
	    (usable >= 5 && msg[4] == FS9P_TFLUSH && usable < 9)) {
		INVARIANT(r == -EINVAL);
		return;
	}
	INVARIANT(r == 0);
	INVARIANT(type == msg[4] && tag == get16(msg + 5));
	INVARIANT(old == (type == FS9P_TFLUSH ? get16(msg + 7) : 0x5a5a));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct msg_schema *s;
	struct pieces pc;
	struct p9_in in;
	struct ref rf;
	struct decoded d = { .n = 0 };
	const uint8_t *msg, *ctl;
	size_t len, in_len, hdr;
	unsigned nin;
	uint32_t msize = 0;
	uint8_t mtype = 0, outctl, mode;
	uint16_t tag = 0;
	int r;

	if (size < 3)
		return 0;
	s = &schemas[data[0] % NSCHEMAS];
	nin = 1 + (data[1] & 7);
	mode = (data[1] >> 3) & 3;
	hdr = 2 + nin + 1;
	if (size < hdr)
		return 0;
	ctl = data + 2;
	outctl = data[2 + nin];
	msg = data + hdr;
	len = size - hdr;
	if (len > MAX_MSG)
		return 0;
	split(&pc, msg, len, nin, ctl);
	/* in_len as a transport might give it: exact, short, or longer than
	 * the buffers hold (fs9p_handle clips it to them). */
	switch (mode) {
	case 0: in_len = len; break;
	case 1: in_len = len - (len ? (data[0] >> 5) % (len + 1) : 0); break;
	case 2: in_len = len + (data[0] >> 5) + 1; break;
	default: in_len = (size_t)data[0] * 17 % (MAX_MSG + 1); break;
	}
	check_peek(&pc, in_len, msg);

	/* The header, as check_header reads it. */
	in = (struct p9_in){ pc.iov, pc.n, in_len, 0 };
	if (iov_total(pc.iov, pc.n) < in_len)
		in.len = iov_total(pc.iov, pc.n);
	INVARIANT(in.len <= len);
	rf = (struct ref){ msg, in.len, 0 };
	r = p9_get32(&in, &msize);
	if (!r)
		r = p9_get8(&in, &mtype);
	if (!r)
		r = p9_get16(&in, &tag);
	if (r || msize < FS9P_HDR_SIZE || msize > in.len) {
		INVARIANT(r ? in.len < FS9P_HDR_SIZE : true);
		goto out;
	}
	INVARIANT(msize == get32(msg) && mtype == msg[4] &&
		  tag == get16(msg + 5));
	in.len = msize; /* the size field bounds every read from here */
	rf.len = msize;
	rf.pos = in.pos;

	r = decode_body(s, &in, &rf, &pc, &d);
	INVARIANT(in.pos <= msize && msize <= len);
	if (!r)
		round_trip(msg, in.pos, msize, mtype, tag, &d, outctl);
out:
	free_pieces(&pc);
	return 0;
}
