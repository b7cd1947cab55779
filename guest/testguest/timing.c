/* TSC frequency, measured against the PIT (1.193182 MHz). First choice:
 * channel 2 gated through port 0x61, counting 10 ms in mode 0 while the
 * guest waits for OUT2 to rise (Linux's method). Machines without the port
 * 0x61 gate (QEMU's microvm) read OUT2 high at once; there the guest runs
 * channel 0 as a free-running counter and reads it back. A board without
 * a PIT (vmm run --pit off: its ports read 0xff) leaves the RTC: one
 * second between two changes of its seconds register, up to 2 s. */
#include "guest.h"

#define PIT_HZ 1193182
#define CALIBRATE_MS 10

static uint64_t hz;

static uint16_t read_channel0(void)
{
	uint8_t lo;

	outb(0x43, 0x00); /* latch channel 0 */
	lo = inb(0x40);
	return (uint16_t)(lo | inb(0x40) << 8);
}

/* Channel 0 in mode 2 from 65535 down: count PIT ticks until enough have
 * passed, across reloads. */
static void calibrate_channel0(void)
{
	uint32_t ticks = 0, want = PIT_HZ * CALIBRATE_MS * 2 / 1000;
	uint16_t last;
	uint64_t t0, t1;

	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	last = read_channel0();
	t0 = rdtsc();
	while (ticks < want) {
		uint16_t now = read_channel0();
		ticks += (uint16_t)(last - now);
		last = now;
		if (rdtsc() - t0 > 20000000000ULL)
			return;
	}
	t1 = rdtsc();
	hz = (t1 - t0) * PIT_HZ / ticks;
}

static uint8_t rtc_seconds(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

/* Waits for the seconds register to change; false after ~20 G cycles. */
static int rtc_next_second(void)
{
	uint8_t s = rtc_seconds();
	uint64_t t0 = rdtsc();

	while (rtc_seconds() == s)
		if (rdtsc() - t0 > 20000000000ULL)
			return 0;
	return 1;
}

static void calibrate_rtc(void)
{
	uint64_t t0;

	if (!rtc_next_second())
		return;
	t0 = rdtsc();
	if (rtc_next_second())
		hz = rdtsc() - t0;
}

int pit_present(void)
{
	uint16_t a, b;
	uint64_t t;

	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	a = read_channel0();
	for (t = rdtsc(); rdtsc() - t < 3000000;)
		cpu_relax();
	b = read_channel0();
	return !(a == 0xffff && b == 0xffff);
}

void timing_init(void)
{
	uint16_t latch = PIT_HZ * CALIBRATE_MS / 1000;
	uint64_t t0, t1;

	if (!pit_present()) {
		calibrate_rtc();
		return;
	}
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0 */
	outb(0x42, latch & 0xff);
	outb(0x42, latch >> 8);
	if (inb(0x61) & 0x20) {
		calibrate_channel0();
		return;
	}
	t0 = rdtsc();
	/* Bounded: a machine without port 0x61 must not hang the guest. */
	while (!(inb(0x61) & 0x20))
		if (rdtsc() - t0 > 20000000000ULL)
			return;
	t1 = rdtsc();
	hz = (t1 - t0) * (1000 / CALIBRATE_MS);
}

uint64_t tsc_hz(void)
{
	return hz;
}

void delay_us(uint64_t us)
{
	uint64_t cycles = (hz ? hz : 3000000000ULL) / 1000000 * us;
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles)
		cpu_relax();
}
