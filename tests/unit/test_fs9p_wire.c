/* fs9p wire decoding: iovec helpers, and every message type truncated at
 * every length, with lying size fields, oversized messages and bad
 * strings, through fs9p_handle: always an Rlerror, never a crash. */
#include <fcntl.h>

#include "fs9p/wire.h"
#include "fs9p_client.h"

Test(fs9p_wire, iov_slice_and_copy_across_buffers)
{
	uint8_t a[3] = { 1, 2, 3 }, b[1] = { 4 }, c[4] = { 5, 6, 7, 8 };
	struct iovec iov[3] = { { a, 3 }, { b, 1 }, { c, 4 } }, out[3];
	uint8_t buf[8];

	cr_assert_eq(iov_slice(iov, 3, 2, 3, out, 3), 3);
	cr_assert_eq(out[0].iov_base, a + 2);
	cr_assert_eq(out[0].iov_len, 1);
	cr_assert_eq(out[2].iov_base, c);
	cr_assert_eq(out[2].iov_len, 1);
	cr_assert_eq(iov_slice(iov, 3, 2, 3, out, 2), -EINVAL, "max");
	cr_assert_eq(iov_slice(iov, 3, 5, 4, out, 3), -EINVAL, "too short");
	cr_assert_eq(iov_slice(iov, 3, 8, 0, out, 3), 0);
	cr_assert(iov_copy_out(iov, 3, 1, buf, 7));
	cr_assert_eq(memcmp(buf, (uint8_t[]){ 2, 3, 4, 5, 6, 7, 8 }, 7), 0);
	cr_assert(!iov_copy_out(iov, 3, 1, buf, 8));
}

Test(fs9p_wire, strings_checked)
{
	uint8_t m[] = { 3, 0, 'a', 0, 'b', 2, 0, 'x', 'y', 9, 0, 'z' };
	struct iovec iov = { m, sizeof(m) };
	struct p9_in in = { &iov, 1, sizeof(m), 0 };
	char buf[8];

	cr_assert_eq(p9_get_str(&in, buf, sizeof(buf)), -EINVAL, "NUL inside");
	in.pos = 5;
	cr_assert_eq(p9_get_str(&in, buf, 2), -ENAMETOOLONG);
	in.pos = 5;
	cr_assert_eq(p9_get_str(&in, buf, 3), 0);
	cr_assert_str_eq(buf, "xy");
	cr_assert_eq(p9_get_str(&in, buf, sizeof(buf)), -EINVAL, "past end");
}

/* fuzz_9p_wire found it: fs9p_peek starts reading at offset 4, and with an
 * in_len below 4 the reader's "bytes left" (len - pos) wrapped, so the
 * type and tag came from beyond the message (still inside the buffers). */
Test(fs9p_wire, peek_never_reads_past_in_len)
{
	uint8_t m[] = { 9, 0, 0, 0, P9_TFLUSH, 1, 0, 5, 0 };
	struct iovec iov = { m, sizeof(m) };
	uint8_t type = 0;
	uint16_t tag = 0, old = 0;

	for (size_t len = 0; len < 9; len++) {
		struct fs9p_msg msg = { &iov, 1, len, NULL, 0, 0 };
		cr_assert_eq(fs9p_peek(&msg, &type, &tag, &old), -EINVAL,
			     "in_len %zu", len);
	}
	struct fs9p_msg whole = { &iov, 1, sizeof(m), NULL, 0, 0 };
	cr_assert_eq(fs9p_peek(&whole, &type, &tag, &old), 0);
	cr_assert_eq(type, P9_TFLUSH);
	cr_assert_eq(tag, 1);
	cr_assert_eq(old, 5);
}

Test(fs9p_wire, reader_past_its_length_reads_nothing)
{
	uint8_t m[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, v8;
	struct iovec iov = { m, sizeof(m) };
	struct p9_in in = { &iov, 1, 2, 4 };

	cr_assert_eq(p9_get8(&in, &v8), -EINVAL);
	cr_assert_eq(p9_skip_str(&in), -EINVAL);
	cr_assert_eq(in.pos, 4);
}

/* A plausible body for each type (fid 0 is the attached root). */
static void build(struct tc *c, uint8_t type)
{
	tb_begin(c, type);
	switch (type) {
	case P9_TVERSION:
		tb_u32(c, 8192);
		tb_str(c, "9P2000.L");
		break;
	case P9_TAUTH:
	case P9_TATTACH:
		tb_u32(c, 5);
		tb_u32(c, P9_NOFID);
		tb_str(c, "u");
		tb_str(c, "a");
		tb_u32(c, 0);
		break;
	case P9_TFLUSH: tb_u16(c, 3); break;
	case P9_TWALK:
		tb_u32(c, 0);
		tb_u32(c, 6);
		tb_u16(c, 2);
		tb_str(c, "d");
		tb_str(c, "f");
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		tb_u32(c, 1);
		tb_u64(c, 0);
		tb_u32(c, 10);
		break;
	case P9_TWRITE:
		tb_u32(c, 1);
		tb_u64(c, 0);
		tb_u32(c, 2);
		tb_raw(c, "ab", 2);
		break;
	case P9_TLOPEN:
		tb_u32(c, 1);
		tb_u32(c, O_RDONLY);
		break;
	case P9_TLCREATE:
		tb_u32(c, 2);
		tb_str(c, "n");
		tb_u32(c, 2);
		tb_u32(c, 0644);
		tb_u32(c, 0);
		break;
	case P9_TSYMLINK:
		tb_u32(c, 0);
		tb_str(c, "s");
		tb_str(c, "t");
		tb_u32(c, 0);
		break;
	case P9_TMKNOD:
		tb_u32(c, 0);
		tb_str(c, "m");
		tb_u32(c, S_IFIFO | 0644);
		tb_u32(c, 0);
		tb_u32(c, 0);
		tb_u32(c, 0);
		break;
	case P9_TRENAME:
		tb_u32(c, 1);
		tb_u32(c, 0);
		tb_str(c, "r");
		break;
	case P9_TRENAMEAT:
		tb_u32(c, 0);
		tb_str(c, "x");
		tb_u32(c, 0);
		tb_str(c, "y");
		break;
	case P9_TUNLINKAT:
		tb_u32(c, 0);
		tb_str(c, "x");
		tb_u32(c, 0);
		break;
	case P9_TMKDIR:
		tb_u32(c, 0);
		tb_str(c, "k");
		tb_u32(c, 0755);
		tb_u32(c, 0);
		break;
	case P9_TLINK:
		tb_u32(c, 0);
		tb_u32(c, 1);
		tb_str(c, "h");
		break;
	case P9_TGETATTR:
		tb_u32(c, 0);
		tb_u64(c, 0x7ff);
		break;
	case P9_TSETATTR:
		tb_u32(c, 1);
		tb_u32(c, 0);
		tb_u32(c, 0);
		tb_u32(c, 0);
		tb_u32(c, 0);
		for (int i = 0; i < 5; i++)
			tb_u64(c, 0);
		break;
	case P9_TXATTRWALK:
		tb_u32(c, 0);
		tb_u32(c, 7);
		tb_str(c, "");
		break;
	case P9_TXATTRCREATE:
		tb_u32(c, 1);
		tb_str(c, "user.x");
		tb_u64(c, 1);
		tb_u32(c, 0);
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		tb_u32(c, 1);
		tb_u8(c, 0);
		if (type == P9_TLOCK)
			tb_u32(c, 0);
		tb_u64(c, 0);
		tb_u64(c, 0);
		tb_u32(c, 1);
		tb_str(c, "c");
		break;
	case P9_TFSYNC:
		tb_u32(c, 1);
		tb_u32(c, 0);
		break;
	default: tb_u32(c, 0); break; /* statfs, readlink, clunk, remove */
	}
}

static const uint8_t types[] = {
	P9_TSTATFS,  P9_TLOPEN,	    P9_TLCREATE,     P9_TSYMLINK,
	P9_TMKNOD,   P9_TRENAME,    P9_TREADLINK,    P9_TGETATTR,
	P9_TSETATTR, P9_TXATTRWALK, P9_TXATTRCREATE, P9_TREADDIR,
	P9_TFSYNC,   P9_TLOCK,	    P9_TGETLOCK,     P9_TLINK,
	P9_TMKDIR,   P9_TRENAMEAT,  P9_TUNLINKAT,    P9_TVERSION,
	P9_TAUTH,    P9_TATTACH,    P9_TFLUSH,	     P9_TWALK,
	P9_TREAD,    P9_TWRITE,	    P9_TCLUNK,	     P9_TREMOVE,
};

/* Sends len bytes with a size field of size; the reply must be an Rlerror
 * of err (0: any error). */
static void expect_lerror(struct tc *c, size_t len, uint32_t size, int err)
{
	struct iovec in = { c->msg, len }, out = { c->out, c->out_len };
	struct fs9p_msg m = { &in, 1, len, &out, 1, c->out_len };
	size_t n;

	if (len >= 4)
		put32(c->msg, size);
	n = fs9p_handle(c->s, &m);
	cr_assert_eq(n, 11, "type %u len %zu", c->type, len);
	cr_assert_eq(c->out[4], P9_RLERROR, "type %u len %zu", c->type, len);
	if (err)
		cr_assert_eq(get32(c->out + 7), (uint32_t)err,
			     "type %u len %zu", c->type, len);
}

Test(fs9p_wire, every_type_truncated_at_every_length)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);

	for (unsigned t = 0; t < sizeof(types); t++) {
		size_t full;

		build(c, types[t]);
		full = c->len;
		c->msg[4] = c->type;
		put16(c->msg + 5, 0x1234);
		for (size_t len = 0; len < full; len++)
			expect_lerror(c, len, (uint32_t)len, EINVAL);
		/* the size field lying: longer than what was sent */
		expect_lerror(c, full - 1, (uint32_t)full, EINVAL);
		expect_lerror(c, full, 3, EINVAL);
	}
	tc_close(c);
}

Test(fs9p_wire, unknown_types_and_oversize)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);

	for (unsigned t = 0; t < 256; t++) {
		bool known = false;

		for (unsigned k = 0; k < sizeof(types); k++)
			known |= types[k] == t;
		if (known)
			continue;
		tb_begin(c, (uint8_t)t);
		tb_u32(c, 0);
		c->msg[4] = (uint8_t)t;
		expect_lerror(c, c->len, (uint32_t)c->len, EOPNOTSUPP);
	}
	/* bigger than msize */
	tb_begin(c, P9_TWRITE);
	tb_u32(c, 1);
	tb_u64(c, 0);
	tb_u32(c, TC_MSIZE);
	c->len += TC_MSIZE;
	c->msg[4] = P9_TWRITE;
	expect_lerror(c, c->len, (uint32_t)c->len, EMSGSIZE);
	/* Twrite count larger than the message */
	tb_begin(c, P9_TWRITE);
	tb_u32(c, 0);
	tb_u64(c, 0);
	tb_u32(c, 100);
	tb_raw(c, "abc", 3);
	c->msg[4] = P9_TWRITE;
	expect_lerror(c, c->len, (uint32_t)c->len, EINVAL);
	/* a reply buffer too small for even Rlerror: dropped */
	c->out_len = 10;
	build(c, P9_TGETATTR);
	cr_assert_eq(tc_send(c), 0);
	tc_close(c);
}

Test(fs9p_wire, names_with_nul_or_slash)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);

	tb_begin(c, P9_TWALK);
	tb_u32(c, 0);
	tb_u32(c, 1);
	tb_u16(c, 1);
	tb_strn(c, "a\0b", 3);
	cr_assert_eq(tc_call(c), -EINVAL);
	tb_begin(c, P9_TMKDIR);
	tb_u32(c, 0);
	tb_strn(c, "x\0", 2);
	tb_u32(c, 0755);
	tb_u32(c, 0);
	cr_assert_eq(tc_call(c), -EINVAL);
	const char *many[17];
	for (int i = 0; i < 17; i++)
		many[i] = ".";
	cr_assert_eq(tc_walkv(c, 0, 1, 17, many, NULL), -EINVAL, "nwname > 16");
	char longname[300];
	memset(longname, 'a', 299);
	longname[299] = 0;
	cr_assert_eq(tc_mkdir(c, 0, longname, 0755, 0, NULL), -ENAMETOOLONG);
	tc_close(c);
}

Test(fs9p_wire, scattered_buffers)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	struct iovec in[64], out[64];
	uint8_t rep[4096];
	size_t n;

	cr_assert_eq(tc_walk1(c, 0, 1, NULL, NULL), 0);
	cr_assert_eq(tc_lcreate(c, 1, "f", O_RDWR, 0644, 0, NULL), 0);
	/* Twrite split one byte per iovec */
	tb_begin(c, P9_TWRITE);
	tb_u32(c, 1);
	tb_u64(c, 0);
	tb_u32(c, 30);
	tb_raw(c, "abcdefghijklmnopqrstuvwxyz0123", 30);
	put32(c->msg, (uint32_t)c->len);
	c->msg[4] = P9_TWRITE;
	put16(c->msg + 5, 1);
	for (size_t i = 0; i < c->len; i++)
		in[i] = (struct iovec){ c->msg + i, 1 };
	out[0] = (struct iovec){ rep, sizeof(rep) };
	struct fs9p_msg m = { in, (unsigned)c->len, c->len, out, 1, 4096 };
	n = fs9p_handle(c->s, &m);
	cr_assert_eq(n, 11);
	cr_assert_eq(rep[4], P9_TWRITE + 1);
	cr_assert_eq(get32(rep + 7), 30);
	/* Tread into a reply split in 3-byte pieces */
	tb_begin(c, P9_TREAD);
	tb_u32(c, 1);
	tb_u64(c, 0);
	tb_u32(c, 30);
	put32(c->msg, (uint32_t)c->len);
	c->msg[4] = P9_TREAD;
	struct iovec in1 = { c->msg, c->len };
	for (int i = 0; i < 20; i++)
		out[i] = (struct iovec){ rep + i * 3, 3 };
	struct fs9p_msg m2 = { &in1, 1, c->len, out, 20, 60 };
	n = fs9p_handle(c->s, &m2);
	cr_assert_eq(n, 41);
	cr_assert_eq(get32(rep + 7), 30);
	cr_assert_eq(memcmp(rep + 11, "abcdefghijklmnopqrstuvwxyz0123", 30), 0);
	/* out smaller than asked: capped, never longer than the space */
	m2.out_len = 20;
	n = fs9p_handle(c->s, &m2);
	cr_assert_eq(n, 20);
	cr_assert_eq(get32(rep + 7), 9);
	tc_close(c);
}
