/* Secondary CPUs: copy the real-mode trampoline below 1 MiB, then send
 * INIT and two SIPIs to all other CPUs through the xAPIC's ICR (MMIO,
 * reachable from CPL3 since every page is user-accessible). Each AP runs
 * the start-up in entry.S, takes the next CPU index and calls ap_main
 * (at CPL3, like the boot CPU). smp_cpus counts the CPUs in the ACPI
 * MADT, for scenarios that use every one the VM has. */
#include "guest.h"

#define LAPIC 0xfee00000ULL
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)

extern const char trampoline_start[], trampoline_end[];
extern volatile uint32_t next_cpu;

static void (*volatile ap_function)(unsigned cpu);

/* Called by user_entry on every AP (guest_main dispatches here). */
void smp_ap_entry(unsigned cpu)
{
	while (!ap_function)
		cpu_relax();
	ap_function(cpu);
	for (;;)
		cpu_relax();
}

static void send_ipi(uint32_t icr)
{
	mmio_write32(LAPIC + LAPIC_ICR_HIGH, 0);
	mmio_write32(LAPIC + LAPIC_ICR_LOW, icr);
}

unsigned smp_start(unsigned expected, void (*ap_main)(unsigned cpu))
{
	uint64_t t0;

	ap_function = ap_main;
	memcpy((void *)TRAMPOLINE_ADDR, trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
	mmio_write32(LAPIC + LAPIC_SVR, mmio_read32(LAPIC + LAPIC_SVR) | 0x100);
	send_ipi(ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_INIT);
	delay_us(10000);
	for (int i = 0; i < 2; i++) {
		send_ipi(ICR_ALL_BUT_SELF | ICR_STARTUP |
			 (TRAMPOLINE_ADDR >> 12));
		delay_us(200);
	}
	t0 = rdtsc();
	while (next_cpu < expected &&
	       rdtsc() - t0 < 10 * (tsc_hz() ? tsc_hz() : 3000000000ULL))
		cpu_relax();
	return next_cpu;
}

/* ACPI tables, read in place (identity mapped, user accessible). */
static bool acpi_sum_ok(const uint8_t *p, uint32_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *p++);
	return !sum;
}

static const uint8_t *acpi_table(uint64_t addr, const char *sig)
{
	const uint8_t *t = (const uint8_t *)addr;
	uint32_t len;

	if (!addr || addr + 36 > (uint64_t)MAPPED_GIB << 30 ||
	    memcmp(t, sig, 4))
		return NULL;
	memcpy(&len, t + 4, 4);
	if (len < 36 || len > 1 << 20 ||
	    addr + len > (uint64_t)MAPPED_GIB << 30 || !acpi_sum_ok(t, len))
		return NULL;
	return t;
}

/* From hvm_start_info, else where a BIOS leaves it (0xe0000-0xfffff). */
static const uint8_t *acpi_rsdp(void)
{
	const uint8_t *r = (const uint8_t *)pvh_rsdp();

	if (r && !memcmp(r, "RSD PTR ", 8) && acpi_sum_ok(r, 20))
		return r;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		r = (const uint8_t *)a;
		if (!memcmp(r, "RSD PTR ", 8) && acpi_sum_ok(r, 20))
			return r;
	}
	return NULL;
}

static const uint8_t *acpi_find(const char *sig)
{
	const uint8_t *r = acpi_rsdp(), *root;
	uint32_t len, rsdt = 0;
	uint64_t xsdt = 0;
	unsigned size;

	if (!r)
		return NULL;
	memcpy(&rsdt, r + 16, 4);
	if (r[15] >= 2)
		memcpy(&xsdt, r + 24, 8);
	root = xsdt ? acpi_table(xsdt, "XSDT") : NULL;
	size = 8;
	if (!root) {
		root = acpi_table(rsdt, "RSDT");
		size = 4;
	}
	if (!root)
		return NULL;
	memcpy(&len, root + 4, 4);
	for (uint32_t off = 36; off + size <= len; off += size) {
		uint64_t a = 0;
		const uint8_t *t;
		memcpy(&a, root + off, size);
		t = acpi_table(a, sig);
		if (t)
			return t;
	}
	return NULL;
}

unsigned smp_cpus(void)
{
	const uint8_t *madt = acpi_find("APIC");
	uint32_t len, flags;
	unsigned n = 0;

	if (!madt)
		return 0;
	memcpy(&len, madt + 4, 4);
	for (uint32_t off = 44; off + 2 <= len && madt[off + 1] >= 2;
	     off += madt[off + 1]) {
		const uint8_t *e = madt + off;
		if (off + e[1] > len)
			break;
		if (e[0] == 0 && e[1] >= 8) /* processor local APIC */
			memcpy(&flags, e + 4, 4);
		else if (e[0] == 9 && e[1] >= 16) /* processor local x2APIC */
			memcpy(&flags, e + 8, 4);
		else
			continue;
		if (flags & 1) /* enabled */
			n++;
	}
	return n < GUEST_MAX_CPUS ? n : GUEST_MAX_CPUS;
}
