/* Saving and restoring virtio devices (devices/virtio/virtio_state.h,
 * pci_state.h, mmio_state.h, blk_state.h): round trips of the core and
 * transport state through the stream between two devices built alike
 * (virtio-pci with the dummy device; virtio-mmio with virtio-blk and its
 * queue workers, requests in flight at the quiesce), and the checks of
 * hostile states. */
#include <criterion/criterion.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/blk_state.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/pci_state.h"
#include "devices/virtio/virtio_state.h"
#include "dummy_virtio.h"
#include "lib/stream.h"

#define RAM (16ULL << 20)
#define MAX_SECS 4

/* The sections one save wrote, payloads copied. */
struct saved {
	unsigned n;
	struct stream_section s[MAX_SECS];
	uint8_t payload[MAX_SECS][4096];
};

typedef int (*save_fn)(void *dev, struct stream_writer *w);

static void save_sections(save_fn fn, void *dev, struct saved *out)
{
	int fd = memfd_create("state", 0);
	struct stream_writer w;
	struct stream_reader r;
	struct stream_section s;

	cr_assert(fd >= 0);
	cr_assert_eq(stream_writer_init(&w, fd), 0);
	cr_assert_eq(stream_put_header(&w), 0);
	cr_assert_eq(fn(dev, &w), 0);
	cr_assert_eq(stream_put_end(&w), 0);
	cr_assert_eq(stream_flush(&w), 0);
	stream_writer_free(&w);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(stream_reader_init(&r, fd), 0);
	cr_assert_eq(stream_get_header(&r), 0);
	memset(out, 0, sizeof(*out));
	for (;;) {
		cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
		if (s.id == STREAM_SEC_END)
			break;
		cr_assert_lt(out->n, MAX_SECS);
		cr_assert_leq(s.len, sizeof(out->payload[0]));
		memcpy(out->payload[out->n], s.payload, s.len);
		out->s[out->n] = s;
		out->s[out->n].payload = out->payload[out->n];
		out->n++;
	}
	stream_reader_free(&r);
	close(fd);
}

/* ---- virtio-pci with the dummy device ---- */

struct hooks_seen {
	unsigned routes, fires, last_fire;
	uint64_t route_mask, bar_gpa;
};

static struct guest_mem mem;
static struct virtio_dev vd_a, vd_b;
static struct dummy_virtio dv_a, dv_b;
static struct virtio_pci pa, pb;
static struct hooks_seen seen_a, seen_b;

static int route(void *o, unsigned vec, uint64_t a, uint32_t d)
{
	struct hooks_seen *h = o;

	(void)a, (void)d;
	h->routes++;
	h->route_mask |= 1ULL << vec;
	return 0;
}
static void fire(void *o, unsigned vec)
{
	((struct hooks_seen *)o)->fires++;
	((struct hooks_seen *)o)->last_fire = vec;
}
static void notify(void *o, unsigned q)
{
	(void)o, (void)q;
}
static void bar_moved(void *o, uint64_t gpa, bool mapped)
{
	((struct hooks_seen *)o)->bar_gpa = mapped ? gpa : 0;
}

static const struct virtio_pci_hooks hooks = {
	.irq = { route, fire },
	.notify = notify,
	.bar_moved = bar_moved,
};

static void pci_setup(void)
{
	struct mem_config cfg = { .size = RAM, .backend = MEM_BACKEND_ANON };

	memset(&seen_a, 0, sizeof(seen_a));
	memset(&seen_b, 0, sizeof(seen_b));
	cr_assert_eq(test_mem_create(&mem, &cfg), 0);
	memset(&dv_a, 0, sizeof(dv_a));
	memset(&dv_b, 0, sizeof(dv_b));
	cr_assert_eq(virtio_dev_init(&vd_a, &dummy_ops, &dv_a, 2, &mem), 0);
	cr_assert_eq(virtio_dev_init(&vd_b, &dummy_ops, &dv_b, 2, &mem), 0);
	cr_assert_eq(virtio_pci_init(&pa, &vd_a, &hooks, &seen_a), 0);
	cr_assert_eq(virtio_pci_init(&pb, &vd_b, &hooks, &seen_b), 0);
}

static void pci_teardown(void)
{
	virtio_pci_destroy(&pa);
	virtio_pci_destroy(&pb);
	mem_destroy(&mem);
}

TestSuite(virtio_state_pci, .init = pci_setup, .fini = pci_teardown);

static uint64_t prd(struct virtio_pci *p, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	p->pci.bar_ops[0]->read(p, off, (uint8_t *)&v, size);
	return v;
}

static void pwr(struct virtio_pci *p, uint64_t off, uint64_t v, unsigned size)
{
	p->pci.bar_ops[0]->write(p, off, (const uint8_t *)&v, size);
}

static void pci_queue(struct virtio_pci *p, unsigned q, uint64_t base,
		      uint16_t vec)
{
	pwr(p, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
	pwr(p, VIRTIO_PCI_COMMON_Q_SIZE, 64, 2);
	pwr(p, VIRTIO_PCI_COMMON_Q_DESCLO, base, 8);
	pwr(p, VIRTIO_PCI_COMMON_Q_AVAILLO, base + 0x1000, 8);
	pwr(p, VIRTIO_PCI_COMMON_Q_USEDLO, base + 0x2000, 8);
	pwr(p, VIRTIO_PCI_COMMON_Q_MSIX, vec, 2);
	pwr(p, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

/* A driver's bring-up on pa: memory decoding at a moved BAR, MSI-X on
 * with vector 1 unmasked and vector 2 masked, both queues enabled, a
 * disabled queue layout left behind on queue 1 before enabling, DRIVER_OK;
 * then an interrupt on queue 1 (vector 2: masked, so pending). */
static void pci_bring_up(void)
{
	uint32_t bar = 0xc0100000;

	pci_cfg_set(&pa.pci, PCI_BASE_ADDRESS_0, 4, bar);
	pci_cfg_set(&pa.pci, PCI_COMMAND, 2,
		    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* As a configuration write merges it under the write mask. */
	pci_cfg_set(&pa.pci, pa.msix.cap + PCI_MSIX_FLAGS, 2,
		    pci_cfg_get(&pa.pci, pa.msix.cap + PCI_MSIX_FLAGS, 2) |
			    PCI_MSIX_FLAGS_ENABLE);
	msix_config_written(&pa.msix, pa.msix.cap + PCI_MSIX_FLAGS, 2);
	pwr(&pa, VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_LOWER_ADDR,
	    0xfee00000, 4);
	pwr(&pa, VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_DATA, 0x41, 4);
	pwr(&pa, VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	pwr(&pa, VPCI_MSIX_TABLE_OFF + 32 + PCI_MSIX_ENTRY_DATA, 0x42, 4);
	pwr(&pa, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
	pwr(&pa, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	pwr(&pa, VIRTIO_PCI_COMMON_GF, 1, 4); /* VERSION_1 */
	pwr(&pa, VIRTIO_PCI_COMMON_STATUS, 0x0b, 1);
	pwr(&pa, VIRTIO_PCI_COMMON_MSIX, 0, 2);
	pci_queue(&pa, 0, 0x100000, 1);
	pci_queue(&pa, 1, 0x200000, 2);
	pwr(&pa, VIRTIO_PCI_COMMON_STATUS, 0x0f, 1);
	cr_assert_eq(dv_a.activations, 1);
	virtio_queue_interrupt(&vd_a, 1);
	cr_assert_eq(pa.msix.pending, 1ULL << 2);
	pwr(&pa, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
}

static int save_pci_a(void *dev, struct stream_writer *w)
{
	(void)dev;
	virtio_quiesce(&vd_a);
	return virtio_state_save(&vd_a, w, 3);
}

Test(virtio_state_pci, round_trip)
{
	struct saved st;

	pci_bring_up();
	save_sections(save_pci_a, NULL, &st);
	virtio_resume(&vd_a);
	cr_assert_eq(st.n, 1);
	cr_assert_eq(st.s[0].id, STREAM_SEC_DEVICE);
	cr_assert_eq(st.s[0].instance, 3);
	cr_assert(virtio_state_is(&st.s[0]));
	cr_assert_eq(virtio_state_restore(&vd_b, &st.s[0]), 0);
	/* Started again, with its BAR decoding where the guest put it and
	 * the unmasked vector routed; the masked one still pending. */
	cr_assert_eq(dv_b.activations, 1);
	cr_assert(vd_b.active);
	cr_assert_eq(seen_b.bar_gpa, 0xc0100000);
	cr_assert_eq(seen_b.route_mask, 1ULL << 1);
	cr_assert_eq(seen_b.fires, 0);
	cr_assert_eq(prd(&pb, VPCI_MSIX_PBA_OFF, 8), 1ULL << 2);
	cr_assert_eq(memcmp(pa.pci.cfg, pb.pci.cfg, PCI_CFG_SIZE), 0);
	/* The common configuration reads the same, selector included. */
	for (uint64_t off = 0; off < 0x38; off += 2) {
		if (off == VIRTIO_PCI_COMMON_STATUS - 2 ||
		    off == VIRTIO_PCI_COMMON_STATUS)
			continue;
		cr_assert_eq(prd(&pa, off, 2), prd(&pb, off, 2), "offset %#lx",
			     (unsigned long)off);
	}
	cr_assert_eq(prd(&pb, VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
	for (unsigned q = 0; q < 2; q++) {
		pwr(&pa, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
		pwr(&pb, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
		for (uint64_t off = VIRTIO_PCI_COMMON_Q_SIZE; off < 0x38;
		     off += 2)
			cr_assert_eq(prd(&pa, off, 2), prd(&pb, off, 2),
				     "queue %u offset %#lx", q,
				     (unsigned long)off);
	}
	/* The ISR the interrupt set is still there, read once. */
	cr_assert_eq(prd(&pb, VPCI_ISR_OFF, 1), 1);
	cr_assert_eq(prd(&pb, VPCI_ISR_OFF, 1), 0);
	/* Unmasking the pending vector fires it (routed first). */
	pwr(&pb, VPCI_MSIX_TABLE_OFF + 32 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	cr_assert_eq(seen_b.fires, 1);
	cr_assert_eq(seen_b.last_fire, 2);
	/* A second state for the same device is refused. */
	cr_assert_eq(virtio_state_restore(&vd_b, &st.s[0]), -EPROTO);
}

Test(virtio_state_pci, a_device_never_started)
{
	struct saved st;

	save_sections(save_pci_a, NULL, &st);
	virtio_resume(&vd_a);
	cr_assert_eq(virtio_state_restore(&vd_b, &st.s[0]), 0);
	cr_assert_eq(dv_b.activations, 0);
	cr_assert_eq(seen_b.bar_gpa, 0);
	cr_assert_eq(seen_b.routes, 0);
}

/* Hostile states: each change of a good one is -EPROTO from the pure
 * check, and the device restored from none of them. */
static struct saved good;

static void check_bad(void (*mutate)(uint8_t *p, struct virtio_core_state *c,
				     struct virtio_pci_state *t),
		      const char *what)
{
	uint8_t buf[4096];
	struct virtio_core_state c;
	struct virtio_pci_state t;
	char why[256] = "";
	uint64_t len = good.s[0].len;

	memcpy(buf, good.payload[0], len);
	memcpy(&c, buf, sizeof(c));
	memcpy(&t, buf + sizeof(c), sizeof(t));
	mutate(buf, &c, &t);
	memcpy(buf, &c, sizeof(c));
	memcpy(buf + sizeof(c), &t, sizeof(t));
	cr_assert_eq(virtio_state_check(&vd_b, buf, len, VIRTIO_STATE_VERSION,
					why, sizeof(why)),
		     -EPROTO, "%s accepted", what);
	cr_assert_neq(why[0], 0, "%s: no reason", what);
}

static void check_good(void (*mutate)(uint8_t *p, struct virtio_core_state *c,
				      struct virtio_pci_state *t),
		       const char *what)
{
	uint8_t buf[4096];
	struct virtio_core_state c;
	struct virtio_pci_state t;
	char why[256] = "";
	uint64_t len = good.s[0].len;

	memcpy(buf, good.payload[0], len);
	memcpy(&c, buf, sizeof(c));
	memcpy(&t, buf + sizeof(c), sizeof(t));
	mutate(buf, &c, &t);
	memcpy(buf, &c, sizeof(c));
	memcpy(buf + sizeof(c), &t, sizeof(t));
	cr_assert_eq(virtio_state_check(&vd_b, buf, len, VIRTIO_STATE_VERSION,
					why, sizeof(why)),
		     0, "%s refused: %s", what, why);
}

#define MUT(name, body)                                                        \
	static void name(uint8_t *p, struct virtio_core_state *c,              \
			 struct virtio_pci_state *t)                           \
	{                                                                      \
		(void)p, (void)c, (void)t;                                     \
		body;                                                          \
	}

MUT(size_not_pow2, c->q[0].size = 48)
MUT(size_above_max, c->q[1].size = VIRTIO_QUEUE_SIZE * 2)
MUT(ring_outside_ram, c->q[0].used = RAM + 0x1000)
MUT(ring_misaligned, c->q[0].desc += 8)
MUT(served_not_ready, {
	c->q[1].serving = 1;
	c->q[1].ready = 0;
})
MUT(served_without_worker, c->q[0].serving = 1)
MUT(flag_not_bool, c->q[0].event_idx = 2)
MUT(third_queue, c->q[2].size = 64)
MUT(num_queues, c->num_queues = 3)
MUT(magic, c->magic ^= 1)
MUT(transport_kind, c->transport = VIRTIO_TRANSPORT_MMIO)
MUT(features_not_offered, c->guest_features |= 1ULL << 40)
MUT(active_without_driver_ok, c->status = 0x0b)
MUT(indices_unserved, {
	c->q[1].serving = 0;
	c->q[1].last_avail = 5;
	c->active = 0;
	c->q[0].serving = 0;
})
MUT(config_vector, t->config_vector = 3)
MUT(queue_vector, t->queue_vector[0] = 17)
MUT(absent_queue_vector, t->queue_vector[5] = 0)
MUT(isr, t->isr = 4)
MUT(cfg_read_only, t->cfg[PCI_VENDOR_ID] ^= 1)
MUT(cfg_bar_low_bits, t->cfg[PCI_BASE_ADDRESS_0] |= 0x10)
MUT(msix_nvec, t->msix.nvec = 64)
MUT(msix_pending_beyond, t->msix.pending |= 1ULL << 3)
MUT(msix_pending_disabled, t->cfg[pb.msix.cap + PCI_MSIX_FLAGS + 1] = 0)
MUT(msix_ctrl, t->msix.table[0].ctrl = 2)
MUT(msix_addr, t->msix.table[1].addr |= 1)
MUT(msix_unused_entry, t->msix.table[5].data = 1)

/* What a live guest can program is accepted. */
MUT(unready_ring_outside_ram, {
	c->q[0].ready = 0;
	c->q[0].serving = 0;
	c->q[0].last_avail = c->q[0].used_idx = 0;
	c->q[0].signalled_used = c->q[0].signalled_valid = 0;
	c->q[0].broken = 0;
	c->q[0].size = 3;
	c->q[0].desc = ~0ULL - 4;
	c->q[0].used = RAM * 4;
})
MUT(any_selectors, {
	t->queue_sel = 0xffff;
	t->device_features_sel = 0xffffffff;
})
MUT(no_vector, t->queue_vector[1] = VIRTIO_MSI_NO_VECTOR)

Test(virtio_state_pci, hostile_states)
{
	char why[256];

	pci_bring_up();
	save_sections(save_pci_a, NULL, &good);
	virtio_resume(&vd_a);
	check_bad(size_not_pow2, "a ready queue of 48");
	check_bad(size_above_max, "a queue above QueueNumMax");
	check_bad(ring_outside_ram, "a ready ring outside RAM");
	check_bad(ring_misaligned, "a misaligned ready ring");
	check_bad(served_not_ready, "a served queue not ready");
	check_bad(served_without_worker, "a served queue without a worker");
	check_bad(flag_not_bool, "a flag of 2");
	check_bad(third_queue, "a queue the device does not have");
	check_bad(num_queues, "3 queues");
	check_bad(magic, "a bad magic");
	check_bad(transport_kind, "the mmio transport");
	check_bad(features_not_offered, "features not offered");
	check_bad(active_without_driver_ok, "started without DRIVER_OK");
	check_bad(indices_unserved, "indices of a queue not served");
	check_bad(config_vector, "config vector 3 of 3");
	check_bad(queue_vector, "queue vector 17");
	check_bad(absent_queue_vector, "a vector for queue 5");
	check_bad(isr, "ISR bit 2");
	check_bad(cfg_read_only, "a changed vendor id");
	check_bad(cfg_bar_low_bits, "BAR size bits");
	check_bad(msix_nvec, "64 vectors");
	check_bad(msix_pending_beyond, "a pending bit past the vectors");
	check_bad(msix_pending_disabled, "pending while MSI-X is off");
	check_bad(msix_ctrl, "a vector control bit 1");
	check_bad(msix_addr, "an unaligned MSI address");
	check_bad(msix_unused_entry, "an entry past the vectors");
	check_good(unready_ring_outside_ram, "a disabled queue anywhere");
	check_good(any_selectors, "any selectors");
	check_good(no_vector, "NO_VECTOR");
	/* Lengths and versions. */
	cr_assert_eq(virtio_state_check(&vd_b, good.payload[0],
					good.s[0].len - 1, VIRTIO_STATE_VERSION,
					why, sizeof(why)),
		     -EPROTO);
	cr_assert_eq(virtio_state_check(&vd_b, good.payload[0], 16,
					VIRTIO_STATE_VERSION, why, sizeof(why)),
		     -EPROTO);
	cr_assert_eq(virtio_state_check(&vd_b, good.payload[0], good.s[0].len,
					VIRTIO_STATE_VERSION + 1, why,
					sizeof(why)),
		     -EPROTO);
	/* The refused restore left the device as it was. */
	good.s[0].len--;
	cr_assert_eq(virtio_state_restore(&vd_b, &good.s[0]), -EPROTO);
	cr_assert_eq(vd_b.status, 0);
	cr_assert_eq(dv_b.activations, 0);
	cr_assert_eq(seen_b.routes, 0);
}

/* ---- virtio-mmio with virtio-blk: requests in flight ---- */

#define BQSIZE 64
#define RING_BASE 0x400000ULL
#define DATA_BASE 0x500000ULL

static struct vblk blk_a, blk_b;
static struct virtio_mmio ma, mb;
static char path[] = "/tmp/vmm-test-state-blk-XXXXXX";
static struct test_ring ring;
static unsigned irqs_a, irqs_b;

static void blk_notify(void *o, unsigned q)
{
	vblk_kick(o, q);
}
static void irq_a(void *o)
{
	(void)o;
	__atomic_add_fetch(&irqs_a, 1, __ATOMIC_SEQ_CST);
}
static void irq_b(void *o)
{
	(void)o;
	__atomic_add_fetch(&irqs_b, 1, __ATOMIC_SEQ_CST);
}

static void blk_setup(void)
{
	struct mem_config cfg = { .size = RAM, .backend = MEM_BACKEND_ANON };
	struct vblk_config bc = { .path = path, .queues = 1, .direct = true };

	irqs_a = irqs_b = 0;
	cr_assert_eq(test_mem_create(&mem, &cfg), 0);
	test_disk_open(&blk_a, path, &mem, 1);
	cr_assert_eq(vblk_init(&blk_b, &bc, 0, &mem), 0);
	virtio_mmio_init(&ma, &blk_a.vdev, irq_a, blk_notify, &blk_a);
	virtio_mmio_init(&mb, &blk_b.vdev, irq_b, blk_notify, &blk_b);
}

static void mwr(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(m, off, (const uint8_t *)&v, 4);
}

static uint32_t mrd(struct virtio_mmio *m, uint64_t off)
{
	uint32_t v;
	virtio_mmio_ops.read(m, off, (uint8_t *)&v, 4);
	return v;
}

static void blk_teardown(void)
{
	mwr(&mb, VIRTIO_MMIO_STATUS, 0);
	vblk_destroy(&blk_b);
	test_disk_close(&blk_a, path);
	mem_destroy(&mem);
}

TestSuite(virtio_state_blk, .init = blk_setup, .fini = blk_teardown);

static void blk_bring_up(void)
{
	mwr(&ma, VIRTIO_MMIO_STATUS, 0);
	mwr(&ma, VIRTIO_MMIO_STATUS, 3);
	mwr(&ma, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mwr(&ma, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	mwr(&ma, VIRTIO_MMIO_STATUS, 0x0b);
	test_ring_init(&ring, &mem, RING_BASE, DATA_BASE, BQSIZE);
	mwr(&ma, VIRTIO_MMIO_QUEUE_SEL, 0);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NUM, BQSIZE);
	mwr(&ma, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RING_BASE);
	mwr(&ma, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)RING_BASE + 0x1000);
	mwr(&ma, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)RING_BASE + 0x2000);
	mwr(&ma, VIRTIO_MMIO_QUEUE_READY, 1);
	mwr(&ma, VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert_eq(mrd(&ma, VIRTIO_MMIO_STATUS), 0x0f);
}

static int save_blk_a(void *dev, struct stream_writer *w)
{
	(void)dev;
	return vblk_save(&blk_a, w, 0);
}

/* Four requests served, eight more made available and some of them in
 * flight when the device is quiesced: every request it started completes
 * (and is interrupted for) before the quiesce returns, the rest waits in
 * the ring. The restored device serves exactly those, from the saved
 * indices, on the same guest memory; the source's resume then serves
 * nothing twice. */
Test(virtio_state_blk, in_flight_requests_survive)
{
	struct saved st;
	uint16_t used;
	struct timespec ms = { 0, 20000000 };

	blk_bring_up();
	for (unsigned i = 0; i < 4; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * i);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(test_ring_wait(&ring, 4));
	for (unsigned i = 4; i < 12; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * i);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	test_wait_inflight(&blk_a, 0);
	cr_assert_eq(vblk_quiesce(&blk_a), 0);
	cr_assert_eq(blk_a.queues[0].ctx.inflight, 0);
	used = test_ring_used(&ring);
	nanosleep(&ms, NULL);
	cr_assert_eq(test_ring_used(&ring), used, "served while quiesced");
	save_sections(save_blk_a, NULL, &st);
	cr_assert_eq(st.n, 2);
	cr_assert(!virtio_state_is(&st.s[0]));
	cr_assert(virtio_state_is(&st.s[1]));
	for (unsigned i = 0; i < st.n; i++)
		cr_assert_eq(vblk_restore(&blk_b, &st.s[i]), 0);
	cr_assert(blk_b.vdev.active);
	cr_assert_eq(mrd(&mb, VIRTIO_MMIO_STATUS), 0x0f);
	cr_assert_eq(mrd(&mb, VIRTIO_MMIO_QUEUE_READY), 1);
	/* The restored worker looked at the ring when it started. */
	cr_assert(test_ring_wait(&ring, 12), "used %u", test_ring_used(&ring));
	nanosleep(&ms, NULL);
	cr_assert_eq(test_ring_used(&ring), 12, "a request served twice");
	for (unsigned i = 0; i < 12; i++)
		cr_assert(test_ring_read_ok(&ring, i, 8 * i), "request %u", i);
	/* More requests go to the restored device. */
	for (unsigned i = 0; i < 4; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * (i + 20));
	mwr(&mb, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(test_ring_wait(&ring, 16));
	for (unsigned i = 0; i < 4; i++)
		cr_assert(test_ring_read_ok(&ring, i, 8 * (i + 20)));
	/* The source is stopped for good (its destroy drains nothing). */
}

/* A quiesced source that resumes (a failed migration) goes on where it
 * stopped. */
Test(virtio_state_blk, resume_goes_on)
{
	blk_bring_up();
	for (unsigned i = 0; i < 4; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * i);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(test_ring_wait(&ring, 4));
	cr_assert_eq(vblk_quiesce(&blk_a), 0);
	for (unsigned i = 4; i < 8; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * i);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	vblk_resume(&blk_a);
	cr_assert(test_ring_wait(&ring, 8));
	for (unsigned i = 0; i < 8; i++)
		cr_assert(test_ring_read_ok(&ring, i, 8 * i));
	mwr(&ma, VIRTIO_MMIO_STATUS, 0);
}

/* The mmio interrupt status is restored and raised again. */
Test(virtio_state_blk, interrupt_status_raised_again)
{
	struct saved st;

	blk_bring_up();
	test_ring_rw(&ring, 0, VIRTIO_BLK_T_IN, 0);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(test_ring_wait(&ring, 1));
	cr_assert_eq(vblk_quiesce(&blk_a), 0);
	cr_assert_eq(mrd(&ma, VIRTIO_MMIO_INTERRUPT_STATUS),
		     VIRTIO_MMIO_INT_VRING);
	save_sections(save_blk_a, NULL, &st);
	for (unsigned i = 0; i < st.n; i++)
		cr_assert_eq(vblk_restore(&blk_b, &st.s[i]), 0);
	cr_assert_eq(mrd(&mb, VIRTIO_MMIO_INTERRUPT_STATUS),
		     VIRTIO_MMIO_INT_VRING);
	cr_assert_geq(irqs_b, 1);
}

/* The device's own section must describe this disk. */
Test(virtio_state_blk, own_section_checked)
{
	struct saved st;
	struct vblk_state v;
	char why[256];

	blk_bring_up();
	cr_assert_eq(vblk_quiesce(&blk_a), 0);
	save_sections(save_blk_a, NULL, &st);
	memcpy(&v, st.payload[0], sizeof(v));
	v.capacity++;
	memcpy(st.payload[0], &v, sizeof(v));
	cr_assert_eq(vblk_state_check(&blk_b, &st.s[0], why, sizeof(why)),
		     -EPROTO);
	cr_assert_eq(vblk_restore(&blk_b, &st.s[0]), -EPROTO);
	v.capacity--;
	v.queues = 2;
	memcpy(st.payload[0], &v, sizeof(v));
	cr_assert_eq(vblk_restore(&blk_b, &st.s[0]), -EPROTO);
	v.queues = 1;
	memcpy(st.payload[0], &v, sizeof(v));
	st.s[0].version = 2;
	cr_assert_eq(vblk_restore(&blk_b, &st.s[0]), -EPROTO);
	st.s[0].version = 1;
	st.s[0].len = 20;
	cr_assert_eq(vblk_restore(&blk_b, &st.s[0]), -EPROTO);
	st.s[0].len = sizeof(v);
	cr_assert_eq(vblk_restore(&blk_b, &st.s[0]), 0);
}
