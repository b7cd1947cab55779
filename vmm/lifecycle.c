/* Called from vCPU threads, the main thread and signal handling in the main
 * loop; state is C11/GCC atomics plus an eventfd, no lock. The one atomic
 * word is the stop source: the reason follows from it, so the two can never
 * disagree. */
#include "lifecycle.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name;
	enum stop_reason reason;
} sources[STOP_SOURCE_COUNT] = {
	[STOP_BY_NONE] = { "none", STOP_NONE },
	[STOP_BY_EXIT_PORT] = { "exit-port", STOP_EXIT_PORT },
	[STOP_BY_ACPI_POWEROFF] = { "acpi-poweroff", STOP_POWEROFF },
	[STOP_BY_ACPI_RESET] = { "acpi-reset", STOP_RESET },
	[STOP_BY_I8042_RESET] = { "i8042-reset", STOP_RESET },
	[STOP_BY_TRIPLE_FAULT] = { "triple-fault", STOP_RESET },
	[STOP_BY_SIGNAL] = { "signal", STOP_SIGNAL },
	[STOP_BY_CONSOLE] = { "console", STOP_CONSOLE },
	[STOP_BY_ERROR] = { "error", STOP_ERROR },
	[STOP_BY_API_QUIT] = { "api-quit", STOP_QUIT },
	[STOP_BY_MIGRATED] = { "migrated", STOP_MIGRATED },
	[STOP_BY_OTHER_RESET] = { "reset", STOP_RESET },
	[STOP_BY_OTHER_POWEROFF] = { "poweroff", STOP_POWEROFF },
};

/* The source recorded for a caller that names only a reason. */
static const enum stop_source reason_source[] = {
	[STOP_NONE] = STOP_BY_NONE,
	[STOP_EXIT_PORT] = STOP_BY_EXIT_PORT,
	[STOP_RESET] = STOP_BY_OTHER_RESET,
	[STOP_POWEROFF] = STOP_BY_OTHER_POWEROFF,
	[STOP_SIGNAL] = STOP_BY_SIGNAL,
	[STOP_CONSOLE] = STOP_BY_CONSOLE,
	[STOP_ERROR] = STOP_BY_ERROR,
	[STOP_QUIT] = STOP_BY_API_QUIT,
	[STOP_MIGRATED] = STOP_BY_MIGRATED,
};

uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int lifecycle_init(struct lifecycle *life, uint64_t start_ns)
{
	life->source = STOP_BY_NONE;
	life->status = 0;
	life->start_ns = start_ns;
	life->boot_marker_ns = 0;
	life->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return life->stop_fd < 0 ? -errno : 0;
}

void lifecycle_destroy(struct lifecycle *life)
{
	if (life->stop_fd >= 0)
		close(life->stop_fd);
	life->stop_fd = -1;
}

const char *lifecycle_source_name(enum stop_source source)
{
	if ((unsigned)source >= STOP_SOURCE_COUNT)
		return "unknown";
	return sources[source].name;
}

enum stop_reason lifecycle_source_reason(enum stop_source source)
{
	if ((unsigned)source >= STOP_SOURCE_COUNT)
		return STOP_ERROR;
	return sources[source].reason;
}

void lifecycle_stop_by(struct lifecycle *life, enum stop_source source,
		       int status)
{
	int none = STOP_BY_NONE;
	uint64_t one = 1;

	/* "No source" cannot win: it would leave the run unstoppable. */
	if ((unsigned)source >= STOP_SOURCE_COUNT || source == STOP_BY_NONE)
		source = STOP_BY_ERROR;
	if (!__atomic_compare_exchange_n(&life->source, &none, (int)source,
					 false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&life->status, status, __ATOMIC_RELEASE);
	if (write(life->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail for a counter far below its maximum. */
	}
}

void lifecycle_stop(struct lifecycle *life, enum stop_reason reason, int status)
{
	enum stop_source source = STOP_BY_ERROR;

	if ((unsigned)reason < sizeof(reason_source) / sizeof(reason_source[0]))
		source = reason_source[reason];
	lifecycle_stop_by(life, source, status);
}

bool lifecycle_stopping(const struct lifecycle *life)
{
	return lifecycle_source(life) != STOP_BY_NONE;
}

enum stop_source lifecycle_source(const struct lifecycle *life)
{
	return (enum stop_source)__atomic_load_n(&life->source,
						 __ATOMIC_ACQUIRE);
}

enum stop_reason lifecycle_reason(const struct lifecycle *life)
{
	return lifecycle_source_reason(lifecycle_source(life));
}

void lifecycle_mark_boot(struct lifecycle *life)
{
	uint64_t zero = 0, now = monotonic_ns() - life->start_ns;

	if (!now)
		now = 1;
	__atomic_compare_exchange_n(&life->boot_marker_ns, &zero, now, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
