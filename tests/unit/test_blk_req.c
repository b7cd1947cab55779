#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <string.h>

#include "devices/virtio/blk_req.h"

static const struct vblk_limits lim = {
	.capacity = 2048, /* 1 MiB */
	.discard = true,
	.write_zeroes = true,
	.max_discard_sectors = 1024,
	.max_write_zeroes_sectors = 1024,
};

/* A chain built from host buffers: out segments, then in segments. */
struct fake {
	struct vq_chain c;
	uint8_t hdr[16 + 16];
	uint8_t data[4096];
	uint8_t status[4];
};

static void hdr(struct fake *f, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	memcpy(f->hdr, &h, sizeof(h));
}

static void out(struct fake *f, void *p, size_t len)
{
	f->c.iov[f->c.n_out++] = (struct iovec){ p, len };
	f->c.out_bytes += len;
}

static void in(struct fake *f, void *p, size_t len)
{
	f->c.iov[f->c.n_out + f->c.n_in++] = (struct iovec){ p, len };
	f->c.in_bytes += len;
}

static struct fake *read_req(uint64_t sector, size_t len)
{
	static struct fake f;
	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_IN, sector);
	out(&f, f.hdr, 16);
	in(&f, f.data, len);
	in(&f, f.status, 1);
	return &f;
}

static struct fake *write_req(uint64_t sector, size_t len)
{
	static struct fake f;
	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_OUT, sector);
	out(&f, f.hdr, 16);
	out(&f, f.data, len);
	in(&f, f.status, 1);
	return &f;
}

static struct fake *range_req(uint32_t type, uint64_t sector, uint32_t n,
			      uint32_t flags)
{
	static struct fake f;
	struct virtio_blk_discard_write_zeroes seg = { sector, n, flags };
	memset(&f, 0, sizeof(f));
	hdr(&f, type, 0);
	memcpy(f.hdr + 16, &seg, sizeof(seg));
	out(&f, f.hdr, 32);
	in(&f, f.status, 1);
	return &f;
}

static struct vblk_request r;

Test(blk_req, read_and_write)
{
	struct fake *f = read_req(8, 4096);
	cr_assert_eq(vblk_parse(&f->c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.type, VIRTIO_BLK_T_IN);
	cr_assert_eq(r.offset, 4096);
	cr_assert_eq(r.len, 4096);
	cr_assert_eq(r.iovcnt, 1);
	cr_assert_eq(r.iov[0].iov_base, f->data);
	cr_assert_eq(r.status, f->status);

	f = write_req(2040, 4096); /* the last 8 sectors */
	cr_assert_eq(vblk_parse(&f->c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.offset, 2040 * 512);
	cr_assert_eq(r.iov[0].iov_base, f->data);
}

Test(blk_req, header_and_data_sharing_descriptors)
{
	static struct fake f;
	uint8_t buf[16 + 1024], inbuf[513];

	/* Header and data in one readable buffer; data and status in one
	 * writable buffer. */
	memset(&f, 0, sizeof(f));
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 1 };
	memcpy(buf, &h, 16);
	out(&f, buf, sizeof(buf));
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.iov[0].iov_base, buf + 16);
	cr_assert_eq(r.iov[0].iov_len, 1024);

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_IN, 1);
	out(&f, f.hdr, 16);
	in(&f, inbuf, sizeof(inbuf));
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.len, 512);
	cr_assert_eq(r.status, inbuf + 512);
	cr_assert_eq(r.iov[0].iov_len, 512);
}

Test(blk_req, flush_get_id_discard_write_zeroes)
{
	static struct fake f;
	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_FLUSH, 0);
	out(&f, f.hdr, 16);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_OK);

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_GET_ID, 0);
	out(&f, f.hdr, 16);
	in(&f, f.data, 64);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.len, VBLK_ID_BYTES);

	struct fake *d = range_req(VIRTIO_BLK_T_DISCARD, 100, 8, 0);
	cr_assert_eq(vblk_parse(&d->c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.offset, 100 * 512);
	cr_assert_eq(r.len, 8 * 512);
	d = range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1024,
		      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	cr_assert_eq(vblk_parse(&d->c, &lim, &r), VIRTIO_BLK_S_OK);
	cr_assert(r.unmap);
}

enum shape { READ, WRITE, RANGE };

Test(blk_req, malformed_requests_fail_with_a_status)
{
	struct vblk_limits ro = lim, plain = lim;
	ro.readonly = true;
	plain.discard = plain.write_zeroes = false;
	const struct {
		const char *what;
		enum shape shape;
		uint32_t type;
		uint64_t sector;
		uint32_t n; /* bytes for READ/WRITE, sectors for RANGE */
		uint32_t flags;
		const struct vblk_limits *l;
		int want;
	} bad[] = {
		{ "read past the end", READ, 0, 2041, 4096, 0, &lim,
		  VIRTIO_BLK_S_IOERR },
		{ "read sector overflow", READ, 0, UINT64_MAX / 512, 512, 0,
		  &lim, VIRTIO_BLK_S_IOERR },
		{ "read sector * 512 wraps", READ, 0, UINT64_MAX, 512, 0, &lim,
		  VIRTIO_BLK_S_IOERR },
		{ "read not whole sectors", READ, 0, 0, 100, 0, &lim,
		  VIRTIO_BLK_S_IOERR },
		{ "write past the end", WRITE, 0, 2047, 1024, 0, &lim,
		  VIRTIO_BLK_S_IOERR },
		{ "write not whole sectors", WRITE, 0, 0, 700, 0, &lim,
		  VIRTIO_BLK_S_IOERR },
		{ "write to read-only", WRITE, 0, 0, 512, 0, &ro,
		  VIRTIO_BLK_S_IOERR },
		{ "discard unsupported", RANGE, VIRTIO_BLK_T_DISCARD, 0, 8, 0,
		  &plain, VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes unsupported", RANGE, VIRTIO_BLK_T_WRITE_ZEROES,
		  0, 8, 0, &plain, VIRTIO_BLK_S_UNSUPP },
		{ "discard with flags", RANGE, VIRTIO_BLK_T_DISCARD, 0, 8, 1,
		  &lim, VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes unknown flag", RANGE, VIRTIO_BLK_T_WRITE_ZEROES,
		  0, 8, 2, &lim, VIRTIO_BLK_S_UNSUPP },
		{ "discard too long", RANGE, VIRTIO_BLK_T_DISCARD, 0, 1025, 0,
		  &lim, VIRTIO_BLK_S_IOERR },
		{ "discard empty", RANGE, VIRTIO_BLK_T_DISCARD, 0, 0, 0, &lim,
		  VIRTIO_BLK_S_IOERR },
		{ "discard past the end", RANGE, VIRTIO_BLK_T_DISCARD, 2040, 16,
		  0, &lim, VIRTIO_BLK_S_IOERR },
		{ "discard sector wraps", RANGE, VIRTIO_BLK_T_DISCARD,
		  UINT64_MAX - 1, 8, 0, &lim, VIRTIO_BLK_S_IOERR },
		{ "write zeroes on read-only", RANGE, VIRTIO_BLK_T_WRITE_ZEROES,
		  0, 8, 0, &ro, VIRTIO_BLK_S_IOERR },
		{ "unknown type", RANGE, 77, 0, 8, 0, &lim,
		  VIRTIO_BLK_S_UNSUPP },
		{ "legacy SCSI command", RANGE, VIRTIO_BLK_T_SCSI_CMD, 0, 8, 0,
		  &lim, VIRTIO_BLK_S_UNSUPP },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake *f = bad[i].shape == READ
					 ? read_req(bad[i].sector, bad[i].n)
				 : bad[i].shape == WRITE
					 ? write_req(bad[i].sector, bad[i].n)
					 : range_req(bad[i].type, bad[i].sector,
						     bad[i].n, bad[i].flags);
		cr_assert_eq(vblk_parse(&f->c, bad[i].l, &r), bad[i].want, "%s",
			     bad[i].what);
		cr_assert_eq(r.status, f->status, "%s: status byte",
			     bad[i].what);
	}
}

Test(blk_req, shapes_that_break_the_rules)
{
	static struct fake f;

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_IN, 0);
	out(&f, f.hdr, 16);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), -EINVAL, "no status byte");

	memset(&f, 0, sizeof(f));
	out(&f, f.hdr, 8);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_IOERR,
		     "short header");

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_IN, 0);
	out(&f, f.hdr, 16);
	out(&f, f.data, 512);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_IOERR,
		     "data out on a read");

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_OUT, 0);
	out(&f, f.hdr, 16);
	out(&f, f.data, 512);
	in(&f, f.data + 1024, 512);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_IOERR,
		     "data in on a write");

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_FLUSH, 0);
	out(&f, f.hdr, 16);
	in(&f, f.data, 8);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_IOERR,
		     "flush with data");

	memset(&f, 0, sizeof(f));
	hdr(&f, VIRTIO_BLK_T_GET_ID, 0);
	out(&f, f.hdr, 16);
	in(&f, f.status, 1);
	cr_assert_eq(vblk_parse(&f.c, &lim, &r), VIRTIO_BLK_S_IOERR,
		     "get id without room");

	struct fake *d = range_req(VIRTIO_BLK_T_DISCARD, 0, 8, 0);
	d->c.iov[0].iov_len = 24;
	d->c.out_bytes = 24;
	cr_assert_eq(vblk_parse(&d->c, &lim, &r), VIRTIO_BLK_S_IOERR,
		     "partial segment");
}
