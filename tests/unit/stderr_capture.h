/* Standard error captured into a memfd between capture_begin and
 * capture_end, for tests that assert a log line whole. One test thread;
 * not nested. */
#ifndef TESTS_UNIT_STDERR_CAPTURE_H
#define TESTS_UNIT_STDERR_CAPTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int capture_saved_stderr = -1, capture_fd = -1;
static char capture_text[8192];

static inline void capture_begin(void)
{
	fflush(stderr);
	capture_fd = memfd_create("stderr", MFD_CLOEXEC);
	cr_assert_geq(capture_fd, 0);
	capture_saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(capture_saved_stderr, 0);
	cr_assert_eq(dup2(capture_fd, STDERR_FILENO), STDERR_FILENO);
}

/* What was written since capture_begin, NUL-terminated. */
static inline const char *capture_end(void)
{
	ssize_t n;

	fflush(stderr);
	cr_assert_eq(dup2(capture_saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(capture_saved_stderr);
	n = pread(capture_fd, capture_text, sizeof(capture_text) - 1, 0);
	cr_assert_geq(n, 0);
	capture_text[n] = 0;
	close(capture_fd);
	return capture_text;
}

#endif
