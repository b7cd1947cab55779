/* Checked arithmetic for sizes and offsets that come from the guest or a
 * file: every sum or product of untrusted values goes through these, so an
 * overflow is an error instead of a wrapped address. Header-only, no state. */
#ifndef VMM_CHECKED_H
#define VMM_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

/* *sum = a + b; returns false (and leaves *sum undefined) on overflow. */
static inline bool checked_add(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

/* *prod = a * b; returns false on overflow. */
static inline bool checked_mul(uint64_t a, uint64_t b, uint64_t *prod)
{
	return !__builtin_mul_overflow(a, b, prod);
}

/* True when [off, off + len) lies inside [0, size), without overflow. */
static inline bool range_within(uint64_t off, uint64_t len, uint64_t size)
{
	uint64_t end;
	return checked_add(off, len, &end) && end <= size;
}

/* True when the range [a, a + alen) overlaps [b, b + blen); empty ranges
 * overlap nothing. Callers have checked that neither range wraps. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
				  uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static inline uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static inline uint64_t align_down(uint64_t v, uint64_t align)
{
	return v & ~(align - 1);
}

#endif
