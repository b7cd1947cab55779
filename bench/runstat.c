/* Runs a command and reports, on one line to stderr:
 *   runstat: exec_ns N wall_us N maxrss_kib N status N
 * exec_ns is CLOCK_MONOTONIC just before execve, to pair with times the
 * child reports; wall_us is exec to exit; maxrss is the child's peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: runstat CMD [ARG...]\n");
		return 2;
	}
	t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
		perror("runstat");
		return 1;
	}
	t1 = now_ns();
	fprintf(stderr,
		"runstat: exec_ns %llu wall_us %llu maxrss_kib %ld status %d\n",
		t0, (t1 - t0) / 1000, ru.ru_maxrss,
		WIFEXITED(status) ? WEXITSTATUS(status)
				  : 128 + WTERMSIG(status));
	return 0;
}
