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
	.irq = { route, fire }, .notify = notify, .bar_moved = bar_moved,
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
		if (p.pci.cfg[at] == PCI_CAP_ID_VNDR && p.pci.cfg[at + 3] == type)
			return at;
	return 0;
}

Test(virtio_pci, modern_ids_and_capabilities)
{
	unsigned n;

	cr_assert_eq(pci_cfg_get(&p.pci, PCI_VENDOR_ID, 4), 0x10421af4);
	cr_assert_eq(p.pci.cfg[PCI_REVISION_ID], 1);
	cr_assert_eq(p.pci.bar_size[0], VPCI_BAR_SIZE);
	cr_assert_eq(pci_cfg_get(&p.pci, vcap(VIRTIO_PCI_CAP_COMMON_CFG) + 8, 4),
		     VPCI_COMMON_OFF);
	cr_assert_eq(pci_cfg_get(&p.pci, vcap(VIRTIO_PCI_CAP_ISR_CFG) + 8, 4),
		     VPCI_ISR_OFF);
	cr_assert_eq(pci_cfg_get(&p.pci, vcap(VIRTIO_PCI_CAP_DEVICE_CFG) + 8, 4),
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
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 1, 4);	/* 16-bit register */
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 2);	/* 8-bit register */
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0);
	cr_assert_eq(rd(VIRTIO_PCI_COMMON_NUMQ, 4), 0);
	cr_assert_eq(rd(0x3f, 1), 0, "past the structure");
}

Test(virtio_pci, queue_setup_and_driver_ok)
{
	wr(VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(VIRTIO_PCI_COMMON_GF, 1, 4);
	wr(VIRTIO_PCI_COMMON_STATUS, 0x0b, 1);
	cr_assert(rd(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
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
	cr_assert(rd(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
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

	pci_cfg_set(&p.pci, p.msix.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
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
