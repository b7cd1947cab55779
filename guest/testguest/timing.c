/* TSC frequency, measured against the PIT (1.193182 MHz) counting freely:
 * channel 2 in mode 2, gated through port 0x61 (no interrupt), or on
 * machines without that gate (QEMU's microvm reads OUT2 high at once)
 * channel 0. The counter is latched again and again for CALIBRATE_MS,
 * each latch bracketed by two TSC reads; the rate comes from the
 * tightest bracket near the start and the tightest near the end. A port
 * access is a VM exit, and a slow or preempted one ends up in a wide
 * bracket that is not used: the first method here (t0 taken after the
 * count started, two exits late) came out up to 7% low on a nested host,
 * and every rate the guest reports was off by as much. A board without a
 * PIT (vmm run --pit off: its ports read 0xff) leaves the RTC: one second
 * between two changes of its seconds register, up to 2 s. */
#include "guest.h"

#define PIT_HZ 1193182
#define CALIBRATE_MS 20
#define EDGE_MS 4 /* where the start and end samples are chosen from */

static uint64_t hz, hz_error_ppm;

/* One latch of a channel, between two TSC reads. */
struct pit_sample {
	uint64_t tsc_mid, tsc_width;
	uint16_t count;
};

static struct pit_sample sample_channel(unsigned channel)
{
	uint64_t a, b;
	uint8_t lo;

	a = rdtsc();
	outb(0x43, (uint8_t)(channel << 6)); /* counter latch */
	b = rdtsc();
	lo = inb((uint16_t)(0x40 + channel));
	return (struct pit_sample){
		a / 2 + b / 2 + (a & b & 1), b - a,
		(uint16_t)(lo | inb((uint16_t)(0x40 + channel)) << 8)
	};
}

/* Samples further apart than this may hide a wrap of the counter (every
 * 55 ms): at any TSC rate above 0.73 GHz it is under 55 ms. */
#define MAX_GAP_CYCLES 40000000ULL

/* The channel counts down from 65535 in mode 2 (free-running, wrapping
 * every 55 ms): samples are taken until CALIBRATE_MS worth of ticks have
 * passed, keeping the tightest in the first and in the last EDGE_MS.
 * False when two samples came too far apart (the vCPU was preempted). */
static bool calibrate_pit_once(unsigned channel)
{
	uint32_t want = PIT_HZ / 1000 * CALIBRATE_MS,
		 edge = PIT_HZ / 1000 * EDGE_MS, ticks = 0;
	struct pit_sample last, s, best_first, best_last = { 0 };
	uint32_t first_ticks = 0, last_ticks = 0;
	uint64_t t0;

	outb(0x43, (uint8_t)(channel << 6 | 0x34)); /* LSB/MSB, mode 2 */
	outb((uint16_t)(0x40 + channel), 0xff);
	outb((uint16_t)(0x40 + channel), 0xff);
	best_first = last = sample_channel(channel);
	t0 = rdtsc();
	while (ticks < want) {
		s = sample_channel(channel);
		if (s.tsc_mid - last.tsc_mid > MAX_GAP_CYCLES)
			return false;
		ticks += (uint16_t)(last.count - s.count);
		last = s;
		if (ticks <= edge && s.tsc_width < best_first.tsc_width) {
			best_first = s;
			first_ticks = ticks;
		}
		if (ticks >= want - edge &&
		    (!best_last.tsc_width ||
		     s.tsc_width < best_last.tsc_width)) {
			best_last = s;
			last_ticks = ticks;
		}
		if (rdtsc() - t0 > 20000000000ULL)
			return true; /* a stuck counter: no rate */
	}
	ticks = last_ticks - first_ticks;
	hz = (best_last.tsc_mid - best_first.tsc_mid) * PIT_HZ / ticks;
	/* Half of each bracket, and one PIT tick at each end. */
	hz_error_ppm = ((best_first.tsc_width + best_last.tsc_width) / 2 +
			2 * hz / PIT_HZ) *
		       1000000 / (best_last.tsc_mid - best_first.tsc_mid);
	return true;
}

static void calibrate_pit(unsigned channel)
{
	for (unsigned attempt = 0; attempt < 5; attempt++)
		if (calibrate_pit_once(channel))
			return;
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
	a = sample_channel(0).count;
	for (t = rdtsc(); rdtsc() - t < 3000000;)
		cpu_relax();
	b = sample_channel(0).count;
	return !(a == 0xffff && b == 0xffff);
}

void timing_init(void)
{
	if (!pit_present()) {
		calibrate_rtc();
		hz_error_ppm =
			hz ? 1000000 / 100 : 0; /* the register's 10 ms */
		return;
	}
	/* Channel 2's gate on, its speaker off; with the count set in mode
	 * 0 OUT2 starts low where the gate exists. */
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0); /* channel 2, LSB/MSB, mode 0 */
	outb(0x42, 0xff);
	outb(0x42, 0xff);
	if (inb(0x61) & 0x20) {
		calibrate_pit(0);
		return;
	}
	calibrate_pit(2);
	outb(0x61, (uint8_t)(inb(0x61) & ~0x03)); /* gate off: it stops */
}

uint64_t tsc_hz_error_ppm(void)
{
	return hz_error_ppm;
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
