#include <criterion/criterion.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "devices/pci/pci.h"

#define WINDOW 0xc0000000ULL

static struct pci_bus bus;
static struct pci_device dev;
static struct {
	unsigned moves, reads, writes;
	uint64_t last_gpa, last_off;
	bool mapped;
} seen;

static void bar_read(void *o, uint64_t off, uint8_t *d, unsigned size)
{
	(void)o;
	seen.reads++;
	seen.last_off = off;
	memset(d, 0x5a, size);
}

static void bar_write(void *o, uint64_t off, const uint8_t *d, unsigned size)
{
	(void)o, (void)d, (void)size;
	seen.writes++;
	seen.last_off = off;
}

static const struct io_ops bar_ops = { bar_read, bar_write };

static void moved(void *o, unsigned bar, uint64_t gpa, bool mapped)
{
	(void)o;
	cr_assert_eq(bar, 0);
	seen.moves++;
	seen.last_gpa = gpa;
	seen.mapped = mapped;
}

static const struct pci_device_ops dev_ops = { .bar_moved = moved };

static void setup(void)
{
	const uint8_t body[4] = { 1, 2, 3, 4 };

	memset(&seen, 0, sizeof(seen));
	pci_bus_init(&bus, WINDOW, 0x10000000);
	pci_device_init(&dev, 0x1af4, 0x1042, 0x018000, 0x1af4, 0x40, &dev_ops,
			NULL);
	pci_device_add_bar(&dev, 0, 0x8000, &bar_ops);
	cr_assert_eq(pci_add_cap(&dev, 0x09, body, 6), 0x40);
	cr_assert_eq(pci_add_cap(&dev, 0x11, body, 6), 0x48);
	cr_assert_eq(pci_bus_attach(&bus, &dev), 1);
}

static void teardown(void)
{
	pci_bus_destroy(&bus);
}

TestSuite(pci, .init = setup, .fini = teardown);

static uint32_t port_cfg(unsigned slot, unsigned off, unsigned size)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;

	pci_config_port_ops.write(&bus, 0, (uint8_t *)&a, 4);
	pci_config_port_ops.read(&bus, 4 + (off & 3), (uint8_t *)&v, size);
	return v;
}

static void port_cfg_write(unsigned slot, unsigned off, uint32_t v,
			   unsigned size)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	pci_config_port_ops.write(&bus, 0, (uint8_t *)&a, 4);
	pci_config_port_ops.write(&bus, 4 + (off & 3), (uint8_t *)&v, size);
}

static uint32_t ecam(unsigned slot, unsigned off, unsigned size)
{
	uint32_t v = 0;
	pci_ecam_ops.read(&bus, (uint64_t)slot << 15 | off, (uint8_t *)&v,
			  size);
	return v;
}

Test(pci, host_bridge_and_device_through_ports_and_ecam)
{
	cr_assert_eq(port_cfg(0, 0, 4), 0x00081b36);
	cr_assert_eq(port_cfg(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	cr_assert_eq(port_cfg(1, 0, 4), 0x10421af4);
	cr_assert_eq(ecam(1, 0, 4), 0x10421af4);
	cr_assert_eq(ecam(1, 2, 2), 0x1042);
	cr_assert_eq(port_cfg(1, 2, 2), 0x1042);
	cr_assert_eq(port_cfg(1, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	cr_assert_eq(port_cfg(1, PCI_INTERRUPT_PIN, 1), 0, "no INTx");
	cr_assert_eq(ecam(1, PCI_BASE_ADDRESS_0, 4), (uint32_t)WINDOW);
}

Test(pci, absent_functions_and_buses_read_all_ones)
{
	uint32_t a = 0x80010000u, v = 0; /* bus 1 */

	cr_assert_eq(port_cfg(5, 0, 4), 0xffffffff);
	cr_assert_eq(ecam(31, 0, 4), 0xffffffff);
	cr_assert_eq(ecam(1, 1 << 12, 4), 0xffffffff, "function 1");
	pci_config_port_ops.write(&bus, 0, (uint8_t *)&a, 4);
	pci_config_port_ops.read(&bus, 4, (uint8_t *)&v, 4);
	cr_assert_eq(v, 0xffffffff);
	/* Without the enable bit the data port reads nothing. */
	a = 1 << 11;
	pci_config_port_ops.write(&bus, 0, (uint8_t *)&a, 4);
	pci_config_port_ops.read(&bus, 4, (uint8_t *)&v, 4);
	cr_assert_eq(v, 0xffffffff);
	/* Extended configuration space of a present function reads 0. */
	cr_assert_eq(ecam(1, 0x100, 4), 0);
}

Test(pci, config_address_register_reads_back)
{
	uint32_t a = 0x80000000u, v = 0;
	uint8_t b = 1;

	pci_config_port_ops.write(&bus, 0, (uint8_t *)&a, 4);
	pci_config_port_ops.read(&bus, 0, (uint8_t *)&v, 4);
	cr_assert_eq(v, 0x80000000u);
	/* Linux's type 1 probe writes a byte to 0xcfb: ignored. */
	pci_config_port_ops.write(&bus, 3, &b, 1);
	pci_config_port_ops.read(&bus, 0, (uint8_t *)&v, 4);
	cr_assert_eq(v, 0x80000000u);
}

Test(pci, bar_sizing_and_read_only_fields)
{
	port_cfg_write(1, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	cr_assert_eq(port_cfg(1, PCI_BASE_ADDRESS_0, 4), 0xffff8000);
	port_cfg_write(1, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
	cr_assert_eq(port_cfg(1, PCI_BASE_ADDRESS_1, 4), 0, "unused BAR");
	port_cfg_write(1, 0, 0x12345678, 4);
	cr_assert_eq(port_cfg(1, 0, 4), 0x10421af4, "IDs are read-only");
	port_cfg_write(1, PCI_CAPABILITY_LIST, 0, 1);
	cr_assert_eq(port_cfg(1, PCI_CAPABILITY_LIST, 1), 0x40);
	port_cfg_write(1, PCI_COMMAND, 0xffff, 2);
	cr_assert_eq(port_cfg(1, PCI_COMMAND, 2),
		     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			     PCI_COMMAND_INTX_DISABLE);
}

Test(pci, capability_list_is_linked)
{
	cr_assert(port_cfg(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	cr_assert_eq(port_cfg(1, 0x40, 2), 0x4809);
	cr_assert_eq(port_cfg(1, 0x48, 2), 0x0011);
	cr_assert_eq(port_cfg(1, 0x42, 2), 0x0201);
	cr_assert_eq(port_cfg(1, 0x44, 2), 0x0403);
}

Test(pci, bar_decodes_only_with_memory_enabled_and_follows_moves)
{
	uint8_t d[4];

	pci_mmio_ops.read(&bus, 0x10, d, 4);
	cr_assert_eq(seen.reads, 0, "decode is off after reset");
	cr_assert_eq(d[0], 0xff);
	port_cfg_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert(seen.moves == 1 && seen.mapped && seen.last_gpa == WINDOW);
	pci_mmio_ops.read(&bus, 0x10, d, 4);
	cr_assert(seen.reads == 1 && seen.last_off == 0x10 && d[0] == 0x5a);
	/* Past the BAR's end, and straddling it: nobody answers. */
	pci_mmio_ops.read(&bus, 0x8000, d, 4);
	pci_mmio_ops.read(&bus, 0x7ffe, d, 4);
	cr_assert_eq(seen.reads, 1);
	port_cfg_write(1, PCI_BASE_ADDRESS_0, (uint32_t)WINDOW + 0x100000, 4);
	cr_assert(seen.moves == 2 && seen.last_gpa == WINDOW + 0x100000);
	pci_mmio_ops.write(&bus, 0x100004, d, 4);
	cr_assert(seen.writes == 1 && seen.last_off == 4);
	pci_mmio_ops.write(&bus, 0x4, d, 4);
	cr_assert_eq(seen.writes, 1, "the old address no longer decodes");
	port_cfg_write(1, PCI_COMMAND, 0, 2);
	cr_assert(seen.moves == 3 && !seen.mapped);
	port_cfg_write(1, PCI_COMMAND, 0, 2);
	cr_assert_eq(seen.moves, 3, "no change, no report");
}

Test(pci, misaligned_config_accesses_are_ignored)
{
	uint32_t v = 0;

	pci_ecam_ops.read(&bus, 1 << 15 | 1, (uint8_t *)&v, 2);
	cr_assert_eq(v, 0xffff);
	pci_ecam_ops.read(&bus, 1 << 15 | 2, (uint8_t *)&v, 4);
	cr_assert_eq(v, 0xffffffff);
	v = 0xffffffff;
	pci_ecam_ops.write(&bus, 1 << 15 | PCI_BASE_ADDRESS_0 | 2,
			   (uint8_t *)&v, 4);
	cr_assert_eq(ecam(1, PCI_BASE_ADDRESS_0, 4), (uint32_t)WINDOW);
}

Test(pci, a_full_window_refuses_devices)
{
	static struct pci_device big[3];
	struct pci_bus small;

	pci_bus_init(&small, WINDOW, 0x10000);
	for (int i = 0; i < 3; i++) {
		pci_device_init(&big[i], 1, 2, 0, 0, 0, NULL, NULL);
		pci_device_add_bar(&big[i], 0, 0x8000, &bar_ops);
	}
	cr_assert_eq(pci_bus_attach(&small, &big[0]), 1);
	cr_assert_eq(pci_bus_attach(&small, &big[1]), 2);
	cr_assert_lt(pci_bus_attach(&small, &big[2]), 0);
	pci_bus_destroy(&small);
}

Test(pci, capabilities_stop_at_the_end_of_config_space)
{
	uint8_t body[200] = { 0 };

	cr_assert_neq(pci_add_cap(&dev, 0x09, body, 150), 0);
	cr_assert_eq(pci_add_cap(&dev, 0x09, body, 100), 0);
}
