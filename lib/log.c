/* Runs on any thread; stderr is the only state and each line is written
 * with one call, so lines from different threads do not interleave. A
 * struct log_limit is updated with atomics only. */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void log_line(const char *prefix, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%s", prefix);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n + 2 > sizeof(buf))
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	buf[n] = 0;
	fputs(buf, stderr);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Racing threads may each start a new window or let one line too many
 * through; a limit that is off by a few lines is still a limit. */
bool log_limit_allow(struct log_limit *l, uint32_t *dropped_before)
{
	uint64_t now = now_ns();
	uint64_t start = __atomic_load_n(&l->window_start_ns, __ATOMIC_RELAXED);

	if (!start || now - start >= LOG_LIMIT_WINDOW_NS) {
		__atomic_store_n(&l->window_start_ns, now, __ATOMIC_RELAXED);
		__atomic_store_n(&l->lines, 0, __ATOMIC_RELAXED);
	}
	if (__atomic_add_fetch(&l->lines, 1, __ATOMIC_RELAXED) >
	    LOG_LIMIT_BURST) {
		__atomic_add_fetch(&l->dropped, 1, __ATOMIC_RELAXED);
		return false;
	}
	*dropped_before = __atomic_exchange_n(&l->dropped, 0, __ATOMIC_RELAXED);
	return true;
}
