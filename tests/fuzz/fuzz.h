/* What every fuzz target shares: INVARIANT (one line naming the failed
 * condition, then abort(), which libFuzzer reports as a crash with the
 * input saved) and the count of open file descriptors, for the targets
 * that check none leaks across an input. dprintf rather than stdio:
 * some targets capture stdout and stderr while vmm's code runs. */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define INVARIANT(c)                                                           \
	do {                                                                   \
		if (!(c)) {                                                    \
			dprintf(STDERR_FILENO, "INVARIANT failed: %s\n", #c);  \
			abort();                                               \
		}                                                              \
	} while (0)

static inline int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	INVARIANT(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#endif
