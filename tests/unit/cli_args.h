/* Building `vmm run` argument vectors in CLI tests: ARGS("--kernel", K)
 * is a NULL-terminated argv starting with "run"; argv_count its argc.
 * Test-only; header-only. */
#ifndef TESTS_CLI_ARGS_H
#define TESTS_CLI_ARGS_H

#define ARGS(...) ((char *[]){ "run", __VA_ARGS__, NULL })

static inline int argv_count(char **argv)
{
	int n = 0;

	while (argv[n])
		n++;
	return n;
}

#endif
