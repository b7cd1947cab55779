/* Secondary CPUs: copy the real-mode trampoline below 1 MiB, then send
 * INIT and two SIPIs to all other CPUs through the xAPIC's ICR (MMIO,
 * reachable from CPL3 since every page is user-accessible). Each AP runs
 * the start-up in entry.S, takes the next CPU index and calls ap_main. */
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
