/* A whole file read into memory for a test's checks: malloc'd, with
 * `room` spare bytes after the data (a NUL, a size word to append), the
 * test failing if it cannot be read. Test-only; header-only. */
#ifndef TESTS_READ_WHOLE_H
#define TESTS_READ_WHOLE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t *read_whole(const char *path, size_t *len, size_t room)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	cr_assert_geq(n, 0, "%s", path);
	b = calloc(1, (size_t)n + room + 1);
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n, "%s", path);
	fclose(f);
	*len = (size_t)n;
	return b;
}

#endif
