/* Called from vCPU threads, the main thread and signal handling in the main
 * loop; state is C11/GCC atomics plus an eventfd, no lock. */
#include "lifecycle.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int lifecycle_init(struct lifecycle *life, uint64_t start_ns)
{
	life->reason = STOP_NONE;
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

void lifecycle_stop(struct lifecycle *life, enum stop_reason reason,
		    int status)
{
	int none = STOP_NONE;
	uint64_t one = 1;

	if (!__atomic_compare_exchange_n(&life->reason, &none, (int)reason,
					 false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&life->status, status, __ATOMIC_RELEASE);
	if (write(life->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail for a counter far below its maximum. */
	}
}

bool lifecycle_stopping(const struct lifecycle *life)
{
	return __atomic_load_n(&life->reason, __ATOMIC_ACQUIRE) != STOP_NONE;
}

enum stop_reason lifecycle_reason(const struct lifecycle *life)
{
	return (enum stop_reason)__atomic_load_n(&life->reason,
						 __ATOMIC_ACQUIRE);
}

void lifecycle_mark_boot(struct lifecycle *life)
{
	uint64_t zero = 0, now = monotonic_ns() - life->start_ns;

	if (!now)
		now = 1;
	__atomic_compare_exchange_n(&life->boot_marker_ns, &zero, now, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
