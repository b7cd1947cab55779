/* The command-line number parsers (lib/parse.c) on arbitrary strings,
 * checked against a reference parser written differently: a result is
 * accepted only for digits with at most one K/M/G/T suffix (optionally
 * followed by "iB" or "B"; all case-insensitive), with the value
 * computed without overflow. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "lib/parse.h"

/* 0 and *out, or -1 when s is not a size. */
static int reference_size(const char *s, uint64_t unit, uint64_t *out)
{
	unsigned __int128 v = 0;
	size_t i = 0;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return -1;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > UINT64_MAX)
			return -1;
	}
	if (s[i]) {
		const char *sfx = "kmgt";
		const char *p = strchr(sfx, s[i] | 0x20);
		if (!p)
			return -1;
		unit = 1ULL << (10 * (unsigned)(p - sfx + 1));
		i++;
		if (!strcasecmp(s + i, "iB") || !strcasecmp(s + i, "B") ||
		    !s[i])
			i = strlen(s);
		else
			return -1;
	}
	v *= unit;
	if (v > UINT64_MAX)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64];
	uint64_t got = 0, want = 0, n = 0;
	int r, ref;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	r = parse_size(s, 1, &got);
	ref = reference_size(s, 1, &want);
	INVARIANT((r == 0) == (ref == 0));
	if (r == 0)
		INVARIANT(got == want);
	r = parse_uint(s, 1, 1000, &n);
	if (r == 0)
		INVARIANT(n >= 1 && n <= 1000 &&
			  strspn(s, "0123456789") == strlen(s));
	return 0;
}
