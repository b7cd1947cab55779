#include <criterion/criterion.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <string.h>

#include "dummy_virtio.h"
#include "devices/virtio/pci.h"

#define RAM (16ULL << 20)

/* What the transport reported. */
struct dummy {
	unsigned notifies, last_notify, fires, last_fire;
	uint64_t bar_gpa;
};

static struct guest_mem mem;
static struct virtio_dev vd;
static struct virtio_pci p;
static struct dummy dev;
static struct dummy_virtio dv;

static int route(void *o, unsigned vec, uint64_t a, uint32_t d)
{
	(void)o, (void)vec, (void)a, (void)d;
	return 0;
}
static void fire(void *o, unsigned vec)
{
	((struct dummy *)o)->fires++;
	((struct dummy *)o)->last_fire = vec;
}
static void notify(void *o, unsigned q)
{
	((struct dummy *)o)->notifies++;
	((struct dummy *)o)->last_notify = q;
}
static void bar_moved(void *o, uint64_t gpa, bool mapped)
{
	((struct dummy *)o)->bar_gpa = mapped ? gpa : 0;
}

static const struct virtio_pci_hooks hooks = {
	.irq = { route, fire },
	.notify = notify,
	.bar_moved = bar_moved,
};

static void setup(void)
{
	memset(&dev, 0, sizeof(dev));
	dummy_virtio_setup(&mem, RAM, &vd, &dv, 2);
	cr_assert_eq(virtio_pci_init(&p, &vd, &hooks, &dev), 0);
}

static void teardown(void)
{
	virtio_pci_destroy(&p);
	mem_destroy(&mem);
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

static uint64_t rd(uint64_t off, unsigned size)
{
	uint64_t v = 0;
	p.pci.bar_ops[0]->read(&p, off, (uint8_t *)&v, size);
	return v;
}

static void wr(uint64_t off, uint64_t v, unsigned size)
{
	p.pci.bar_ops[0]->write(&p, off, (const uint8_t *)&v, size);
}

/* Offset of the vendor capability of cfg_type type, 0 if none. */
static unsigned vcap(uint8_t type)
{
	for (unsigned at = p.pci.cfg[PCI_CAPABILITY_LIST]; at;
	     at = p.pci.cfg[at + 1])
		if (p.pci.cfg[at] == PCI_CAP_ID_VNDR &&
		    p.pci.cfg[at + 3] == type)
			return at;
	return 0;
}

Test(virtio_pci, modern_ids_and_capabilities)
{
	unsigned n;

	cr_assert_eq(pci_cfg_get(&p.pci, PCI_VENDOR_ID, 4), 0x10421af4);
	cr_assert_eq(p.pci.cfg[PCI_REVISION_ID], 1);
	cr_assert_eq(p.pci.bar_size[0], VPCI_BAR_SIZE);
	cr_assert_eq(
		pci_cfg_get(&p.pci, vcap(VIRTIO_PCI_CAP_COMMON_CFG) + 8, 4),
		VPCI_COMMON_OFF);
	cr_assert_eq(pci_cfg_get(&p.pci, vcap(VIRTIO_PCI_CAP_ISR_CFG) + 8, 4),
		     VPCI_ISR_OFF);
	cr_assert_eq(
		pci_cfg_get(&p.pci, vcap(VIRTIO_PCI_CAP_DEVICE_CFG) + 8, 4),
		VPCI_DEVICE_OFF);
	n = vcap(VIRTIO_PCI_CAP_NOTIFY_CFG);
	cr_assert_eq(pci_cfg_get(&p.pci, n + 8, 4), VPCI_NOTIFY_OFF);
	cr_assert_eq(pci_cfg_get(&p.pci, n + 16, 4), VPCI_NOTIFY_MULTIPLIER);
	cr_assert_neq(vcap(VIRTIO_PCI_CAP_PCI_CFG), 0);
	cr_assert_eq(p.msix.nvec, 3, "one vector per queue plus config");
}

Test(virtio_pci, common_config_registers)
{
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_NUMQ, 2), 2);
	wr(VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_DF, 4), 1, "VERSION_1");
	wr(VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	cr_assert(rd(VIRTIO_PCI_COMMON_DF, 4) & 1 << 5);
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTIO_QUEUE_SIZE);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

Test(virtio_pci, vectors_beyond_the_table_are_refused)
{
	wr(VIRTIO_PCI_COMMON_MSIX, 2, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_MSIX, 2), 2);
	wr(VIRTIO_PCI_COMMON_MSIX, 3, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	wr(VIRTIO_PCI_COMMON_Q_MSIX, 0x7fff, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

Test(virtio_pci, a_selected_queue_past_the_end_reads_zero_and_ignores_writes)
{
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 7, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 0x1000, 4);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
}

Test(virtio_pci, wrong_access_sizes_are_ignored)
{
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 1, 4); /* 16-bit register */
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 2); /* 8-bit register */
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_NUMQ, 4), 0);
	cr_assert_eq(rd(0x3f, 1), 0, "past the structure");
}

Test(virtio_pci, queue_setup_and_driver_ok)
{
	wr(VIRTIO_PCI_COMMON_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(VIRTIO_PCI_COMMON_GF, 1, 4);
	wr(VIRTIO_PCI_COMMON_STATUS, 0x0b, 1);
	cr_assert(rd(VIRTIO_PCI_COMMON_STATUS, 1) &
		  VIRTIO_CONFIG_S_FEATURES_OK);
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 64, 2);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 0x10000, 8);
	wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 0x11000, 4);
	wr(VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
	wr(VIRTIO_PCI_COMMON_Q_USEDLO, 0x12000, 4);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 0x20000, 4);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x10000,
		     "fixed once enabled");
	wr(VIRTIO_PCI_COMMON_STATUS, 0x0f, 1);
	cr_assert_eq(dv.activations, 1);
	wr(VIRTIO_PCI_COMMON_MSIX, 0, 2);
	wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR,
		     "reset clears vectors");
}

Test(virtio_pci, a_ring_outside_ram_breaks_the_device)
{
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, RAM - 16, 8);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	cr_assert(rd(VIRTIO_PCI_COMMON_STATUS, 1) &
		  VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(rd(VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
}

Test(virtio_pci, notify_isr_and_device_config)
{
	wr(VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULTIPLIER, 1, 2);
	cr_assert(dev.notifies == 1 && dev.last_notify == 1);
	wr(VPCI_NOTIFY_OFF + 2 * VPCI_NOTIFY_MULTIPLIER, 2, 2);
	cr_assert_eq(dev.notifies, 1, "no queue 2");
	cr_assert_eq(rd(VPCI_DEVICE_OFF + 4, 4), 0x48474645);
	cr_assert_eq(rd(VPCI_DEVICE_OFF + 6, 4), 0, "crosses the end");
	vd.tops->notify_queue(vd.transport, 0);
	cr_assert_eq(rd(VPCI_ISR_OFF, 1), 1);
	cr_assert_eq(rd(VPCI_ISR_OFF, 1), 0, "reading acknowledges");
}

Test(virtio_pci, queue_interrupts_use_the_chosen_msix_vector)
{
	uint32_t v;

	pci_cfg_set(&p.pci, p.msix.cap + PCI_MSIX_FLAGS, 2,
		    PCI_MSIX_FLAGS_ENABLE);
	msix_config_written(&p.msix, p.msix.cap + PCI_MSIX_FLAGS, 2);
	v = 0;
	wr(VPCI_MSIX_TABLE_OFF + 2 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, v, 4);
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	vd.tops->notify_queue(vd.transport, 1);
	cr_assert(dev.fires == 1 && dev.last_fire == 2);
	vd.tops->notify_queue(vd.transport, 0);
	cr_assert_eq(dev.fires, 1, "queue 0 has no vector");
}

Test(virtio_pci, config_access_capability_reaches_the_bar)
{
	unsigned c = vcap(VIRTIO_PCI_CAP_PCI_CFG);
	uint32_t v;

	/* Through configuration space: bar 0, offset NUMQ, length 2. */
	pci_cfg_set(&p.pci, c + 4, 1, 0);
	pci_cfg_set(&p.pci, c + 8, 4, VIRTIO_PCI_COMMON_NUMQ);
	pci_cfg_set(&p.pci, c + 12, 4, 2);
	p.pci.ops->config_reading(&p, c + 16, 4);
	v = pci_cfg_get(&p.pci, c + 16, 2);
	cr_assert_eq(v, 2);
	/* A bad length or an offset past the BAR does nothing. */
	pci_cfg_set(&p.pci, c + 16, 4, 0x12345678);
	pci_cfg_set(&p.pci, c + 12, 4, 3);
	p.pci.ops->config_reading(&p, c + 16, 4);
	cr_assert_eq(pci_cfg_get(&p.pci, c + 16, 4), 0x12345678);
	pci_cfg_set(&p.pci, c + 12, 4, 4);
	pci_cfg_set(&p.pci, c + 8, 4, VPCI_BAR_SIZE);
	p.pci.ops->config_reading(&p, c + 16, 4);
	cr_assert_eq(pci_cfg_get(&p.pci, c + 16, 4), 0x12345678);
	/* A write through the window notifies queue 1. */
	pci_cfg_set(&p.pci, c + 8, 4, VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULTIPLIER);
	pci_cfg_set(&p.pci, c + 12, 4, 2);
	pci_cfg_set(&p.pci, c + 16, 2, 1);
	p.pci.ops->config_written(&p, c + 16, 2);
	cr_assert(dev.notifies == 1 && dev.last_notify == 1);
}

/* virtio-blk behind virtio-pci, through its real queue worker and
 * io_uring: the orders a hostile driver may write the common
 * configuration in. Each ends with the process alive and the device
 * either serving or asking for a reset. */
#define RING_A 0x100000ULL
#define RING_B 0x200000ULL
#define DATA_A 0x400000ULL
#define DATA_B 0x500000ULL
#define BQSIZE 64

static struct vblk blk;
static char blk_path[] = "/tmp/vmm-test-pci-blk-XXXXXX";
static struct test_ring ring;

static void blk_notify(void *o, unsigned q)
{
	vblk_kick(o, q);
}

static const struct virtio_pci_hooks blk_hooks = {
	.irq = { route, fire },
	.notify = blk_notify,
	.bar_moved = bar_moved,
};

static void blk_setup(void)
{
	dummy_virtio_setup(&mem, RAM, &vd, &dv, 1); /* the RAM; vd unused */
	test_disk_open(&blk, blk_path, &mem, 1);
	cr_assert_eq(virtio_pci_init(&p, &blk.vdev, &blk_hooks, &blk), 0);
}

static void blk_teardown(void)
{
	wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	virtio_pci_destroy(&p);
	test_disk_close(&blk, blk_path);
	mem_destroy(&mem);
}

TestSuite(pci_blk, .init = blk_setup, .fini = blk_teardown);

static void blk_queue(gpa_t base, uint16_t size)
{
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	wr(VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, base, 8);
	wr(VIRTIO_PCI_COMMON_Q_AVAILLO, base + 0x1000, 8);
	wr(VIRTIO_PCI_COMMON_Q_USEDLO, base + 0x2000, 8);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

static void blk_negotiate(void)
{
	wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	wr(VIRTIO_PCI_COMMON_STATUS, 0x03, 1);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(VIRTIO_PCI_COMMON_GF, 1, 4);
	wr(VIRTIO_PCI_COMMON_STATUS, 0x0b, 1);
}

static void blk_bring_up(gpa_t base, gpa_t data)
{
	blk_negotiate();
	test_ring_init(&ring, &mem, base, data, BQSIZE);
	blk_queue(base, BQSIZE);
	wr(VIRTIO_PCI_COMMON_STATUS, 0x0f, 1);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
}

static void blk_expect_serving(unsigned n)
{
	uint16_t first = ring.avail_idx;

	for (unsigned i = 0; i < n; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 8 * i);
	wr(VPCI_NOTIFY_OFF, 0, 2);
	cr_assert(test_ring_wait(&ring, (uint16_t)(first + n)), "not served");
	for (unsigned i = 0; i < n; i++)
		cr_assert(test_ring_read_ok(&ring, i, 8 * i), "request %u", i);
}

static void blk_start_io(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		test_ring_rw(&ring, i, VIRTIO_BLK_T_IN, 16 * i);
	wr(VPCI_NOTIFY_OFF, 0, 2);
	test_wait_inflight(&blk, 0);
}

Test(pci_blk, status_0b_0f_loop_with_io_in_flight)
{
	unsigned tasks, fds;

	blk_bring_up(RING_A, DATA_A);
	tasks = count_threads();
	fds = count_entries("/proc/self/fd");
	for (unsigned i = 0; i < 300; i++) {
		blk_start_io(8);
		wr(VIRTIO_PCI_COMMON_STATUS, 0x0b, 1);
		wr(VIRTIO_PCI_COMMON_STATUS, 0x0f, 1);
		cr_assert(test_ring_wait(&ring, (uint16_t)(8 * (i + 1))),
			  "iteration %u", i);
	}
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
	cr_assert_eq(
		__atomic_load_n(&blk.queues[0].worker.starts, __ATOMIC_RELAXED),
		1, "started once");
	cr_assert_eq(count_threads(), tasks);
	cr_assert_eq(count_entries("/proc/self/fd"), fds);
	blk_expect_serving(4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert(mem_page_dirty(&mem, DATA_A + 4096ULL * i));
	cr_assert(!mem_page_dirty(&mem, DATA_A + 4096ULL * 16),
		  "never written");
}

Test(pci_blk, reset_with_io_in_flight_then_other_rings)
{
	unsigned tasks, fds;

	blk_bring_up(RING_A, DATA_A);
	tasks = count_threads();
	fds = count_entries("/proc/self/fd");
	for (unsigned i = 0; i < 100; i++) {
		blk_start_io(16);
		wr(VIRTIO_PCI_COMMON_STATUS, 0, 1);
		cr_assert_eq(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0);
		cr_assert_eq(blk.queues[0].ctx.inflight, 0);
		blk_bring_up(i % 2 ? RING_A : RING_B, i % 2 ? DATA_A : DATA_B);
	}
	blk_expect_serving(8);
	cr_assert_gt(blk.queues[0].worker.drained, 0,
		     "no reset came with requests in flight");
	cr_assert_eq(count_threads(), tasks);
	cr_assert_eq(count_entries("/proc/self/fd"), fds);
}

Test(pci_blk, layout_writes_while_enabled_are_ignored)
{
	blk_bring_up(RING_A, DATA_A);
	blk_start_io(16);
	/* Size 0, rings outside RAM, enable again: all ignored while the
	 * queue is enabled; the worker serves from its own copy. */
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 0, 2);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, RAM - 0x100, 8);
	wr(VIRTIO_PCI_COMMON_Q_USEDHI, 1, 4);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), BQSIZE);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_DESCLO, 8), RING_A);
	cr_assert(test_ring_wait(&ring, 16));
	blk_expect_serving(8);
}

Test(pci_blk, rings_moved_outside_ram_after_a_reset_with_io_in_flight)
{
	blk_bring_up(RING_A, DATA_A);
	blk_start_io(16);
	blk_negotiate();
	blk_queue(RAM - 0x1000, BQSIZE);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cr_assert(rd(VIRTIO_PCI_COMMON_STATUS, 1) &
		  VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(VIRTIO_PCI_COMMON_STATUS, 0x0f, 1);
	cr_assert(!blk.vdev.active, "a broken device does not start");
	blk_bring_up(RING_B, DATA_B);
	blk_expect_serving(8);
}

Test(pci_blk, queue_size_max_is_the_one_limit)
{
	blk_negotiate();
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), VBLK_QUEUE_SIZE);
	blk_queue(RING_A, 2 * VBLK_QUEUE_SIZE);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cr_assert(rd(VIRTIO_PCI_COMMON_STATUS, 1) &
		  VIRTIO_CONFIG_S_NEEDS_RESET);
}
