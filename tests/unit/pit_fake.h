/* A fake backend for the i8254 model (arch/x86/pit.h), for the unit
 * tests and the fuzz target: a clock the test moves, the last arm of
 * channel 0's timer, expirations the test sets (an arm forgets them, as
 * a timerfd's does), and a count of IRQ 0 edges. One thread. */
#ifndef TESTS_UNIT_PIT_FAKE_H
#define TESTS_UNIT_PIT_FAKE_H

#include <stdint.h>

#include "arch/x86/pit.h"

struct pit_fake {
	uint64_t now;
	uint64_t first, period; /* the last arm */
	unsigned arms;
	uint64_t pending; /* what the next expirations returns */
	unsigned irqs;
};

static inline uint64_t pit_fake_now(void *o)
{
	return ((struct pit_fake *)o)->now;
}

static inline void pit_fake_arm(void *o, uint64_t first, uint64_t period)
{
	struct pit_fake *f = o;

	f->first = first;
	f->period = period;
	f->arms++;
	f->pending = 0;
}

static inline uint64_t pit_fake_expirations(void *o)
{
	struct pit_fake *f = o;
	uint64_t n = f->pending;

	f->pending = 0;
	return n;
}

static inline void pit_fake_irq0(void *o)
{
	((struct pit_fake *)o)->irqs++;
}

static inline struct pit_backend pit_fake_backend(struct pit_fake *f)
{
	return (struct pit_backend){ pit_fake_now, pit_fake_arm,
				     pit_fake_expirations, pit_fake_irq0, f };
}

#endif
