#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "dummy_virtio.h"
#include "devices/virtio/mmio.h"

#define RAM (16ULL << 20)

/* What the transport reported. */
struct dummy {
	unsigned irqs, last_notify, notifies;
};

static struct guest_mem mem;
static struct virtio_dev vd;
static struct virtio_mmio m;
static struct dummy dev;
static struct dummy_virtio dv;

static void on_irq(void *o)
{
	((struct dummy *)o)->irqs++;
}
static void on_notify(void *o, unsigned q)
{
	((struct dummy *)o)->notifies++;
	((struct dummy *)o)->last_notify = q;
}

static void setup(void)
{
	memset(&dev, 0, sizeof(dev));
	dummy_virtio_setup(&mem, RAM, &vd, &dv, 2);
	virtio_mmio_init(&m, &vd, on_irq, on_notify, &dev);
}

static void teardown(void)
{
	mem_destroy(&mem);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

static uint32_t rd(uint64_t off)
{
	uint32_t v;
	virtio_mmio_ops.read(&m, off, (uint8_t *)&v, 4);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(&m, off, (const uint8_t *)&v, 4);
}

/* The driver side of a Linux probe, up to DRIVER_OK, with queue q at
 * gpa base (desc, avail, used 4 KiB apart) of size num. */
static void setup_queue(unsigned q, uint64_t base, uint32_t num)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_QUEUE_SIZE);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(base >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(base + 0x1000));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(base + 0x2000));
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void probe(uint32_t features_hi)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES,
	   1u << 5 | 1u << VIRTIO_RING_F_EVENT_IDX);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, features_hi);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				       VIRTIO_CONFIG_S_DRIVER |
				       VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_mmio, identity_registers)
{
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(rd(VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_ID), 2);
	cr_assert_eq(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES),
		     1u << 5 | 1u << VIRTIO_RING_F_INDIRECT_DESC |
			     1u << VIRTIO_RING_F_EVENT_IDX);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1, "VERSION_1");
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

Test(virtio_mmio, linux_probe_sequence_activates_the_device)
{
	probe(1);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_eq(vd.guest_features,
		     1ULL << 32 | 1ULL << 5 | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	setup_queue(0, 0x10000, 128);
	setup_queue(1, 0x20000, 256);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	cr_assert(vd.vqs[1].event_idx && !vd.vqs[1].indirect);
	cr_assert_eq(vd.vqs[0].size, 128);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert_eq(dv.activations, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0x0f);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	cr_assert_eq(dev.notifies, 1);
	cr_assert_eq(dev.last_notify, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 9); /* no such queue */
	cr_assert_eq(dev.notifies, 1);
}

Test(virtio_mmio, used_buffer_interrupt_and_ack)
{
	probe(1);
	setup_queue(0, 0x10000, 8);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert_eq(vq_push(&vd.vqs[0], 0, 0), 0);
	virtio_notify_queue(&vd, 0);
	cr_assert_eq(dev.irqs, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

Test(virtio_mmio, reset_deactivates_and_forgets_queues)
{
	probe(1);
	setup_queue(0, 0x10000, 8);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(dv.deactivations, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(vd.guest_features, 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(vd.vqs[0].desc, 0);
}

Test(virtio_mmio, features_ok_needs_version_1)
{
	probe(0);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert_eq(dv.activations, 0, "no DRIVER_OK without FEATURES_OK");
}

Test(virtio_mmio, features_frozen_after_features_ok)
{
	probe(1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	cr_assert(vd.guest_features & (1ULL << 5));
	/* Bits the device does not offer are never accepted. */
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	cr_assert_eq(vd.guest_features,
		     1ULL << 5 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC |
			     1ULL << VIRTIO_RING_F_EVENT_IDX);
}

Test(virtio_mmio, bad_rings_need_reset)
{
	static const struct {
		uint32_t num;
		uint64_t base;
	} bad[] = {
		{ 100, 0x10000 }, /* not a power of two */
		{ 512, 0x10000 }, /* above QueueNumMax */
		{ 8, RAM },	  /* outside RAM */
		{ 8, 0x10008 },	  /* misaligned avail/used are fine, desc not */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dev.irqs = 0;
		probe(1);
		cr_assert_eq(rd(VIRTIO_MMIO_STATUS) &
				     VIRTIO_CONFIG_S_NEEDS_RESET,
			     0);
		setup_queue(0, bad[i].base, bad[i].num);
		cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0, "case %zu", i);
		cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
			  "case %zu", i);
		cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) &
			  VIRTIO_MMIO_INT_CONFIG);
		cr_assert_eq(dev.irqs, 1);
	}
}

Test(virtio_mmio, layout_frozen_while_ready_and_bad_selectors)
{
	probe(1);
	setup_queue(0, 0x10000, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x50000);
	cr_assert_eq(vd.vqs[0].desc, 0x10000);
	wr(VIRTIO_MMIO_QUEUE_SEL, 5);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(virtio_mmio, config_space_bounds_and_access_sizes)
{
	uint8_t b[4] = { 0 };
	uint16_t h = 0;

	virtio_mmio_ops.read(&m, VIRTIO_MMIO_CONFIG + 2, b, 1);
	cr_assert_eq(b[0], 'C');
	virtio_mmio_ops.read(&m, VIRTIO_MMIO_CONFIG + 6, (uint8_t *)&h, 2);
	cr_assert_eq(h, 'G' | 'H' << 8);
	virtio_mmio_ops.read(&m, VIRTIO_MMIO_CONFIG + 6, b, 4);
	cr_assert_eq(b[0] | b[1] | b[2] | b[3], 0, "past the end reads 0");
	virtio_mmio_ops.write(&m, VIRTIO_MMIO_CONFIG + 0x7fffffffULL, b, 4);
	virtio_mmio_ops.write(&m, VIRTIO_MMIO_CONFIG, (const uint8_t *)"zz", 2);
	cr_assert_eq(dv.config[0], 'z');
	/* Registers other than config take only aligned 32-bit accesses. */
	virtio_mmio_ops.read(&m, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&h, 2);
	cr_assert_eq(h, 0);
	virtio_mmio_ops.write(&m, VIRTIO_MMIO_STATUS, b, 1);
	virtio_mmio_ops.read(&m, VIRTIO_MMIO_VERSION + 1, b, 4);
	cr_assert_eq(b[0], 0);
}

Test(virtio_mmio, activate_failure_needs_reset)
{
	dv.activate_result = -ENOMEM;
	probe(1);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(!vd.active);
}

Test(virtio_mmio, refuses_incomplete_ops_and_queue_counts)
{
	struct virtio_device_ops ops = dummy_ops;
	struct virtio_dev d;

	ops.activate = NULL;
	cr_assert_eq(virtio_dev_init(&d, &ops, &dv, 1, &mem), -EINVAL);
	cr_assert_eq(virtio_dev_init(&d, &dummy_ops, &dv, 0, &mem), -EINVAL);
	cr_assert_eq(virtio_dev_init(&d, &dummy_ops, &dv, VIRTIO_MAX_QUEUES + 1,
				     &mem),
		     -EINVAL);
}

/* virtio-blk behind virtio-mmio, through its real queue worker and
 * io_uring: the orders a hostile driver may write the registers in. Each
 * ends with the process alive and the device either serving or asking
 * for a reset. */
#define RING_A 0x100000ULL
#define RING_B 0x200000ULL
#define DATA_A 0x400000ULL
#define DATA_B 0x500000ULL
#define BQSIZE 64

static struct vblk blk;
static char blk_path[] = "/tmp/vmm-test-mmio-blk-XXXXXX";
static struct test_ring ring;

static void blk_notify(void *o, unsigned q)
{
	vblk_kick(o, q);
}
static void blk_irq(void *o)
{
	(void)o;
}

static void blk_setup(void)
{
	dummy_virtio_setup(&mem, RAM, &vd, &dv, 1); /* the RAM; vd unused */
	test_disk_open(&blk, blk_path, &mem, 1);
	virtio_mmio_init(&m, &blk.vdev, blk_irq, blk_notify, &blk);
}

static void blk_teardown(void)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	test_disk_close(&blk, blk_path);
	mem_destroy(&mem);
}

TestSuite(mmio_blk, .init = blk_setup, .fini = blk_teardown);

/* Reset, negotiation, queue 0 on the rings at base, DRIVER_OK. */
static void blk_bring_up(gpa_t base, gpa_t data)
{
	probe(1);
	test_ring_init(&ring, &mem, base, data, BQSIZE);
	setup_queue(0, base, BQSIZE);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0x0f);
}

/* Reads n requests (sectors 8i) and checks each one's data. */
static void blk_expect_serving(unsigned n)
{
	uint16_t first = ring.avail_idx;

	for (unsigned i = 0; i < n; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * i);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(test_ring_wait(&ring, (uint16_t)(first + n)), "not served");
	for (unsigned i = 0; i < n; i++)
		cr_assert(test_ring_read_ok(&ring, i, 8 * i), "request %u", i);
}

/* Makes n reads available, notifies and waits (a while at most) until
 * the worker has some in flight. */
static void blk_start_io(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 16 * i);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	test_wait_inflight(&blk, 0);
}

static void used_is_stable(void)
{
	struct timespec ms = { 0, 5000000 };
	uint16_t used = test_ring_used(&ring);

	nanosleep(&ms, NULL);
	cr_assert_eq(test_ring_used(&ring), used, "the stopped queue moved");
}

Test(mmio_blk, reads_are_served_and_their_pages_marked_dirty)
{
	blk_bring_up(RING_A, DATA_A);
	blk_expect_serving(4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert(mem_page_dirty(&mem, DATA_A + 4096ULL * i));
	cr_assert(!mem_page_dirty(&mem, DATA_A + 4096ULL * 4), "never written");
	cr_assert(mem_page_dirty(&mem, RING_A + 0x4000), "status bytes");
	cr_assert(mem_page_dirty(&mem, RING_A + 0x2000), "used ring");
}

Test(mmio_blk, driver_ok_again_without_reset_changes_nothing)
{
	unsigned tasks, fds;

	blk_bring_up(RING_A, DATA_A);
	tasks = count_threads();
	fds = count_entries("/proc/self/fd");
	for (unsigned i = 0; i < 300; i++) {
		blk_start_io(8);
		wr(VIRTIO_MMIO_STATUS, 0x0b);
		wr(VIRTIO_MMIO_STATUS, 0x0f);
		cr_assert(test_ring_wait(&ring, (uint16_t)(8 * (i + 1))),
			  "iteration %u", i);
	}
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0x0f, "serving, no reset needed");
	cr_assert_eq(
		__atomic_load_n(&blk.queues[0].worker.starts, __ATOMIC_RELAXED),
		1, "started once");
	cr_assert_eq(count_threads(), tasks);
	cr_assert_eq(count_entries("/proc/self/fd"), fds);
	blk_expect_serving(4);
}

Test(mmio_blk, queue_ready_0_then_num_0_with_io_in_flight)
{
	blk_bring_up(RING_A, DATA_A);
	for (unsigned i = 0; i < 50; i++) {
		blk_start_io(16);
		wr(VIRTIO_MMIO_QUEUE_SEL, 0);
		wr(VIRTIO_MMIO_QUEUE_READY, 0);
		cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
		/* Nothing of what was popped is still in flight. */
		cr_assert_eq(blk.queues[0].ctx.inflight, 0);
		wr(VIRTIO_MMIO_QUEUE_NUM, 0);
		used_is_stable();
		/* Re-enabling after DRIVER_OK is ignored, even with other
		 * rings; the driver must reset. */
		setup_queue(0, RING_B, BQSIZE);
		cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		used_is_stable();
		blk_bring_up(i % 2 ? RING_A : RING_B, i % 2 ? DATA_A : DATA_B);
	}
	blk_expect_serving(8);
	cr_assert_gt(blk.queues[0].worker.drained, 0,
		     "no stop came with requests in flight");
}

Test(mmio_blk, reset_with_io_in_flight_then_other_rings)
{
	unsigned tasks, fds;

	blk_bring_up(RING_A, DATA_A);
	tasks = count_threads();
	fds = count_entries("/proc/self/fd");
	for (unsigned i = 0; i < 100; i++) {
		blk_start_io(16);
		wr(VIRTIO_MMIO_STATUS, 0);
		cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0);
		cr_assert_eq(blk.queues[0].ctx.inflight, 0);
		blk_bring_up(i % 2 ? RING_A : RING_B, i % 2 ? DATA_A : DATA_B);
	}
	blk_expect_serving(8);
	cr_assert_eq(count_threads(), tasks);
	cr_assert_eq(count_entries("/proc/self/fd"), fds);
	cr_assert_gt(blk.queues[0].worker.drained, 0,
		     "no reset came with requests in flight");
}

Test(mmio_blk, rings_moved_outside_ram_with_io_in_flight)
{
	blk_bring_up(RING_A, DATA_A);
	blk_start_io(16);
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(RAM - 0x100));
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 1);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	used_is_stable();
	/* The same rings in a fresh initialisation: refused. */
	probe(1);
	setup_queue(0, RAM - 0x1000, BQSIZE);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(!blk.vdev.active, "a broken device does not start");
	blk_bring_up(RING_B, DATA_B);
	blk_expect_serving(8);
}

Test(mmio_blk, queue_num_max_is_the_one_limit)
{
	probe(1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VBLK_QUEUE_SIZE);
	setup_queue(0, RING_A, 2 * VBLK_QUEUE_SIZE);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}
