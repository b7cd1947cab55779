/* The split virtqueue (devices/virtio/virtqueue.c) on arbitrary ring
 * memory: the input chooses the queue size, the ring addresses, the
 * negotiated ring features (indirect descriptors, event index) and then a
 * list of operations, the driver's (descriptors, avail entries, raw bytes
 * anywhere) interleaved with the device's (pop, push, notification
 * decisions, chain copies, dirty marking).
 *
 * Guest RAM is two small regions with a hole between them (heap buffers:
 * AddressSanitizer sees any access just outside). After every operation:
 * - vq_enable accepts exactly the layouts the specification allows;
 * - vq_pop returns what a reference walker (virtio_fuzz.h) finds: the same
 *   chain, or the same verdict (empty, broken); every iovec lies inside
 *   one RAM region, the counts are within VQ_MAX_SEGS and the byte totals
 *   are the iovecs' sums, readable iovecs first;
 * - a broken queue stays broken: it pops and pushes nothing and writes no
 *   guest memory;
 * - guest RAM equals the driver's copy with exactly the writes the
 *   operation may make applied (a push: its used element and used->idx;
 *   a notification change: used->flags or avail_event; a chain write:
 *   its bytes in the chain's writable buffers; anything else: nothing),
 *   and the dirty log names exactly the pages written;
 * - an interrupt is never withheld when the driver asked for one
 *   (NO_INTERRUPT, or used_event with EVENT_IDX), nor sent when nothing
 *   was used since the last one. */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "tests/fuzz/virtio_fuzz.h"

#define R0 0x0ULL
#define R0_SIZE 0x4000ULL
#define R1 0x10000ULL
#define R1_SIZE 0x1000ULL
#define MAX_OPS 192
#define MAX_POPPED 64
#define MAX_WRITES (VQ_MAX_SEGS + 4)

static struct guest_mem mem;
/* The driver's copy of each region and the expected state after an
 * operation. */
static uint8_t *shadow[2], *expect[2];

struct state {
	struct virtqueue vq;
	struct ref_vq ref;
	uint16_t max;
	bool event_idx;
	/* The device's progress as the contract defines it. */
	uint16_t used_idx, sig_used;
	bool sig_valid;
	uint16_t popped[MAX_POPPED];
	unsigned npopped;
	struct vq_chain chain; /* the last chain popped */
	bool have_chain;
	/* What the current operation may write. */
	struct {
		gpa_t gpa;
		uint64_t len;
	} wr[MAX_WRITES];
	unsigned nwr;
};

static struct state st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mem_region layout[2] = { { .gpa = R0, .size = R0_SIZE },
					{ .gpa = R1, .size = R1_SIZE } };

	(void)argc, (void)argv;
	fuzz_trace_init();
	fuzz_ram_init(&mem, layout, 2);
	for (unsigned i = 0; i < 2; i++) {
		shadow[i] = calloc(1, mem.regions[i].size);
		expect[i] = calloc(1, mem.regions[i].size);
		INVARIANT(shadow[i] && expect[i]);
	}
	return 0;
}

/* ---- the driver's writes: RAM and its copy alike ---- */

/* Each byte of src that lands in RAM, into buf[region] (RAM itself, the
 * driver's copy or the expected state). */
static void put(uint8_t *const buf[2], gpa_t gpa, const void *src, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++) {
		for (unsigned r = 0; r < 2; r++) {
			const struct mem_region *m = &mem.regions[r];
			if (gpa + i >= m->gpa && gpa + i - m->gpa < m->size)
				buf[r][gpa + i - m->gpa] =
					((const uint8_t *)src)[i];
		}
	}
}

static void drv_write(gpa_t gpa, const void *src, uint64_t len)
{
	uint8_t *const ram[2] = { mem.regions[0].hva, mem.regions[1].hva };

	put(ram, gpa, src, len);
	put(shadow, gpa, src, len);
}

static void drv_store16(gpa_t gpa, uint16_t v)
{
	drv_write(gpa, &v, 2);
}

/* An address the input chooses: in region 0 or 1 (bit 2: 16-aligned),
 * just before the end of region 0 (a range that runs into the hole), or
 * anything. */
static gpa_t gpa_spec(struct fin *in)
{
	uint8_t b = fin_u8(in);
	uint64_t off = fin_u16(in);

	if (b & 4)
		off &= ~15ULL;
	switch (b & 3) {
	case 0: return R0 + off % R0_SIZE;
	case 1: return R1 + off % R1_SIZE;
	case 2: return R0 + R0_SIZE - (off & 0xff);
	default: return fin_u64(in);
	}
}

/* A descriptor in a compact form: address, 16-bit length (bit 7 of the
 * flags byte: 32-bit), the three flags and one unknown bit, next. */
static struct vring_desc desc_spec(struct fin *in)
{
	struct vring_desc d;
	uint8_t f;

	d.addr = gpa_spec(in);
	d.len = fin_u16(in);
	f = fin_u8(in);
	if (f & 0x80)
		d.len |= (uint32_t)fin_u16(in) << 16;
	d.flags = (uint16_t)((f & 7) | (f & 0x40 ? 0x100 : 0));
	d.next = fin_u16(in);
	return d;
}

/* ---- expected RAM ---- */

static void expect_begin(void)
{
	st.nwr = 0;
	for (unsigned i = 0; i < 2; i++)
		memcpy(expect[i], shadow[i], mem.regions[i].size);
	fuzz_ram_clear_dirty(&mem);
}

/* The operation may write src at gpa (bytes outside RAM are not). */
static void expect_write(gpa_t gpa, const void *src, uint64_t len)
{
	INVARIANT(st.nwr < MAX_WRITES);
	st.wr[st.nwr].gpa = gpa;
	st.wr[st.nwr++].len = len;
	put(expect, gpa, src, len);
}

/* A 16-bit field as the operation's writes so far leave it. */
static uint16_t expect_rd16(gpa_t gpa)
{
	uint16_t v = 0;

	for (unsigned r = 0; r < 2; r++) {
		const struct mem_region *m = &mem.regions[r];
		if (gpa >= m->gpa && gpa - m->gpa + 2 <= m->size)
			memcpy(&v, expect[r] + (gpa - m->gpa), 2);
	}
	return v;
}

static bool page_written(gpa_t page)
{
	for (unsigned i = 0; i < st.nwr; i++)
		if (st.wr[i].len && page + MEM_PAGE_SIZE > st.wr[i].gpa &&
		    page < st.wr[i].gpa + st.wr[i].len)
			return true;
	return false;
}

/* RAM is exactly as expected, and the dirty log names exactly the pages
 * written; the driver's copy follows. */
static void expect_end(const char *op)
{
	for (unsigned r = 0; r < 2; r++) {
		const struct mem_region *m = &mem.regions[r];
		if (memcmp(m->hva, expect[r], m->size)) {
			for (uint64_t i = 0; i < m->size; i++)
				INVARIANTF(m->hva[i] == expect[r][i],
					   "%s wrote %#x at gpa %#lx where "
					   "%#x was expected",
					   op, m->hva[i],
					   (unsigned long)(m->gpa + i),
					   expect[r][i]);
		}
		for (gpa_t p = m->gpa; p < m->gpa + m->size; p += MEM_PAGE_SIZE)
			INVARIANTF(mem_page_dirty(&mem, p) == page_written(p),
				   "%s: page %#lx dirty %d, written %d", op,
				   (unsigned long)p, mem_page_dirty(&mem, p),
				   page_written(p));
		memcpy(shadow[r], m->hva, m->size);
	}
}

/* ---- the queue's configuration ---- */

static void configure(struct fin *in)
{
	static const uint16_t maxes[] = { VQ_MAX_SIZE, 256, 8, 1 };
	uint8_t f = fin_u8(in), s = fin_u8(in);
	uint32_t size = s & 0x80 ? fin_u16(in) : 1u << (s & 15);
	gpa_t desc = gpa_spec(in), avail = gpa_spec(in), used = gpa_spec(in);
	bool ok;
	int r;

	st.max = maxes[(f >> 2) & 3];
	st.event_idx = f & 2;
	st.vq = (struct virtqueue){ .size = (uint16_t)size,
				    .indirect = f & 1,
				    .event_idx = st.event_idx,
				    .desc = desc,
				    .avail = avail,
				    .used = used };
	ok = ref_layout_ok(&mem, (uint16_t)size, st.max, desc, avail, used);
	r = vq_enable(&st.vq, &mem, st.max);
	INVARIANTF((r == 0) == ok,
		   "vq_enable %d for size %u (max %u) desc %#lx avail %#lx "
		   "used %#lx",
		   r, (uint16_t)size, st.max, (unsigned long)desc,
		   (unsigned long)avail, (unsigned long)used);
	INVARIANT(st.vq.ready == ok);
	TRACE("enable size %u max %u desc %#lx avail %#lx used %#lx "
	      "indirect %d event_idx %d: %d",
	      (uint16_t)size, st.max, (unsigned long)desc, (unsigned long)avail,
	      (unsigned long)used, f & 1, st.event_idx, r);
	st.ref = (struct ref_vq){ .mem = &mem,
				  .size = (uint16_t)size,
				  .indirect = f & 1,
				  .ready = ok,
				  .desc = desc,
				  .avail = avail,
				  .used = used };
	if (ok)
		INVARIANT(!st.vq.broken && !st.vq.last_avail &&
			  !st.vq.used_idx);
	st.used_idx = 0;
	st.sig_valid = false;
	st.npopped = 0;
	st.have_chain = false;
}

static bool usable(void)
{
	return st.ref.ready && !st.ref.broken;
}

/* ---- the device's operations ---- */

static void op_pop(void)
{
	static struct ref_chain ref;
	struct vq_chain *c = &st.chain;
	uint16_t last = st.vq.last_avail;
	int want, got;

	expect_begin();
	want = ref_pop(&st.ref, &ref);
	got = vq_pop(&st.vq, c);
	INVARIANTF(got == want, "vq_pop returned %d, the reference %d", got,
		   want);
	INVARIANT(st.vq.broken == st.ref.broken);
	INVARIANT(st.vq.last_avail == (uint16_t)(last + (got == 1)));
	TRACE("pop: %d head %u %u+%u segments %lu+%lu bytes", got,
	      got == 1 ? c->head : 0, got == 1 ? c->n_out : 0,
	      got == 1 ? c->n_in : 0,
	      got == 1 ? (unsigned long)c->out_bytes : 0,
	      got == 1 ? (unsigned long)c->in_bytes : 0);
	if (got == 1) {
		check_chain(&mem, c, &ref);
		st.have_chain = true;
		if (st.npopped < MAX_POPPED)
			st.popped[st.npopped++] = c->head;
	}
	expect_end("vq_pop");
}

static void op_push(struct fin *in)
{
	uint8_t sel = fin_u8(in);
	uint16_t head = (sel & 0x80) || !st.npopped
				? fin_u16(in)
				: st.popped[sel % st.npopped];
	uint32_t len = fin_u32(in);
	int r;

	expect_begin();
	if (usable()) {
		struct vring_used_elem e = { .id = head, .len = len };
		uint16_t idx = (uint16_t)(st.used_idx + 1);
		expect_write(st.ref.used + 4 +
				     8ULL * (st.used_idx % st.ref.size),
			     &e, sizeof(e));
		expect_write(st.ref.used + 2, &idx, 2);
	}
	r = vq_push(&st.vq, head, len);
	TRACE("push head %u len %u: %d", head, len, r);
	INVARIANTF((r == 0) == usable(), "vq_push %d on a%s queue", r,
		   usable() ? " usable" : "n unusable");
	if (!r)
		st.used_idx++;
	INVARIANT(st.vq.used_idx == st.used_idx);
	expect_end("vq_push");
}

static void op_set_notification(struct fin *in)
{
	bool enable = fin_u8(in) & 1, want = false, got;

	expect_begin();
	if (usable()) {
		uint16_t v = enable ? 0 : VRING_USED_F_NO_NOTIFY;
		if (!st.event_idx)
			expect_write(st.ref.used, &v, 2);
		else if (enable)
			expect_write(st.ref.used + 4 + 8ULL * st.ref.size,
				     &st.ref.last_avail, 2);
		/* Read after the write, which may land on the avail ring
		 * of a hostile layout. */
		want = enable &&
		       expect_rd16(st.ref.avail + 2) != st.ref.last_avail;
	}
	got = vq_set_notification(&st.vq, enable);
	TRACE("set_notification(%d): %d", enable, got);
	INVARIANTF(got == want, "vq_set_notification(%d) = %d", enable, got);
	expect_end("vq_set_notification");
}

/* 2.7.7.2 and 2.7.10: with EVENT_IDX the driver wants an interrupt once
 * used->idx passes used_event; without it, unless NO_INTERRUPT. */
static void op_should_notify(void)
{
	bool news, got, want = false;
	uint16_t old = st.sig_used;

	expect_begin();
	news = st.sig_valid ? st.sig_used != st.used_idx : st.used_idx != 0;
	if (usable() && news) {
		uint16_t flags = ram_rd16(&mem, st.ref.avail);
		uint16_t event =
			ram_rd16(&mem, st.ref.avail + 4 + 2ULL * st.ref.size);
		if (!st.event_idx)
			want = !(flags & VRING_AVAIL_F_NO_INTERRUPT);
		else
			want = !st.sig_valid ||
			       vring_need_event(event, st.used_idx, old);
		st.sig_used = st.used_idx;
		st.sig_valid = true;
	}
	got = vq_should_notify(&st.vq);
	TRACE("should_notify: %d", got);
	INVARIANTF(got == want,
		   "vq_should_notify = %d (event_idx %d, used %u, last "
		   "signalled %u valid %d)",
		   got, st.event_idx, st.used_idx, old, st.sig_valid);
	expect_end("vq_should_notify");
}

/* The chain's readable bytes from off, as a driver would see them. */
static void op_chain_read(struct fin *in)
{
	const struct vq_chain *c = &st.chain;
	uint64_t off = fin_u16(in), len = fin_u16(in) % 2048;
	static uint8_t got[2048], want[2048];
	uint64_t pos = 0, n = 0;
	int r;

	if (!st.have_chain)
		return;
	expect_begin();
	for (unsigned i = 0; i < c->n_out; i++) {
		const uint8_t *p = c->iov[i].iov_base;
		uint64_t l = c->iov[i].iov_len;
		uint64_t lo = off > pos ? off : pos;
		uint64_t hi = off + len < pos + l ? off + len : pos + l;
		if (lo < hi) {
			memcpy(want + n, p + (lo - pos), hi - lo);
			n += hi - lo;
		}
		pos += l;
	}
	memset(got, 0, sizeof(got));
	r = vq_chain_read(c, off, got, len);
	TRACE("chain_read(%lu, %lu): %d", (unsigned long)off,
	      (unsigned long)len, r);
	INVARIANTF(r == (n == len ? 0 : -EFAULT),
		   "vq_chain_read(%lu, %lu) = %d of %lu readable bytes",
		   (unsigned long)off, (unsigned long)len, r,
		   (unsigned long)c->out_bytes);
	INVARIANT(!memcmp(got, want, n));
	expect_end("vq_chain_read");
}

static void op_chain_write(struct fin *in)
{
	const struct vq_chain *c = &st.chain;
	uint64_t off = fin_u16(in), len = fin_u16(in) % 2048, pos = 0, n = 0;
	uint8_t seed = fin_u8(in);
	static uint8_t src[2048];
	int r;

	if (!st.have_chain)
		return;
	for (uint64_t i = 0; i < len; i++)
		src[i] = (uint8_t)(seed + i);
	expect_begin();
	for (unsigned i = c->n_out; i < c->n_out + c->n_in; i++) {
		const uint8_t *p = c->iov[i].iov_base;
		uint64_t l = c->iov[i].iov_len;
		uint64_t lo = off > pos ? off : pos;
		uint64_t hi = off + len < pos + l ? off + len : pos + l;
		if (lo < hi) {
			expect_write(hva_to_gpa(&mem, p + (lo - pos)),
				     src + (lo - off), hi - lo);
			n += hi - lo;
		}
		pos += l;
	}
	r = vq_chain_write(c, off, src, len);
	TRACE("chain_write(%lu, %lu): %d", (unsigned long)off,
	      (unsigned long)len, r);
	INVARIANTF(r == (n == len ? 0 : -EFAULT),
		   "vq_chain_write(%lu, %lu) = %d of %lu writable bytes",
		   (unsigned long)off, (unsigned long)len, r,
		   (unsigned long)c->in_bytes);
	expect_end("vq_chain_write");
}

static void op_mark_dirty(struct fin *in)
{
	const struct vq_chain *c = &st.chain;
	uint64_t bytes = fin_u16(in), left = bytes;

	if (!st.have_chain)
		return;
	expect_begin();
	for (unsigned i = c->n_out; i < c->n_out + c->n_in && left; i++) {
		uint64_t l =
			c->iov[i].iov_len < left ? c->iov[i].iov_len : left;
		INVARIANT(st.nwr < MAX_WRITES);
		st.wr[st.nwr].gpa = hva_to_gpa(&mem, c->iov[i].iov_base);
		st.wr[st.nwr++].len = l;
		left -= l;
	}
	vq_mark_dirty(&mem, c->iov + c->n_out, c->n_in, bytes);
	expect_end("vq_mark_dirty");
}

/* ---- the driver's operations ---- */

static void op_avail_add(struct fin *in)
{
	uint16_t head = fin_u16(in), idx;

	if (!st.ref.ready)
		return;
	idx = ram_rd16(&mem, st.ref.avail + 2);
	drv_store16(st.ref.avail + 4 + 2ULL * (idx % st.ref.size), head);
	drv_store16(st.ref.avail + 2, (uint16_t)(idx + 1));
}

static void op_ring_field(struct fin *in)
{
	uint8_t which = fin_u8(in) % 4;
	uint16_t v = fin_u16(in);

	if (!st.ref.ready)
		return;
	switch (which) {
	case 0: drv_store16(st.ref.avail, v); break;	 /* flags */
	case 1: drv_store16(st.ref.avail + 2, v); break; /* idx */
	case 2:						 /* used_event */
		drv_store16(st.ref.avail + 4 + 2ULL * st.ref.size, v);
		break;
	default: drv_store16(st.ref.used + 2, v); break; /* a hostile idx */
	}
}

static void op_desc(struct fin *in, bool table)
{
	gpa_t at;
	struct vring_desc d;

	if (table) {
		at = gpa_spec(in);
		at += 16ULL * fin_u8(in);
	} else {
		uint16_t i = fin_u16(in);
		if (!st.ref.ready)
			return;
		at = st.ref.desc + 16ULL * (i % st.ref.size);
	}
	d = desc_spec(in);
	drv_write(at, &d, sizeof(d));
}

static void op_poke(struct fin *in)
{
	gpa_t at = gpa_spec(in);
	uint8_t len = fin_u8(in) % 17, b[16];

	for (unsigned i = 0; i < len; i++)
		b[i] = fin_u8(in);
	drv_write(at, b, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };

	for (unsigned i = 0; i < 2; i++) {
		memset(mem.regions[i].hva, 0, mem.regions[i].size);
		memset(shadow[i], 0, mem.regions[i].size);
	}
	fuzz_ram_clear_dirty(&mem);
	configure(&in);
	for (unsigned n = 0; n < MAX_OPS && in.n; n++) {
		bool was_broken = st.ref.broken;
		switch (fin_u8(&in) % 15) {
		case 0:
		case 1: op_pop(); break;
		case 2: op_push(&in); break;
		case 3: op_avail_add(&in); break;
		case 4: op_ring_field(&in); break;
		case 5: op_desc(&in, false); break;
		case 6: op_desc(&in, true); break;
		case 7: op_poke(&in); break;
		case 8: op_set_notification(&in); break;
		case 9: op_should_notify(); break;
		case 10: op_chain_read(&in); break;
		case 11: op_chain_write(&in); break;
		case 12: op_mark_dirty(&in); break;
		case 13:
			configure(&in);
			was_broken = false;
			break;
		default:
			/* A chain of avail entries at once. */
			for (unsigned k = fin_u8(&in) % 8; k; k--)
				op_avail_add(&in);
			break;
		}
		/* Broken for good, until the queue is enabled again. */
		if (was_broken)
			INVARIANT(st.vq.broken && st.ref.broken);
		INVARIANT(st.vq.broken == st.ref.broken);
	}
	return 0;
}
