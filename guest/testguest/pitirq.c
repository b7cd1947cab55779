/* scenario=pitirq: the i8254's channel 0 interrupt (ISA IRQ 0), counted
 * through the IOAPIC, timed by the TSC calibrated against channel 2:
 * - mode 2 at 1 kHz for 200 ms: at most 202 interrupts (the timer never
 *   runs fast) and at least 20 (it keeps running: lost ticks are
 *   merged, and a shared 2-core host may delay some);
 * - mode 0 with a count of 1 ms: exactly one interrupt in the next
 *   100 ms, and channel 0's read-back status then shows OUT high (a
 *   55 ms mode 0 first, for 5 ms, lets what mode 2 had in flight land);
 * - mode 0 of 10 ms reprogrammed after 5 ms: still one interrupt.
 * IOAPIC pins 0 and 2 both go to the counting slot: vmm's tables map
 * IRQ 0 to pin 0, a PC's (QEMU's) override it to pin 2. */
#include "guest.h"

#define SLOT 0
#define PIT_HZ 1193182

static void program0(uint8_t mode, uint16_t count)
{
	outb(0x43, (uint8_t)(0x30 | mode << 1)); /* LSB then MSB */
	outb(0x40, (uint8_t)count);
	outb(0x40, (uint8_t)(count >> 8));
}

static uint32_t irqs_during_ms(uint64_t ms)
{
	uint32_t start = irq_counts[SLOT];
	uint64_t t0 = rdtsc(), cycles = tsc_hz() / 1000 * ms;

	while (rdtsc() - t0 < cycles)
		cpu_relax();
	return irq_counts[SLOT] - start;
}

int scenario_pitirq(void)
{
	uint32_t periodic, oneshot, rearmed;
	uint8_t status;

	timing_init();
	if (!tsc_hz()) {
		printf("guest: pitirq: no TSC frequency\n");
		return 1;
	}
	irq_init();
	ioapic_route(0, SLOT);
	ioapic_route(2, SLOT);

	program0(2, PIT_HZ / 1000);
	periodic = irqs_during_ms(200);
	program0(0, 0xffff);
	(void)irqs_during_ms(5);
	program0(0, PIT_HZ / 1000);
	oneshot = irqs_during_ms(100);
	outb(0x43, 0xe2); /* read-back: channel 0's status only */
	status = inb(0x40);
	program0(0, PIT_HZ / 100);
	delay_us(5000);
	program0(0, PIT_HZ / 100);
	rearmed = irqs_during_ms(100);
	printf("guest: pitirq: periodic %u in 200 ms, one-shot %u, rearmed "
	       "%u, status 0x%x\n",
	       periodic, oneshot, rearmed, status);
	if (periodic < 20 || periodic > 202 || oneshot != 1 || rearmed != 1 ||
	    status != 0xb0)
		return 1;
	printf("guest: pitirq ok\n");
	return 0;
}
