#include <criterion/criterion.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "devices/pci/msix.h"

static struct pci_device dev;
static struct msix m;
static struct {
	unsigned routes, fires, last_vec;
	uint64_t addr;
	uint32_t data;
	int route_result;
} seen;

static int route(void *o, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)o;
	if (seen.route_result)
		return seen.route_result;
	seen.routes++;
	seen.last_vec = vec;
	seen.addr = addr;
	seen.data = data;
	return 0;
}

static void fire(void *o, unsigned vec)
{
	(void)o;
	seen.fires++;
	seen.last_vec = vec;
}

static const struct msix_irq_ops ops = { route, fire };

static void setup(void)
{
	memset(&seen, 0, sizeof(seen));
	pci_device_init(&dev, 1, 2, 0, 0, 0, NULL, NULL);
	cr_assert_eq(msix_init(&m, &dev, 3, 0, 0x4000, 0x5000, &ops, NULL), 0);
}

static void teardown(void)
{
	msix_destroy(&m);
}

TestSuite(msix, .init = setup, .fini = teardown);

static void tbl_write(unsigned vec, unsigned reg, uint32_t v)
{
	msix_table_access(&m, vec * 16 + reg, (uint8_t *)&v, 4, true);
}

static uint32_t tbl_read(unsigned vec, unsigned reg)
{
	uint32_t v = 0;
	msix_table_access(&m, vec * 16 + reg, (uint8_t *)&v, 4, false);
	return v;
}

static void control(uint16_t flags)
{
	pci_cfg_set(&dev, m.cap + PCI_MSIX_FLAGS, 2, flags);
	msix_config_written(&m, m.cap + PCI_MSIX_FLAGS, 2);
}

static uint64_t pba(void)
{
	uint64_t v = 0;
	msix_pba_read(&m, 0, (uint8_t *)&v, 8);
	return v;
}

static void program(unsigned vec, uint32_t data)
{
	tbl_write(vec, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	tbl_write(vec, PCI_MSIX_ENTRY_UPPER_ADDR, 0);
	tbl_write(vec, PCI_MSIX_ENTRY_DATA, data);
}

Test(msix, capability_describes_table_and_pba)
{
	cr_assert_eq(dev.cfg[m.cap], PCI_CAP_ID_MSIX);
	cr_assert_eq(pci_cfg_get(&dev, m.cap + PCI_MSIX_FLAGS, 2), 2,
		     "3 vectors");
	cr_assert_eq(pci_cfg_get(&dev, m.cap + PCI_MSIX_TABLE, 4), 0x4000);
	cr_assert_eq(pci_cfg_get(&dev, m.cap + PCI_MSIX_PBA, 4), 0x5000);
	cr_assert_eq(tbl_read(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 1,
		     "masked at reset");
}

Test(msix, nothing_is_delivered_or_held_while_disabled)
{
	program(0, 0x41);
	tbl_write(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	msix_notify(&m, 0);
	cr_assert_eq(seen.fires, 0);
	cr_assert_eq(pba(), 0);
}

Test(msix, unmasked_vector_routes_once_then_fires)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	program(1, 0x42);
	tbl_write(1, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert(seen.routes == 1 && seen.addr == 0xfee00000 &&
		  seen.data == 0x42);
	msix_notify(&m, 1);
	msix_notify(&m, 1);
	cr_assert(seen.fires == 2 && seen.last_vec == 1);
	cr_assert_eq(seen.routes, 1,
		     "an unchanged message is not routed again");
	cr_assert_eq(tbl_read(1, PCI_MSIX_ENTRY_DATA), 0x42);
}

Test(msix, masked_vector_is_held_pending_until_unmasked)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	program(2, 0x43);
	msix_notify(&m, 2);
	cr_assert_eq(seen.fires, 0);
	cr_assert_eq(pba(), 1 << 2);
	tbl_write(2, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert(seen.fires == 1 && seen.last_vec == 2);
	cr_assert_eq(pba(), 0);
}

Test(msix, function_mask_holds_every_vector)
{
	control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	program(0, 0x41);
	tbl_write(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	msix_notify(&m, 0);
	cr_assert_eq(seen.fires, 0);
	cr_assert_eq(pba(), 1);
	control(PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(seen.fires, 1);
}

Test(msix, bad_vectors_and_accesses_are_ignored)
{
	uint8_t b = 0xff;
	uint32_t v = 0;

	control(PCI_MSIX_FLAGS_ENABLE);
	msix_notify(&m, 3);
	msix_notify(&m, MSIX_NO_VECTOR);
	cr_assert_eq(seen.fires, 0);
	cr_assert_eq(pba(), 0);
	msix_table_access(&m, 0, &b, 1, true);		  /* byte write */
	msix_table_access(&m, 2, (uint8_t *)&v, 4, true); /* misaligned */
	msix_table_access(&m, 3 * 16, (uint8_t *)&v, 4,
			  true); /* past the end */
	cr_assert_eq(tbl_read(0, PCI_MSIX_ENTRY_LOWER_ADDR), 0);
	v = 0xdeadbeef;
	msix_table_access(&m, 3 * 16, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, 0);
}

/* Routes are installed only by the guest's (vCPU) writes: a notify from a
 * device thread never routes; it leaves a vector without a current route
 * pending until a later table write routes and fires it. */
Test(msix, a_failed_route_is_retried_by_the_next_vcpu_write_never_by_notify)
{
	uint64_t pba = 0;

	control(PCI_MSIX_FLAGS_ENABLE);
	program(0, 0x41);
	seen.route_result = -22;
	tbl_write(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert_eq(seen.routes, 0);
	seen.route_result = 0;
	msix_notify(&m, 0);
	cr_assert_eq(seen.routes, 0);
	cr_assert_eq(seen.fires, 0);
	msix_pba_read(&m, 0, (uint8_t *)&pba, 8);
	cr_assert_eq(pba, 1);
	tbl_write(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert_eq(seen.routes, 1);
	cr_assert_eq(seen.fires, 1);
	msix_notify(&m, 0);
	cr_assert_eq(seen.routes, 1);
	cr_assert_eq(seen.fires, 2);
}

Test(msix, a_message_changed_while_unmasked_is_routed_by_the_write)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	program(0, 0x41);
	tbl_write(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert_eq(seen.routes, 1);
	tbl_write(0, PCI_MSIX_ENTRY_DATA, 0x42);
	cr_assert_eq(seen.routes, 2);
	msix_notify(&m, 0);
	cr_assert_eq(seen.routes, 2);
	cr_assert_eq(seen.fires, 1);
}

Test(msix, eight_byte_table_accesses)
{
	uint64_t addr = 0xfee01000ULL, back = 0;

	msix_table_access(&m, 16, (uint8_t *)&addr, 8, true);
	msix_table_access(&m, 16, (uint8_t *)&back, 8, false);
	cr_assert_eq(back, addr);
}
