/* Pure functions, no state; called on the main thread during start-up. */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "checked.h"

static int parse_digits(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (!checked_mul(v, 10, &v) ||
		    !checked_add(v, (uint64_t)(*s - '0'), &v))
			return -ERANGE;
	}
	*p = s;
	*out = v;
	return 0;
}

static int suffix_shift(const char *s, unsigned *shift)
{
	static const char units[] = "KMGT";
	unsigned i;

	for (i = 0; units[i]; i++)
		if (toupper((unsigned char)*s) == units[i])
			break;
	if (!units[i])
		return -EINVAL;
	s++;
	if (*s && strcasecmp(s, "iB") && strcasecmp(s, "B"))
		return -EINVAL;
	*shift = 10 * (i + 1);
	return 0;
}

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	uint64_t v, mult = default_unit, bytes;
	unsigned shift;
	int r;

	r = parse_digits(&s, &v);
	if (r)
		return r;
	if (*s) {
		r = suffix_shift(s, &shift);
		if (r)
			return r;
		mult = 1ULL << shift;
	}
	if (!checked_mul(v, mult, &bytes))
		return -ERANGE;
	*out = bytes;
	return 0;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int r = parse_digits(&s, &v);

	if (r)
		return r;
	if (*s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
