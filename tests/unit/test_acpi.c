#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/sysports.h"
#include "arch/x86/acpi.h"
#include "lib/bytes.h"

#define BASE 0xe0000ULL

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const uint8_t *table(const uint8_t *buf, uint64_t gpa, size_t used)
{
	cr_assert(gpa >= BASE && gpa - BASE < used, "table pointer %#lx", gpa);
	const uint8_t *t = buf + (gpa - BASE);
	cr_assert(gpa - BASE + get32(t + 4) <= used);
	cr_assert_eq(sum(t, get32(t + 4)), 0, "%.4s checksum", (const char *)t);
	return t;
}

static const void *find(const uint8_t *hay, size_t n, const void *needle,
			size_t len)
{
	return memmem(hay, n, needle, len);
}

/* Follows RSDP -> XSDT entry `index` (0 FADT, 1 MADT), checking each
 * table's bounds and checksum on the way. */
static const uint8_t *xsdt_entry(const uint8_t *buf, size_t used, int index)
{
	const uint8_t *xsdt = table(buf, get64(buf + 24), used);
	return table(buf, get64(xsdt + 36 + 8 * index), used);
}

static const uint8_t *dsdt_of(const uint8_t *buf, size_t used)
{
	return table(buf, get64(xsdt_entry(buf, used, 0) + 140), used);
}

static size_t build(uint8_t *buf, unsigned ncpus,
		    const struct acpi_mmio_dev *devs, unsigned ndevs, bool pci)
{
	const struct acpi_platform p = {
		.ncpus = ncpus,
		.mmio_devs = devs,
		.nr_mmio_devs = ndevs,
		.pci = pci,
		.pci_ecam = 0xe0000000,
		.pci_ecam_size = 1 << 20,
		.pci_mmio = 0xc0000000,
		.pci_mmio_size = 0x10000000,
	};
	return acpi_build(buf, BASE, &p);
}

Test(acpi, tables_link_up_with_valid_checksums)
{
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 4, NULL, 0, false);
	const uint8_t *xsdt, *fadt, *madt, *dsdt;

	cr_assert(used > 0 && used <= ACPI_MAX_SIZE);
	cr_assert_eq(memcmp(buf, "RSD PTR ", 8), 0);
	cr_assert_eq(sum(buf, 20), 0, "RSDP v1 checksum");
	cr_assert_eq(sum(buf, 36), 0, "RSDP extended checksum");
	cr_assert_eq(buf[15], 2);
	xsdt = table(buf, get64(buf + 24), used);
	cr_assert_eq(memcmp(xsdt, "XSDT", 4), 0);
	cr_assert_eq(get32(xsdt + 4), 36 + 16);
	fadt = table(buf, get64(xsdt + 36), used);
	madt = table(buf, get64(xsdt + 44), used);
	cr_assert_eq(memcmp(fadt, "FACP", 4), 0);
	cr_assert_eq(memcmp(madt, "APIC", 4), 0);
	dsdt = table(buf, get64(fadt + 140), used);
	cr_assert_eq(memcmp(dsdt, "DSDT", 4), 0);
	cr_assert_eq(get32(fadt + 40), (uint32_t)get64(fadt + 140));
	free(buf);
}

Test(acpi, fadt_is_hardware_reduced_with_sleep_and_reset_ports)
{
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 1, NULL, 0, false);
	const uint8_t *fadt = xsdt_entry(buf, used, 0);

	cr_assert_eq(get32(fadt + 4), 276);
	cr_assert(get32(fadt + 112) & (1u << 20), "HW_REDUCED_ACPI");
	cr_assert(get32(fadt + 112) & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(fadt[116], 1, "reset register in I/O space");
	cr_assert_eq(get64(fadt + 120), ACPI_RESET_PORT);
	cr_assert_eq(fadt[128], ACPI_RESET_VALUE);
	cr_assert_eq(get64(fadt + 244 + 4), ACPI_SLEEP_CONTROL_PORT);
	cr_assert_eq(get64(fadt + 256 + 4), ACPI_SLEEP_STATUS_PORT);
	free(buf);
}

/* the expected AML bytes are laid out by hand: */
/* clang-format off */
Test(acpi, dsdt_has_s5_and_legacy_devices)
{
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 1, NULL, 0, false);
	const uint8_t *dsdt = dsdt_of(buf, used);
	uint32_t len = get32(dsdt + 4);
	const uint8_t s5[] = { '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a,
			       ACPI_S5_SLP_TYP };
	const uint8_t com1_io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03 };
	const uint8_t irq4[] = { 0x22, 0x10, 0x00 }, irq8[] = { 0x22, 0x00, 0x01 };
	uint32_t pnp0501 = 0x0105d041;

	cr_assert_not_null(find(dsdt, len, s5, sizeof(s5)));
	cr_assert_not_null(find(dsdt, len, "_SB_", 4));
	cr_assert_not_null(find(dsdt, len, "COM1", 4));
	cr_assert_not_null(find(dsdt, len, &pnp0501, 4));
	cr_assert_not_null(find(dsdt, len, com1_io, sizeof(com1_io)));
	cr_assert_not_null(find(dsdt, len, irq4, sizeof(irq4)));
	cr_assert_not_null(find(dsdt, len, irq8, sizeof(irq8)));
	/* The scope's PkgLength covers exactly the rest of the table. */
	const uint8_t *scope = find(dsdt, len, "\x10", 1);
	cr_assert_not_null(scope);
	free(buf);
}

Test(acpi, madt_lists_every_cpu_and_the_ioapic)
{
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 254, NULL, 0, false);
	const uint8_t *madt = xsdt_entry(buf, used, 1);
	uint32_t len = get32(madt + 4), off = 44;
	unsigned cpus = 0, ioapics = 0;

	cr_assert_eq(get32(madt + 36), 0xfee00000);
	while (off < len) {
		const uint8_t *e = madt + off;
		cr_assert(e[1] >= 2 && off + e[1] <= len, "entry length");
		if (e[0] == 0) {
			cr_assert_eq(e[3], cpus, "APIC id");
			cr_assert_eq(get32(e + 4), 1, "enabled");
			cpus++;
		} else if (e[0] == 1) {
			cr_assert_eq(get32(e + 4), 0xfec00000);
			ioapics++;
		}
		off += e[1];
	}
	cr_assert_eq(off, len);
	cr_assert_eq(cpus, 254);
	cr_assert_eq(ioapics, 1);
	free(buf);
}

Test(acpi, dsdt_describes_virtio_mmio_devices)
{
	const struct acpi_mmio_dev devs[2] = { { 0xd0000000, 0x1000, 16 },
					       { 0xd0001000, 0x1000, 17 } };
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 1, devs, 2, false);
	const uint8_t *dsdt = dsdt_of(buf, used);
	uint32_t len = get32(dsdt + 4);
	const uint8_t mem0[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0,
				 0x00, 0x10, 0x00, 0x00 };
	const uint8_t irq17[] = { 0x89, 0x06, 0x00, 0x03, 0x01, 17, 0, 0, 0 };
	const uint8_t *scope;

	cr_assert_not_null(find(dsdt, len, "\x0dLNRO0005", 10));
	cr_assert_not_null(find(dsdt, len, "VR00", 4));
	cr_assert_not_null(find(dsdt, len, "VR01", 4));
	cr_assert_not_null(find(dsdt, len, mem0, sizeof(mem0)));
	cr_assert_not_null(find(dsdt, len, irq17, sizeof(irq17)));
	/* The scope's two-byte PkgLength covers the rest of the table. */
	scope = find(dsdt, len, "\x10", 1);
	cr_assert_not_null(scope);
	cr_assert_eq(scope[1] >> 6, 1, "two-byte PkgLength");
	cr_assert_eq((size_t)((scope[1] & 0xf) | scope[2] << 4),
		     (size_t)(dsdt + len - (scope + 1)));
	free(buf);
}

Test(acpi, pci_host_bridge_and_mcfg)
{
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 2, NULL, 0, true);
	const uint8_t *xsdt = table(buf, get64(buf + 24), used);
	const uint8_t *dsdt = dsdt_of(buf, used), *mcfg;
	uint32_t len = get32(dsdt + 4);
	/* DWordMemory: min 0xc0000000, max 0xcfffffff, length 256 MiB. */
	const uint8_t window[] = { 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xcf,
				   0, 0, 0, 0, 0x00, 0x00, 0x00, 0x10 };
	const uint8_t ecam_res[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0,
				     0x00, 0x00, 0x10, 0x00 };

	cr_assert_eq(get32(xsdt + 4), 36 + 3 * 8, "FADT, MADT and MCFG");
	mcfg = xsdt_entry(buf, used, 2);
	cr_assert_eq(memcmp(mcfg, "MCFG", 4), 0);
	cr_assert_eq(get32(mcfg + 4), 36 + 8 + 16);
	cr_assert_eq(get64(mcfg + 44), 0xe0000000ULL);
	cr_assert_eq(mcfg[44 + 10], 0, "segment 0");
	cr_assert(mcfg[44 + 10 + 2] == 0 && mcfg[44 + 10 + 3] == 0, "bus 0-0");
	cr_assert_not_null(find(dsdt, len, "PCI0", 4));
	cr_assert_not_null(find(dsdt, len, "\x0c\x41\xd0\x0a\x08", 5), "PNP0A08");
	cr_assert_not_null(find(dsdt, len, "\x0c\x41\xd0\x0a\x03", 5), "PNP0A03");
	cr_assert_not_null(find(dsdt, len, window, sizeof(window)));
	cr_assert_not_null(find(dsdt, len, "\x0c\x41\xd0\x0c\x02", 5), "PNP0C02");
	cr_assert_not_null(find(dsdt, len, ecam_res, sizeof(ecam_res)));
	cr_assert_null(find(dsdt, len, "\x0dLNRO0005", 10));
	free(buf);
}
/* clang-format on */

Test(acpi, no_mcfg_without_pci)
{
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	size_t used = build(buf, 1, NULL, 0, false);
	const uint8_t *xsdt = table(buf, get64(buf + 24), used);

	cr_assert_eq(get32(xsdt + 4), 36 + 2 * 8);
	cr_assert_null(find(dsdt_of(buf, used), get32(dsdt_of(buf, used) + 4),
			    "PCI0", 4));
	free(buf);
}
