/* tsc-rate: this machine's TSC rate in kHz, timed against
 * CLOCK_MONOTONIC_RAW over 200 ms: the reference tests/guest/cases/hello.sh
 * holds the test guest's PIT calibration to. Each end is one clock read
 * bracketed by two TSC reads; an end whose bracket is wide (the thread
 * was preempted) is read again, so the figure is good to well under a
 * part per million of the clock's own rate.
 *   tsc-rate            prints "tsc-rate: N kHz"
 * Single-threaded; no state outside main. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

#define SPAN_NS 200000000LL
#define MAX_BRACKET_CYCLES 20000 /* a clock read takes well under 1000 */
#define TRIES 100

struct stamp {
	uint64_t tsc;
	int64_t ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A clock read and the TSC at that moment; -1 in .ns when every try was
 * preempted. */
static struct stamp stamp(void)
{
	for (int i = 0; i < TRIES; i++) {
		uint64_t a = __rdtsc();
		int64_t ns = now_ns();
		uint64_t b = __rdtsc();

		if (b - a < MAX_BRACKET_CYCLES)
			return (struct stamp){ a + (b - a) / 2, ns };
	}
	return (struct stamp){ 0, -1 };
}

int main(void)
{
	struct stamp start = stamp(), end;
	struct timespec span = { SPAN_NS / 1000000000LL,
				 SPAN_NS % 1000000000LL };

	nanosleep(&span, NULL);
	end = stamp();
	if (start.ns < 0 || end.ns < 0 || end.ns <= start.ns) {
		fprintf(stderr,
			"tsc-rate: no clock read came between two close "
			"TSC reads in %d tries\n",
			TRIES);
		return 1;
	}
	printf("tsc-rate: %llu kHz\n",
	       (unsigned long long)((double)(end.tsc - start.tsc) * 1e6 /
				    (double)(end.ns - start.ns)));
	return 0;
}
