/* Pure parser; runs on the queue's iothread. */
#include "blk_req.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <stddef.h>
#include <string.h>

#include "lib/checked.h"

#define HDR_BYTES 16
#define SEGMENT_BYTES 16

/* r->iov = the bytes [from, from + len) of iov[0 .. n). */
static void slice(struct vblk_request *r, const struct iovec *iov, unsigned n,
		  uint64_t from, uint64_t len)
{
	r->iovcnt = 0;
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t take;
		if (from >= iov[i].iov_len) {
			from -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - from;
		if (take > len)
			take = len;
		r->iov[r->iovcnt++] =
			(struct iovec){ (uint8_t *)iov[i].iov_base + from,
					take };
		len -= take;
		from = 0;
	}
}

static bool range_ok(const struct vblk_limits *lim, uint64_t sector,
		     uint64_t bytes, uint64_t *offset)
{
	uint64_t end;

	return checked_mul(sector, VBLK_SECTOR, offset) &&
	       checked_add(*offset, bytes, &end) &&
	       end <= lim->capacity * VBLK_SECTOR;
}

static int parse_rw(const struct vq_chain *c, const struct vblk_limits *lim,
		    struct vblk_request *r, uint64_t sector)
{
	const struct iovec *in = c->iov + c->n_out;
	bool out = r->type == VIRTIO_BLK_T_OUT;

	/* A read carries only the header out; a write only the status in. */
	r->len = out ? c->out_bytes - HDR_BYTES : c->in_bytes - 1;
	if ((out ? c->in_bytes != 1 : c->out_bytes != HDR_BYTES) ||
	    r->len % VBLK_SECTOR || !range_ok(lim, sector, r->len, &r->offset))
		return VIRTIO_BLK_S_IOERR;
	if (out && lim->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (out)
		slice(r, c->iov, c->n_out, HDR_BYTES, r->len);
	else
		slice(r, in, c->n_in, 0, r->len);
	return VIRTIO_BLK_S_OK;
}

static int parse_range_op(const struct vq_chain *c,
			  const struct vblk_limits *lim, struct vblk_request *r)
{
	bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	struct virtio_blk_discard_write_zeroes seg;
	uint32_t max = zeroes ? lim->max_write_zeroes_sectors
			      : lim->max_discard_sectors;
	uint32_t allowed = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;

	if (!(zeroes ? lim->write_zeroes : lim->discard))
		return VIRTIO_BLK_S_UNSUPP;
	/* One segment: the max_*_seg the device advertises. */
	if (c->out_bytes != HDR_BYTES + SEGMENT_BYTES || c->in_bytes != 1 ||
	    vq_chain_read(c, HDR_BYTES, &seg, sizeof(seg)))
		return VIRTIO_BLK_S_IOERR;
	if (seg.flags & ~allowed)
		return VIRTIO_BLK_S_UNSUPP;
	if (lim->readonly || !seg.num_sectors || seg.num_sectors > max)
		return VIRTIO_BLK_S_IOERR;
	r->len = (uint64_t)seg.num_sectors * VBLK_SECTOR;
	r->unmap = seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	return range_ok(lim, seg.sector, r->len, &r->offset)
		       ? VIRTIO_BLK_S_OK
		       : VIRTIO_BLK_S_IOERR;
}

int vblk_parse(const struct vq_chain *c, const struct vblk_limits *lim,
	       struct vblk_request *r)
{
	struct virtio_blk_outhdr hdr;
	const struct iovec *last;

	memset(r, 0, offsetof(struct vblk_request, iov));
	if (!c->n_in)
		return -EINVAL;
	/* The status byte is the last writable byte. */
	last = &c->iov[c->n_out + c->n_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (c->out_bytes < HDR_BYTES || vq_chain_read(c, 0, &hdr, HDR_BYTES))
		return VIRTIO_BLK_S_IOERR;
	r->type = hdr.type;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: return parse_rw(c, lim, r, hdr.sector);
	case VIRTIO_BLK_T_FLUSH:
		return c->out_bytes == HDR_BYTES && c->in_bytes == 1
			       ? VIRTIO_BLK_S_OK
			       : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID:
		if (c->out_bytes != HDR_BYTES || c->in_bytes < 2)
			return VIRTIO_BLK_S_IOERR;
		r->len = c->in_bytes - 1 < VBLK_ID_BYTES ? c->in_bytes - 1
							 : VBLK_ID_BYTES;
		slice(r, c->iov + c->n_out, c->n_in, 0, r->len);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: return parse_range_op(c, lim, r);
	default: return VIRTIO_BLK_S_UNSUPP;
	}
}
