/* Pure builder; main thread at start-up. */
#include "acpi.h"

#include <string.h>

#include "lib/bytes.h"
#include "sysports.h"
#include "layout.h"

#define HDR_SIZE 36
#define FADT_SIZE 276
#define FADT_F_PWR_BUTTON (1u << 4)
#define FADT_F_SLP_BUTTON (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED (1u << 20)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

/* Fills a table header; the checksum is set by finish(). */
static void header(uint8_t *t, const char *sig, uint8_t revision)
{
	memcpy(t, sig, 4);
	t[8] = revision;
	memcpy(t + 10, "VMMVMM", 6);
	memcpy(t + 16, "VMMTABLE", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "VMM ", 4);
	put32(t + 32, 1);
}

static size_t finish(uint8_t *t, size_t len)
{
	put32(t + 4, (uint32_t)len);
	t[9] = checksum(t, len);
	return (len + 15) & ~(size_t)15;
}

static void gas_io(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;
	g[3] = GAS_ACCESS_BYTE;
	put64(g + 4, port);
}

/* AML encoding: just what the DSDT needs. Each helper appends to a buffer
 * and returns the new length. */
static size_t aml_pkg_length(uint8_t *out, size_t len)
{
	/* len counts the PkgLength bytes themselves. */
	if (len + 1 < 64) {
		out[0] = (uint8_t)(len + 1);
		return 1;
	}
	len += 2;
	out[0] = (uint8_t)(1u << 6 | (len & 0xf));
	out[1] = (uint8_t)(len >> 4);
	return 2;
}

/* Wraps body (n bytes) as op + PkgLength + name + body. */
static size_t aml_block(uint8_t *out, const uint8_t *op, size_t oplen,
			const char *name, const uint8_t *body, size_t n)
{
	size_t o = oplen;

	memcpy(out, op, oplen);
	o += aml_pkg_length(out + o, 4 + n);
	memcpy(out + o, name, 4);
	memcpy(out + o + 4, body, n);
	return o + 4 + n;
}

/* Device (name) { Name (_HID, hid), more, Name (_UID, uid),
 * Name (_CRS, crs) } with hid already encoded (an EisaId dword or a
 * string) and more other encoded Name()s, if any. */
/* AML byte tables are laid out by hand, one encoding per line: */
/* clang-format off */
static size_t aml_device(uint8_t *out, const char *name, const uint8_t *hid,
			 size_t hid_len, const uint8_t *more, size_t more_len,
			 uint8_t uid, const uint8_t *crs, size_t crs_len)
{
	static const uint8_t device_op[] = { 0x5b, 0x82 };
	uint8_t b[160];
	size_t n = 0;

	memcpy(b + n, "\x08_HID", 5);
	memcpy(b + n + 5, hid, hid_len);
	n += 5 + hid_len;
	if (more_len)
		memcpy(b + n, more, more_len);
	n += more_len;
	memcpy(b + n, "\x08_UID\x0a", 6);
	b[n + 6] = uid;
	n += 7;
	/* Name (_CRS, Buffer () { crs }) */
	memcpy(b + n, "\x08_CRS\x11", 6);
	b[n + 6] = (uint8_t)(crs_len + 3); /* PkgLength: itself, 0x0a, size */
	b[n + 7] = 0x0a;
	b[n + 8] = (uint8_t)crs_len;
	memcpy(b + n + 9, crs, crs_len);
	n += 9 + crs_len;
	return aml_block(out, device_op, sizeof(device_op), name, b, n);
}

/* A legacy ISA device: EisaId hid, one I/O range and one IRQ. */
static size_t aml_legacy_device(uint8_t *out, const char *name, uint32_t hid,
				uint8_t uid, uint16_t port, uint8_t len,
				uint8_t irq)
{
	uint16_t mask = (uint16_t)(1u << irq);
	uint8_t h[5] = { 0x0c };
	const uint8_t crs[] = {
		0x47, 0x01, port & 0xff, port >> 8, port & 0xff, port >> 8,
		0x01, len,				/* IO, Decode16 */
		0x22, mask & 0xff, mask >> 8,		/* IRQNoFlags: edge, high */
		0x79, 0x00,				/* end tag */
	};

	memcpy(h + 1, &hid, 4);
	return aml_device(out, name, h, sizeof(h), NULL, 0, uid, crs,
			  sizeof(crs));
}

/* A virtio-mmio device: Memory32Fixed window and an Extended Interrupt
 * (consumer, edge, active high, exclusive). */
static size_t aml_mmio_device(uint8_t *out, unsigned i,
			      const struct acpi_mmio_dev *d)
{
	static const uint8_t hid[] = "\x0dLNRO0005";
	uint32_t base = (uint32_t)d->base;
	uint8_t crs[23] = { 0x86, 0x09, 0x00, 0x01 };
	char name[5];

	memcpy(crs + 4, &base, 4);
	memcpy(crs + 8, &d->size, 4);
	crs[12] = 0x89, crs[13] = 0x06, crs[14] = 0x00, crs[15] = 0x03;
	crs[16] = 1;
	memcpy(crs + 17, &d->gsi, 4);
	crs[21] = 0x79, crs[22] = 0x00;
	name[0] = 'V', name[1] = 'R', name[2] = (char)('0' + i / 10),
	name[3] = (char)('0' + i % 10), name[4] = 0;
	return aml_device(out, name, hid, sizeof(hid), NULL, 0, (uint8_t)i, crs,
			  sizeof(crs));
}

/* The PCI host bridge of bus 0: config ports, bus number 0 and the BAR
 * window. No _PRT: functions use MSI-X and have no interrupt pin. */
static size_t aml_pci_host(uint8_t *out, const struct acpi_platform *p)
{
	static const uint8_t hid[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 }; /* PNP0A08 */
	static const uint8_t more[] = {
		0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03, /* PNP0A03 */
		0x08, '_', 'S', 'E', 'G', 0x00,
		0x08, '_', 'B', 'B', 'N', 0x00,
	};
	uint32_t end = p->pci_mmio + p->pci_mmio_size - 1;
	uint8_t crs[52] = {
		/* WordBusNumber (producer, MinFixed, MaxFixed): bus 0 only */
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
		/* IO (Decode16, 0xcf8, 0xcf8, 1, 8): the config ports */
		0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		/* DWordMemory (producer, MinFixed, MaxFixed, non-cacheable,
		 * read-write): min, max and length filled below */
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
	};

	put32(crs + 30, 0);
	put32(crs + 34, p->pci_mmio);
	put32(crs + 38, end);
	put32(crs + 42, 0);
	put32(crs + 46, p->pci_mmio_size);
	crs[50] = 0x79, crs[51] = 0x00;
	return aml_device(out, "PCI0", hid, sizeof(hid), more, sizeof(more), 0,
			  crs, sizeof(crs));
}

/* A motherboard resource (PNP0C02) reserving the ECAM window, which Linux
 * looks for before it trusts the MCFG table. */
static size_t aml_ecam_reservation(uint8_t *out, const struct acpi_platform *p)
{
	static const uint8_t hid[] = { 0x0c, 0x41, 0xd0, 0x0c, 0x02 }; /* PNP0C02 */
	uint8_t crs[14] = { 0x86, 0x09, 0x00, 0x01 };

	put32(crs + 4, (uint32_t)p->pci_ecam);
	put32(crs + 8, p->pci_ecam_size);
	crs[12] = 0x79, crs[13] = 0x00;
	return aml_device(out, "RES0", hid, sizeof(hid), NULL, 0, 0, crs,
			  sizeof(crs));
}

static size_t build_dsdt(uint8_t *t, const struct acpi_platform *p)
{
	/* Name (_S5, Package (2) { 5, 5 }): SLP_TYP for poweroff. */
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06,
				      0x02, 0x0a, ACPI_S5_SLP_TYP, 0x0a,
				      ACPI_S5_SLP_TYP };
	static const uint8_t scope_op[] = { 0x10 };
	uint8_t devices[1024];
	size_t n = 0, o = HDR_SIZE;

	/* A hardware-reduced platform has no legacy PIC, so Linux maps an
	 * interrupt only for devices the namespace describes. */
	n += aml_legacy_device(devices + n, "COM1", 0x0105d041 /* PNP0501 */,
			       1, 0x3f8, 8, 4);
	n += aml_legacy_device(devices + n, "RTC_", 0x000bd041 /* PNP0B00 */,
			       0, 0x70, 2, 8);
	for (unsigned i = 0; i < p->nr_mmio_devs && i < ACPI_MAX_MMIO_DEVS; i++)
		n += aml_mmio_device(devices + n, i, &p->mmio_devs[i]);
	if (p->pci) {
		n += aml_pci_host(devices + n, p);
		n += aml_ecam_reservation(devices + n, p);
	}
	header(t, "DSDT", 2);
	memcpy(t + o, s5, sizeof(s5));
	o += sizeof(s5);
	o += aml_block(t + o, scope_op, 1, "_SB_", devices, n);
	return finish(t, o);
}
/* clang-format on */

static size_t build_fadt(uint8_t *t, uint64_t dsdt)
{
	header(t, "FACP", 6);
	put32(t + 40, (uint32_t)dsdt);
	put16(t + 109, BOOT_ARCH_VGA_NOT_PRESENT);
	put32(t + 112, FADT_F_HW_REDUCED | FADT_F_RESET_REG_SUP |
			       FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON);
	gas_io(t + 116, ACPI_RESET_PORT);
	t[128] = ACPI_RESET_VALUE;
	put64(t + 140, dsdt);
	gas_io(t + 244, ACPI_SLEEP_CONTROL_PORT);
	gas_io(t + 256, ACPI_SLEEP_STATUS_PORT);
	memcpy(t + 268, "VMMVMM\0\0", 8);
	return finish(t, FADT_SIZE);
}

static size_t build_madt(uint8_t *t, unsigned ncpus)
{
	uint8_t *p = t + HDR_SIZE + 8;

	header(t, "APIC", 4);
	put32(t + HDR_SIZE, (uint32_t)LAYOUT_LAPIC);
	put32(t + HDR_SIZE + 4, 1); /* PCAT_COMPAT: 8259s present */
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		p[0] = 0, p[1] = 8, p[2] = (uint8_t)i, p[3] = (uint8_t)i;
		put32(p + 4, 1); /* enabled */
	}
	p[0] = 1, p[1] = 12, p[2] = (uint8_t)ncpus;
	put32(p + 4, (uint32_t)LAYOUT_IOAPIC);
	put32(p + 8, 0);
	p += 12;
	/* LINT1 of every processor is NMI. */
	p[0] = 4, p[1] = 6, p[2] = 0xff, p[5] = 1;
	p += 6;
	return finish(t, (size_t)(p - t));
}

/* MCFG: one ECAM allocation, segment 0, bus 0 only. */
static size_t build_mcfg(uint8_t *t, const struct acpi_platform *p)
{
	uint8_t *a = t + HDR_SIZE + 8;

	header(t, "MCFG", 1);
	put64(a, p->pci_ecam);
	return finish(t, HDR_SIZE + 8 + 16);
}

static void build_rsdp(uint8_t *r, uint64_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "VMMVMM", 6);
	r[15] = 2;
	put32(r + 20, 36);
	put64(r + 24, xsdt);
	r[8] = checksum(r, 20);
	r[32] = checksum(r, 36);
}

size_t acpi_build(uint8_t *buf, uint64_t gpa, const struct acpi_platform *p)
{
	size_t off = 48, dsdt, fadt, madt, mcfg = 0, xsdt;
	unsigned n = 2;

	memset(buf, 0, ACPI_MAX_SIZE);
	dsdt = off;
	off += build_dsdt(buf + dsdt, p);
	fadt = off;
	off += build_fadt(buf + fadt, gpa + dsdt);
	madt = off;
	off += build_madt(buf + madt, p->ncpus);
	if (p->pci) {
		mcfg = off;
		off += build_mcfg(buf + mcfg, p);
	}
	xsdt = off;
	header(buf + xsdt, "XSDT", 1);
	put64(buf + xsdt + HDR_SIZE, gpa + fadt);
	put64(buf + xsdt + HDR_SIZE + 8, gpa + madt);
	if (mcfg)
		put64(buf + xsdt + HDR_SIZE + 8 * n++, gpa + mcfg);
	off += finish(buf + xsdt, HDR_SIZE + 8 * n);
	build_rsdp(buf, gpa + xsdt);
	return off;
}
