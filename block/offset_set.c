/* A sorted set of file offsets (block/offset_set.h): binary search,
 * insertion by memmove, growth by doubling. Callers hold their driver's
 * mutex (or are the main thread at open). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "offset_set.h"

/* The first element at or past off. */
static size_t lower_bound(const struct offset_set *s, uint64_t off)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool offset_set_has(const struct offset_set *s, uint64_t off)
{
	size_t i = lower_bound(s, off);

	return i < s->n && s->v[i] == off;
}

bool offset_set_overlaps(const struct offset_set *s, uint64_t off, uint64_t len,
			 uint64_t elem_len)
{
	size_t lo = 0, hi = s->n;

	/* The first element that ends past off. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] + elem_len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->v[lo] < off + len;
}

int offset_set_reserve(struct offset_set *s, size_t cap)
{
	uint64_t *v;

	if (cap <= s->cap)
		return 0;
	if (cap > SIZE_MAX / sizeof(*v))
		return -ENOMEM;
	v = realloc(s->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->cap = cap;
	return 0;
}

int offset_set_add(struct offset_set *s, uint64_t off)
{
	size_t i = lower_bound(s, off);
	int r;

	if (i < s->n && s->v[i] == off)
		return 0;
	if (s->n == s->cap &&
	    (r = offset_set_reserve(s, s->cap ? 2 * s->cap : 64)))
		return r;
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = off;
	s->n++;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void offset_set_sort(struct offset_set *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
}

void offset_set_free(struct offset_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
