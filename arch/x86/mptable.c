/* Pure builder; main thread at start-up. */
#include "mptable.h"

#include <string.h>

#include "layout.h"

#define MP_FLOAT_SIZE 16
#define MP_HDR_SIZE 44
#define MP_CPU_SIZE 20
#define MP_SMALL_SIZE 8
#define MP_ISA_IRQS 16
#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

size_t mptable_size(unsigned ncpus)
{
	return MP_FLOAT_SIZE + MP_HDR_SIZE + ncpus * MP_CPU_SIZE +
	       (1 + 1 + MP_ISA_IRQS + 2) * MP_SMALL_SIZE;
}

static uint8_t *put_cpu(uint8_t *p, unsigned id)
{
	uint32_t signature = 0x600, features = 0x201; /* family 6, FPU|APIC */

	p[0] = MP_PROCESSOR;
	p[1] = (uint8_t)id;
	p[2] = MP_APIC_VERSION;
	p[3] = 1 | (id == 0 ? 2 : 0); /* enabled, bootstrap */
	memcpy(p + 4, &signature, 4);
	memcpy(p + 8, &features, 4);
	return p + MP_CPU_SIZE;
}

static uint8_t *put_irq(uint8_t *p, uint8_t type, uint8_t kind, uint8_t irq,
			uint8_t apic, uint8_t pin)
{
	p[0] = type;
	p[1] = kind;
	p[4] = 0; /* source bus: ISA */
	p[5] = irq;
	p[6] = apic;
	p[7] = pin;
	return p + MP_SMALL_SIZE;
}

static uint8_t *put_bus_and_ioapic(uint8_t *p, uint8_t ioapic_id)
{
	uint32_t addr = (uint32_t)LAYOUT_IOAPIC;

	p[0] = MP_BUS;
	memcpy(p + 2, "ISA   ", 6);
	p += MP_SMALL_SIZE;
	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 1;
	memcpy(p + 4, &addr, 4);
	return p + MP_SMALL_SIZE;
}

static void put_header(uint8_t *hdr, size_t len, unsigned entries)
{
	uint16_t len16 = (uint16_t)len, n16 = (uint16_t)entries;
	uint32_t lapic = (uint32_t)LAYOUT_LAPIC;

	memcpy(hdr, "PCMP", 4);
	memcpy(hdr + 4, &len16, 2);
	hdr[6] = 4; /* spec 1.4 */
	memcpy(hdr + 8, "VMM     ", 8);
	memcpy(hdr + 16, "VMM MPTABLE ", 12);
	memcpy(hdr + 34, &n16, 2);
	memcpy(hdr + 36, &lapic, 4);
	hdr[7] = checksum(hdr, len);
}

void mptable_build(uint8_t *buf, uint64_t gpa, unsigned ncpus)
{
	uint8_t *fp = buf, *hdr = buf + MP_FLOAT_SIZE, *p = hdr + MP_HDR_SIZE;
	uint32_t hdr_gpa = (uint32_t)(gpa + MP_FLOAT_SIZE);
	uint8_t ioapic = (uint8_t)ncpus;

	memset(buf, 0, mptable_size(ncpus));
	for (unsigned i = 0; i < ncpus; i++)
		p = put_cpu(p, i);
	p = put_bus_and_ioapic(p, ioapic);
	/* ISA IRQ n on IOAPIC pin n: KVM's default GSI routing. */
	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++)
		p = put_irq(p, MP_INTSRC, MP_INT, irq, ioapic, irq);
	p = put_irq(p, MP_LINTSRC, MP_EXTINT, 0, 0xff, 0);
	p = put_irq(p, MP_LINTSRC, MP_NMI, 0, 0xff, 1);
	put_header(hdr, (size_t)(p - hdr), ncpus + 2 + MP_ISA_IRQS + 2);

	memcpy(fp, "_MP_", 4);
	memcpy(fp + 4, &hdr_gpa, 4);
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = 4;
	fp[10] = checksum(fp, MP_FLOAT_SIZE);
}
