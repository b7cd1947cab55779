/* virtio-blk requests (devices/virtio/blk_req.c, blk.c) from arbitrary
 * headers and descriptor chains, through the real device: its queue
 * worker, its io_uring and a 64 KiB raw disk on a temporary file.
 *
 * The input builds a batch of requests in guest RAM: type (any 32-bit
 * value), sector (small, near the end of the disk, beyond it, where the
 * byte offset overflows), discard/write-zeroes segments, and each chain's
 * buffers (direction, length, placement: packed, in the second RAM region,
 * on top of the previous buffer, or anywhere), direct or in an indirect
 * table; then duplicate or raw avail entries and raw descriptors. The
 * device is started (DRIVER_OK: the worker pops everything available at
 * once) and reset (which returns once every request completed), so one
 * input is one deterministic batch.
 *
 * A reference model (the reference chain walker of virtio_fuzz.h, the
 * request rules of virtio 1.x 5.2.6 and blk_req.h written again) predicts
 * each request's status, what the device writes and where the batch stops
 * (a chain the queue cannot pop, a chain with nothing writable, a head
 * reused while its request is in flight). Checked for every input:
 * - vblk_parse, called on each chain as vq_pop returns it, gives the
 *   model's status, the status byte at the chain's last writable byte,
 *   and data iovecs that are exactly the right slice of the right part of
 *   the chain (readable after the header for a write, writable before the
 *   status for a read or GET_ID);
 * - out-of-range sectors and oversized or malformed discard/write-zeroes
 *   segments are refused with IOERR (UNSUPP for unknown flags or types);
 * - when no byte the device writes overlaps anything it reads (rings,
 *   tables, readable buffers; otherwise the order of the device's
 *   accesses matters and only the checks below the list apply): guest RAM
 *   changed only in the status bytes, the data of successful reads and
 *   GET_IDs, and the used ring; each status byte holds the model's
 *   status, read data the disk's bytes, GET_ID data the serial; the used
 *   ring holds exactly one element per request popped, with its head and
 *   the length written; every changed page is marked dirty and only pages
 *   the device could write are; the disk changed only inside the ranges
 *   of successful writes, discards and write-zeroes (written data equal
 *   to the chain's, write-zeroes reading back zeroes); the queue broke
 *   exactly when the model says;
 * - always: no sanitizer report, the disk keeps its size, and the reset
 *   returns with nothing in flight. */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/blk_req.h"
#include "lib/checked.h"
#include "tests/fuzz/virtio_fuzz.h"

#define R0 0x0ULL
#define R0_SIZE 0x20000ULL
#define R1 0x100000ULL
#define R1_SIZE 0x4000ULL
#define FLAT (R0_SIZE + R1_SIZE)
#define DESC 0x0000ULL
#define AVAIL 0x1000ULL
#define USED 0x2000ULL
#define TABLES 0x3000ULL
#define TABLES_END 0x4000ULL
#define DATA 0x4000ULL
#define DISK_BYTES 0x10000ULL
#define MAX_REQ 32
#define MAX_CHAINS 256 /* a batch pops at most the queue size */
#define POISON 0xee

static struct guest_mem mem;
static struct vblk blk;
static struct fuzz_disk disk;
static uint8_t *shadow; /* RAM before the batch, flat (see flat()) */

/* Counts per byte through a difference array: ranges marked, then
 * summed; only the span marked is summed and cleared again. */
struct cmap {
	int32_t *a;
	uint64_t lo, hi; /* the span [lo, hi); empty when lo >= hi */
};

static struct cmap wmap, rmap; /* RAM bytes written / read, flat */
static uint8_t file_now[DISK_BYTES];
static struct cmap fmap; /* mutations per disk byte */

/* ---- flat indices of RAM bytes (both regions) ---- */

static uint64_t flat(gpa_t gpa)
{
	if (gpa >= R1)
		return R0_SIZE + (gpa - R1);
	return gpa - R0;
}

static uint8_t *ram_flat(uint64_t i)
{
	return i < R0_SIZE ? mem.regions[0].hva + i
			   : mem.regions[1].hva + (i - R0_SIZE);
}

static void cmap_clear(struct cmap *m)
{
	if (m->lo < m->hi)
		memset(m->a + m->lo, 0, (m->hi - m->lo + 1) * sizeof(*m->a));
	m->lo = UINT64_MAX;
	m->hi = 0;
}

static void cmap_mark(struct cmap *m, uint64_t i, uint64_t len)
{
	if (!len)
		return;
	m->a[i]++;
	m->a[i + len]--;
	if (i < m->lo)
		m->lo = i;
	if (i + len > m->hi)
		m->hi = i + len;
}

/* After it, a[i] is the count at i, 0 from hi on. */
NO_COVERAGE static void cmap_sum(struct cmap *m)
{
	if (m->lo >= m->hi)
		return;
	for (uint64_t i = m->lo + 1; i <= m->hi; i++)
		m->a[i] += m->a[i - 1];
}

static void mark(struct cmap *m, gpa_t gpa, uint64_t len)
{
	if (len)
		INVARIANT(ram_at(&mem, gpa, len));
	cmap_mark(m, flat(gpa), len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mem_region layout[2] = { { .gpa = R0, .size = R0_SIZE },
					{ .gpa = R1, .size = R1_SIZE } };

	(void)argc, (void)argv;
	fuzz_trace_init();
	fuzz_ram_init(&mem, layout, 2);
	shadow = malloc(FLAT);
	wmap.a = calloc(FLAT + 1, sizeof(int32_t));
	rmap.a = calloc(FLAT + 1, sizeof(int32_t));
	fmap.a = calloc(DISK_BYTES + 1, sizeof(int32_t));
	INVARIANT(shadow && wmap.a && rmap.a && fmap.a);
	cmap_clear(&wmap);
	cmap_clear(&rmap);
	cmap_clear(&fmap);
	fuzz_disk_open(&disk, &blk, DISK_BYTES, 1, &mem);
	return 0;
}

/* ---- the driver: the batch in guest RAM ---- */

struct builder {
	uint16_t size;
	uint16_t di; /* next descriptor of the ring's table */
	gpa_t tab;   /* next indirect table */
	gpa_t bump[2];
	gpa_t prev; /* the previous buffer */
	uint16_t heads[MAX_REQ];
	unsigned nheads;
};

static void drv_write(gpa_t gpa, const void *src, uint64_t len)
{
	ram_wr(&mem, gpa, src, len);
}

static uint64_t sector_spec(struct fin *in)
{
	uint8_t m = fin_u8(in);
	uint64_t cap = DISK_BYTES / VBLK_SECTOR;

	switch (m & 3) {
	case 0: return m >> 2;				 /* 0 .. 63 */
	case 1: return cap - 8 + (m >> 2);		 /* around the end */
	case 2: return fin_u64(in);			 /* anything */
	default: return UINT64_MAX / 512 - 8 + (m >> 2); /* overflowing */
	}
}

/* Where a buffer of len bytes goes: packed in region 0 or 1, on the
 * previous buffer, or at an address the input gives. */
static gpa_t place(struct builder *bd, struct fin *in, unsigned how,
		   uint32_t len)
{
	static const gpa_t lo[2] = { DATA, R1 },
			   hi[2] = { R0 + R0_SIZE, R1 + R1_SIZE };
	gpa_t g;

	if (how < 2) {
		if (bd->bump[how] + len > hi[how])
			bd->bump[how] = lo[how];
		g = bd->bump[how];
		bd->bump[how] += len;
	} else if (how == 2) {
		g = bd->prev;
	} else {
		g = fin_u32(in);
	}
	bd->prev = g;
	return g;
}

static uint8_t data_byte(uint8_t seed, uint64_t i)
{
	return (uint8_t)(seed * 31 + i * 13 + (i >> 8));
}

/* One request: its header, segment, data and buffers, direct in the
 * ring's table or in an indirect one. */
static void build_request(struct builder *bd, struct fin *in)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN,
					  VIRTIO_BLK_T_OUT,
					  VIRTIO_BLK_T_FLUSH,
					  VIRTIO_BLK_T_GET_ID,
					  VIRTIO_BLK_T_DISCARD,
					  VIRTIO_BLK_T_WRITE_ZEROES,
					  0,
					  VIRTIO_BLK_T_IN };
	uint8_t t = fin_u8(in), seed, nseg;
	uint32_t type = (t & 7) == 6 ? fin_u32(in) : types[t & 7];
	bool ind = t & 8, range = type == VIRTIO_BLK_T_DISCARD ||
				  type == VIRTIO_BLK_T_WRITE_ZEROES ||
				  (t & 0x20);
	static uint8_t buf[0x10000];
	uint8_t stream[32];
	unsigned hdr_len = range ? 32 : 16;
	struct virtio_blk_outhdr h = { .type = type };
	struct vring_desc d[16];
	uint64_t out_pos = 0;
	uint16_t head;

	h.sector = sector_spec(in);
	memcpy(stream, &h, 16);
	if (range) {
		struct virtio_blk_discard_write_zeroes s;
		uint8_t m;
		s.sector = sector_spec(in);
		m = fin_u8(in);
		s.num_sectors = m & 1 ? fin_u32(in) : m >> 1;
		m = fin_u8(in);
		s.flags = m & 0x80 ? fin_u32(in) : m & 3;
		memcpy(stream + 16, &s, 16);
	}
	nseg = fin_u8(in) % (ind ? 17 : 9);
	seed = fin_u8(in);
	for (unsigned j = 0; j < nseg; j++) {
		uint8_t sf = fin_u8(in);
		bool write = sf & 1;
		uint32_t len;
		gpa_t g;
		if (sf & 8)
			len = 0;
		else if (sf & 0x10)
			len = !write ? (out_pos ? 512 : hdr_len)
				     : (j + 1 == nseg ? 1 : 512);
		else
			len = fin_u16(in);
		g = place(bd, in, (sf >> 1) & 3, len);
		d[j] = (struct vring_desc){ g, len,
					    write ? VRING_DESC_F_WRITE : 0, 0 };
		if (j + 1 < nseg)
			d[j].flags |= VRING_DESC_F_NEXT;
		if (sf & 0x20) /* a flag where none belongs */
			d[j].flags ^= sf & 0x40 ? VRING_DESC_F_INDIRECT : 0x80;
		for (uint64_t k = 0; k < len; k++) {
			uint64_t pos = out_pos + k;
			buf[k] = write		 ? POISON
				 : pos < hdr_len ? stream[pos]
						 : data_byte(seed, pos);
		}
		drv_write(g, buf, len);
		if (!write)
			out_pos += len;
	}
	if (!nseg) {
		d[0] = (struct vring_desc){ 0, 0, 0, 0 };
		nseg = 1;
	}
	head = (uint16_t)(bd->di % bd->size);
	if (!ind) {
		for (unsigned j = 0; j < nseg; j++) {
			uint16_t i = (uint16_t)((bd->di + j) % bd->size);
			d[j].next = (uint16_t)((i + 1) % bd->size);
			drv_write(DESC + 16ULL * i, &d[j], 16);
		}
		bd->di = (uint16_t)(bd->di + nseg);
	} else {
		struct vring_desc r = { bd->tab, 16 * nseg,
					VRING_DESC_F_INDIRECT, 0 };
		if (bd->tab + 16 * nseg > TABLES_END)
			bd->tab = r.addr = TABLES;
		for (unsigned j = 0; j < nseg; j++) {
			d[j].next = (uint16_t)(j + 1);
			drv_write(bd->tab + 16ULL * j, &d[j], 16);
		}
		bd->tab += 16 * nseg;
		if (t & 0x10)
			r.flags |= VRING_DESC_F_NEXT;
		if (t & 0x40)
			r.len += 8; /* not whole entries */
		drv_write(DESC + 16ULL * head, &r, 16);
		bd->di++;
	}
	bd->heads[bd->nheads++] = head;
}

/* The batch; returns the queue size. */
static uint16_t build(struct fin *in)
{
	struct builder bd = { .tab = TABLES, .bump = { DATA, R1 } };
	uint8_t nreq, extra, m;
	uint16_t nav = 0, idx;

	bd.size = (uint16_t)(1u << (fin_u8(in) % 9));
	nreq = fin_u8(in) % (MAX_REQ + 1);
	for (unsigned i = 0; i < nreq; i++)
		build_request(&bd, in);
	for (unsigned i = 0; i < bd.nheads; i++, nav++)
		drv_write(AVAIL + 4 + 2ULL * (nav % bd.size), &bd.heads[i], 2);
	for (extra = fin_u8(in) % 4; extra; extra--, nav++) {
		uint8_t e = fin_u8(in);
		uint16_t hd = e & 0x80 || !bd.nheads ? fin_u16(in)
						     : bd.heads[e % bd.nheads];
		drv_write(AVAIL + 4 + 2ULL * (nav % bd.size), &hd, 2);
	}
	m = fin_u8(in);
	idx = m & 0x80 ? fin_u16(in) : nav;
	drv_write(AVAIL + 2, &idx, 2);
	/* Raw descriptors over the ring's table. */
	for (unsigned k = 0; k < 8 && in->n >= 17; k++) {
		uint16_t i = fin_u8(in) % bd.size;
		uint8_t raw[16];
		for (unsigned j = 0; j < 16; j++)
			raw[j] = fin_u8(in);
		drv_write(DESC + 16ULL * i, raw, 16);
	}
	return bd.size;
}

/* ---- the model ---- */

#define ST_EINVAL (-1) /* nothing writable: the queue breaks */

struct mreq {
	struct ref_chain rc;
	int status;
	uint32_t type;
	uint64_t offset, len; /* bytes: data, or the range */
	bool unmap;
	bool io;      /* goes to the host, the head busy until it completes */
	bool mutates; /* changes the disk */
	bool clean;   /* a read no mutation of the batch overlaps */
	gpa_t status_gpa;
	uint32_t written;
};

static struct mreq mr[MAX_CHAINS + 1];

/* The bytes [from, from + len) of the chain's readable or writable part,
 * as guest ranges. */
static unsigned part(const struct ref_chain *c, bool write, uint64_t from,
		     uint64_t len, struct ref_seg *out)
{
	unsigned first = write ? c->n_out : 0;
	unsigned end = write ? c->n_out + c->n_in : c->n_out, n = 0;

	for (unsigned i = first; i < end && len; i++) {
		uint64_t take;
		if (from >= c->seg[i].len) {
			from -= c->seg[i].len;
			continue;
		}
		take = c->seg[i].len - from;
		if (take > len)
			take = len;
		out[n++] = (struct ref_seg){ c->seg[i].gpa + from,
					     (uint32_t)take, write };
		len -= take;
		from = 0;
	}
	INVARIANT(!len);
	return n;
}

static void read_part(const struct ref_chain *c, uint64_t from, void *dst,
		      uint64_t len)
{
	static struct ref_seg s[VQ_MAX_SEGS];
	unsigned n = part(c, false, from, len, s);
	uint8_t *p = dst;

	for (unsigned i = 0; i < n; p += s[i].len, i++)
		memcpy(p, ram_at(&mem, s[i].gpa, s[i].len), s[i].len);
}

/* [sector * 512, + bytes) inside the disk, without overflow. */
static bool in_disk(uint64_t sector, uint64_t bytes, uint64_t *offset)
{
	unsigned __int128 end = (unsigned __int128)sector * 512 + bytes;

	*offset = sector * 512;
	return end <= blk.limits.capacity * 512;
}

/* 5.2.6: what the device answers for the chain. */
static void model_parse(struct mreq *m)
{
	const struct ref_chain *c = &m->rc;
	const struct vblk_limits *lim = &blk.limits;
	const struct ref_seg *last;
	struct virtio_blk_outhdr h;
	struct virtio_blk_discard_write_zeroes s;
	bool zeroes;

	m->written = 1;
	if (!c->n_in) {
		m->status = ST_EINVAL;
		return;
	}
	last = &c->seg[c->n_out + c->n_in - 1];
	m->status_gpa = last->gpa + last->len - 1;
	m->status = VIRTIO_BLK_S_IOERR;
	if (c->out_bytes < 16)
		return;
	read_part(c, 0, &h, 16);
	m->type = h.type;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool out = h.type == VIRTIO_BLK_T_OUT;
		m->len = out ? c->out_bytes - 16 : c->in_bytes - 1;
		if ((out ? c->in_bytes != 1 : c->out_bytes != 16) ||
		    m->len % 512 || !in_disk(h.sector, m->len, &m->offset) ||
		    (out && lim->readonly))
			return;
		m->status = VIRTIO_BLK_S_OK;
		m->io = true;
		m->mutates = out;
		if (!out)
			m->written = 1 + (uint32_t)m->len;
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (c->out_bytes == 16 && c->in_bytes == 1) {
			m->status = VIRTIO_BLK_S_OK;
			m->io = true;
		}
		return;
	case VIRTIO_BLK_T_GET_ID:
		if (c->out_bytes != 16 || c->in_bytes < 2)
			return;
		m->len = c->in_bytes - 1 < 20 ? c->in_bytes - 1 : 20;
		m->written = 1 + (uint32_t)m->len;
		m->status = VIRTIO_BLK_S_OK;
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		zeroes = h.type == VIRTIO_BLK_T_WRITE_ZEROES;
		if (!(zeroes ? lim->write_zeroes : lim->discard)) {
			m->status = VIRTIO_BLK_S_UNSUPP;
			return;
		}
		if (c->out_bytes != 32 || c->in_bytes != 1)
			return;
		read_part(c, 16, &s, 16);
		if (s.flags &
		    ~(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0)) {
			m->status = VIRTIO_BLK_S_UNSUPP;
			return;
		}
		if (lim->readonly || !s.num_sectors ||
		    s.num_sectors > (zeroes ? lim->max_write_zeroes_sectors
					    : lim->max_discard_sectors))
			return;
		m->len = (uint64_t)s.num_sectors * 512;
		m->unmap = s.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		if (!in_disk(s.sector, m->len, &m->offset))
			return;
		m->status = VIRTIO_BLK_S_OK;
		if (!zeroes && !blk.node.can_discard) {
			/* refused by the block layer at once */
			m->status = VIRTIO_BLK_S_UNSUPP;
			return;
		}
		m->io = m->mutates = true;
		return;
	default: m->status = VIRTIO_BLK_S_UNSUPP; return;
	}
}

/* vblk_parse on the chain vq_pop gave agrees with the model. */
static void check_parse(const struct vq_chain *c, const struct mreq *m)
{
	static struct vblk_request r;
	static struct ref_seg want[VQ_MAX_SEGS];
	unsigned n = 0;
	int st = vblk_parse(c, &blk.limits, &r);

	if (m->status == ST_EINVAL) {
		INVARIANTF(st == -EINVAL,
			   "vblk_parse %d on a chain with "
			   "nothing writable",
			   st);
		return;
	}
	INVARIANTF(st == m->status, "vblk_parse %d, model %d (type %u)", st,
		   m->status, m->type);
	INVARIANTF(r.status == ram_at(&mem, m->status_gpa, 1),
		   "status byte not the last writable byte %#lx",
		   (unsigned long)m->status_gpa);
	if (st != VIRTIO_BLK_S_OK)
		return;
	INVARIANT(r.type == m->type);
	switch (m->type) {
	case VIRTIO_BLK_T_IN: n = part(&m->rc, true, 0, m->len, want); break;
	case VIRTIO_BLK_T_OUT: n = part(&m->rc, false, 16, m->len, want); break;
	case VIRTIO_BLK_T_GET_ID:
		n = part(&m->rc, true, 0, m->len, want);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: INVARIANT(r.unmap == m->unmap); break;
	default: break;
	}
	if (m->type != VIRTIO_BLK_T_FLUSH) {
		INVARIANTF(r.len == m->len, "request length %lu, model %lu",
			   (unsigned long)r.len, (unsigned long)m->len);
		if (m->type != VIRTIO_BLK_T_GET_ID)
			INVARIANT(r.offset == m->offset);
	}
	INVARIANTF(r.iovcnt == n, "%u data iovecs, model %u", r.iovcnt, n);
	for (unsigned i = 0; i < n; i++)
		INVARIANTF(r.iov[i].iov_base == ram_at(&mem, want[i].gpa,
						       want[i].len) &&
				   r.iov[i].iov_len == want[i].len,
			   "data iovec %u is not bytes %#lx+%u of the chain", i,
			   (unsigned long)want[i].gpa, want[i].len);
}

struct batch {
	uint16_t size;
	unsigned popped; /* chains the device takes */
	bool broken;
	bool hazard; /* the device may write what it reads */
};

/* The device's batch as the model sees it, and vblk_parse beside it. */
static void model(struct batch *b, bool indirect, bool event_idx)
{
	struct ref_vq rq = { .mem = &mem,
			     .size = b->size,
			     .indirect = indirect,
			     .ready = true,
			     .desc = DESC,
			     .avail = AVAIL,
			     .used = USED };
	struct virtqueue pv = { .size = b->size,
				.indirect = indirect,
				.event_idx = event_idx,
				.desc = DESC,
				.avail = AVAIL,
				.used = USED };
	static struct vq_chain c;
	static bool busy[MAX_CHAINS];

	memset(busy, 0, sizeof(busy));
	INVARIANT(vq_enable(&pv, &mem, VBLK_QUEUE_SIZE) == 0);
	b->popped = 0;
	b->broken = false;
	for (;;) {
		struct mreq *m = &mr[b->popped];
		int r, got;
		memset(m, 0, offsetof(struct mreq, rc.seg));
		r = ref_pop(&rq, &m->rc);
		got = vq_pop(&pv, &c);
		INVARIANTF(got == r, "vq_pop %d, the reference %d", got, r);
		if (r <= 0) {
			b->broken = r < 0;
			break;
		}
		check_chain(&mem, &c, &m->rc);
		memset(&m->status, 0,
		       sizeof(*m) - offsetof(struct mreq, status));
		model_parse(m);
		check_parse(&c, m);
		TRACE("chain head %u: %u+%u segments %lu+%lu bytes: type %u "
		      "status %d offset %lu len %lu%s",
		      m->rc.head, m->rc.n_out, m->rc.n_in,
		      (unsigned long)m->rc.out_bytes,
		      (unsigned long)m->rc.in_bytes, m->type, m->status,
		      (unsigned long)m->offset, (unsigned long)m->len,
		      busy[m->rc.head] ? " (head busy)" : "");
		if (busy[m->rc.head] || m->status == ST_EINVAL) {
			b->broken = true;
			break;
		}
		busy[m->rc.head] = m->io;
		b->popped++;
	}
	TRACE("%u requests, %s", b->popped, b->broken ? "broken" : "ok");
}

/* What the device may write (wmap), what it reads (rmap), and whether the
 * two meet; which reads see no mutation of the batch. */
NO_COVERAGE static void footprint(struct batch *b)
{
	static struct ref_seg s[VQ_MAX_SEGS];

	cmap_clear(&wmap);
	cmap_clear(&rmap);
	mark(&rmap, DESC, 16ULL * b->size);
	mark(&rmap, AVAIL, 6 + 2ULL * b->size);
	/* The chains read, including one that broke the queue. */
	for (unsigned k = 0; k <= b->popped && k < MAX_CHAINS; k++) {
		const struct ref_chain *c = &mr[k].rc;
		if (k == b->popped && !b->broken)
			break;
		mark(&rmap, c->table, c->table_len);
		for (unsigned i = 0; i < c->n_out; i++)
			mark(&rmap, c->seg[i].gpa, c->seg[i].len);
	}
	for (unsigned k = 0; k < b->popped; k++) {
		const struct mreq *m = &mr[k];
		unsigned n = 0;
		mark(&wmap, m->status_gpa, 1);
		if (m->status == VIRTIO_BLK_S_OK &&
		    (m->type == VIRTIO_BLK_T_IN ||
		     m->type == VIRTIO_BLK_T_GET_ID))
			n = part(&m->rc, true, 0, m->len, s);
		for (unsigned i = 0; i < n; i++)
			mark(&wmap, s[i].gpa, s[i].len);
	}
	mark(&wmap, USED, 6 + 8ULL * b->size);
	cmap_sum(&wmap);
	cmap_sum(&rmap);
	b->hazard = false;
	for (uint64_t i = rmap.lo; i < rmap.hi && !b->hazard; i++)
		b->hazard = wmap.a[i] && rmap.a[i];
	for (unsigned k = 0; k < b->popped; k++) {
		struct mreq *m = &mr[k];
		if (m->type != VIRTIO_BLK_T_IN || m->status)
			continue;
		m->clean = true;
		for (unsigned j = 0; j < b->popped; j++)
			if (mr[j].mutates && mr[j].status == VIRTIO_BLK_S_OK &&
			    ranges_overlap(m->offset, m->len, mr[j].offset,
					   mr[j].len))
				m->clean = false;
	}
}

/* ---- the device ---- */

static void run_device(uint16_t size, bool indirect, bool event_idx)
{
	struct virtio_dev *vd = &blk.vdev;
	uint32_t lo = (indirect ? 1u << VIRTIO_RING_F_INDIRECT_DESC : 0) |
		      (event_idx ? 1u << VIRTIO_RING_F_EVENT_IDX : 0);

	pthread_mutex_lock(&vd->lock);
	virtio_set_status(vd,
			  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_set_guest_features_word(vd, 0, lo);
	virtio_set_guest_features_word(vd, 1, 1); /* VERSION_1 */
	virtio_set_status(vd, 0x0b);
	virtio_set_queue_num(vd, 0, size);
	virtio_set_queue_addr(vd, 0, VIRTIO_RING_DESC, DESC, ~0ULL);
	virtio_set_queue_addr(vd, 0, VIRTIO_RING_AVAIL, AVAIL, ~0ULL);
	virtio_set_queue_addr(vd, 0, VIRTIO_RING_USED, USED, ~0ULL);
	virtio_set_queue_ready(vd, 0, true);
	INVARIANT(vd->vqs[0].ready);
	/* The worker serves what is available at once... */
	virtio_set_status(vd, 0x0f);
	INVARIANT(vd->active);
	/* ...and the reset waits for every request it started. */
	virtio_set_status(vd, 0);
	INVARIANT(!vd->active && !vd->status && !blk.queues[0].ctx.inflight);
	pthread_mutex_unlock(&vd->lock);
}

/* ---- the checks ---- */

static int cmp_elem(const void *a, const void *b)
{
	const struct vring_used_elem *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void check_used(const struct batch *b)
{
	static struct vring_used_elem got[MAX_CHAINS], want[MAX_CHAINS];
	uint16_t idx = ram_rd16(&mem, USED + 2);
	unsigned n = 0;

	/* A broken queue's rings are not touched again: requests still in
	 * flight then complete into their buffers, unpublished; those
	 * answered at once were published before it broke. */
	for (unsigned k = 0; k < b->popped; k++)
		if (!b->broken || !mr[k].io)
			want[n++] = (struct vring_used_elem){ mr[k].rc.head,
							      mr[k].written };
	/* The device writes used->idx with each push, counting from 0;
	 * without a push it stays as the driver left it. */
	if (!n) {
		uint16_t before;
		memcpy(&before, shadow + flat(USED + 2), 2);
		INVARIANTF(idx == before, "used idx %u, nothing pushed", idx);
		return;
	}
	INVARIANTF(idx == n, "used idx %u after %u requests", idx, n);
	for (unsigned k = 0; k < n; k++)
		memcpy(&got[k], ram_at(&mem, USED + 4 + 8ULL * k, 8), 8);
	qsort(got, n, sizeof(got[0]), cmp_elem);
	qsort(want, n, sizeof(want[0]), cmp_elem);
	for (unsigned k = 0; k < n; k++)
		INVARIANTF(got[k].id == want[k].id && got[k].len == want[k].len,
			   "used element {%u, %u}, expected {%u, %u}",
			   got[k].id, got[k].len, want[k].id, want[k].len);
}

/* The byte the device must have left at gpa, when it alone writes it. */
NO_COVERAGE static void expect_byte(gpa_t gpa, uint8_t v, const char *what)
{
	uint64_t i = flat(gpa);

	if (wmap.a[i] == 1 && !(gpa >= USED && gpa < USED + 0x1000))
		INVARIANTF(*ram_flat(i) == v, "%s at %#lx is %#x, not %#x",
			   what, (unsigned long)gpa, *ram_flat(i), v);
}

NO_COVERAGE static void check_ram(const struct batch *b)
{
	static struct ref_seg s[VQ_MAX_SEGS];

	for (uint64_t pg = 0; pg < FLAT; pg += MEM_PAGE_SIZE) {
		gpa_t g = pg < R0_SIZE ? R0 + pg : R1 + (pg - R0_SIZE);
		bool dirty = mem_page_dirty(&mem, g), any = false;
		if (dirty) {
			for (uint64_t i = pg; i < pg + MEM_PAGE_SIZE && !any;
			     i++)
				any = wmap.a[i];
			INVARIANTF(any, "page %#lx dirty, never writable",
				   (unsigned long)g);
		}
		if (!memcmp(ram_flat(pg), shadow + pg, MEM_PAGE_SIZE))
			continue;
		INVARIANTF(dirty, "page %#lx written, not marked dirty",
			   (unsigned long)g);
		for (uint64_t i = pg; i < pg + MEM_PAGE_SIZE; i++)
			INVARIANTF(wmap.a[i] || *ram_flat(i) == shadow[i],
				   "the device wrote %#x over %#x at gpa "
				   "%#lx, outside every writable buffer",
				   *ram_flat(i), shadow[i],
				   (unsigned long)(g + i - pg));
	}
	for (unsigned k = 0; k < b->popped; k++) {
		const struct mreq *m = &mr[k];
		unsigned n = 0;
		uint64_t pos = 0;
		expect_byte(m->status_gpa, (uint8_t)m->status, "status byte");
		if (m->status != VIRTIO_BLK_S_OK ||
		    (m->type != VIRTIO_BLK_T_GET_ID &&
		     !(m->type == VIRTIO_BLK_T_IN && m->clean)))
			continue;
		n = part(&m->rc, true, 0, m->len, s);
		for (unsigned i = 0; i < n; i++)
			for (uint64_t j = 0; j < s[i].len; j++, pos++)
				expect_byte(
					s[i].gpa + j,
					m->type == VIRTIO_BLK_T_IN
						? disk.pattern[m->offset + pos]
						: (uint8_t)FUZZ_SERIAL[pos],
					m->type == VIRTIO_BLK_T_IN
						? "read data"
						: "GET_ID data");
	}
	/* Unless a buffer shares the used ring. */
	for (uint64_t i = flat(USED); i < flat(USED) + 6 + 8ULL * b->size; i++)
		if (wmap.a[i] != 1)
			return;
	check_used(b);
}

/* The disk changed only where a successful request changed it, as it
 * did. */
NO_COVERAGE static void check_disk(const struct batch *b)
{
	static uint8_t want[DISK_BYTES];
	static bool known[DISK_BYTES];

	cmap_clear(&fmap);
	for (unsigned k = 0; k < b->popped; k++) {
		const struct mreq *m = &mr[k];
		if (!m->mutates || m->status != VIRTIO_BLK_S_OK || !m->len)
			continue;
		cmap_mark(&fmap, m->offset, m->len);
	}
	cmap_sum(&fmap);
	memcpy(want, disk.pattern, DISK_BYTES);
	memset(known, 1, sizeof(known));
	for (unsigned k = 0; k < b->popped; k++) {
		const struct mreq *m = &mr[k];
		if (!m->mutates || m->status != VIRTIO_BLK_S_OK)
			continue;
		for (uint64_t i = 0; i < m->len; i++)
			known[m->offset + i] = fmap.a[m->offset + i] == 1 &&
					       m->type != VIRTIO_BLK_T_DISCARD;
		if (m->type == VIRTIO_BLK_T_WRITE_ZEROES)
			memset(want + m->offset, 0, m->len);
		else if (m->type == VIRTIO_BLK_T_OUT && m->len) {
			/* The chain's data as it was before the batch. */
			static struct ref_seg s[VQ_MAX_SEGS];
			unsigned n = part(&m->rc, false, 16, m->len, s);
			uint64_t pos = m->offset;
			for (unsigned i = 0; i < n; pos += s[i++].len)
				memcpy(want + pos, shadow + flat(s[i].gpa),
				       s[i].len);
		}
	}
	INVARIANT(pread(disk.fd, file_now, DISK_BYTES, 0) ==
		  (ssize_t)DISK_BYTES);
	for (uint64_t i = 0; i < DISK_BYTES; i++)
		if (known[i])
			INVARIANTF(file_now[i] == want[i],
				   "disk byte %#lx is %#x, not %#x (%d "
				   "requests changed it)",
				   (unsigned long)i, file_now[i], want[i],
				   fmap.a[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct batch b;
	uint8_t f;
	bool indirect, event_idx;

	if (size < 2)
		return 0;
	memset(mem.regions[0].hva, 0, R0_SIZE);
	memset(mem.regions[1].hva, 0, R1_SIZE);
	fuzz_disk_restore(&disk);
	f = fin_u8(&in);
	indirect = f & 1;
	event_idx = f & 2;
	/* The limits the parser enforces (the worker is stopped). */
	blk.limits.readonly = f & 4;
	blk.limits.discard = !(f & 8);
	blk.limits.write_zeroes = !(f & 16);
	blk.limits.max_discard_sectors = f & 32 ? 16 : 1u << 22;
	blk.limits.max_write_zeroes_sectors = f & 32 ? 16 : 1u << 22;
	b.size = build(&in);
	memcpy(shadow, mem.regions[0].hva, R0_SIZE);
	memcpy(shadow + R0_SIZE, mem.regions[1].hva, R1_SIZE);
	model(&b, indirect, event_idx);
	footprint(&b);
	TRACE("hazard %d", b.hazard);
	fuzz_ram_clear_dirty(&mem);
	run_device(b.size, indirect, event_idx);
	if (!b.hazard) {
		INVARIANTF(blk.queues[0].worker.vq.broken == b.broken,
			   "the device's queue broken %d, model %d",
			   blk.queues[0].worker.vq.broken, b.broken);
		check_ram(&b);
		check_disk(&b);
	}
	return 0;
}
