/* How a VM run ends: the first stop request wins and names the reason and
 * the exit status; the main thread waits on stop_fd, then stops the vCPUs.
 * Also holds the boot-time marker. */
#ifndef VMM_LIFECYCLE_H
#define VMM_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

enum stop_reason {
	STOP_NONE,
	STOP_EXIT_PORT, /* status: the value written to port 0x501 */
	STOP_RESET,	/* guest reboot: i8042, triple fault, ACPI reset */
	STOP_POWEROFF,	/* ACPI S5 */
	STOP_SIGNAL,	/* SIGINT/SIGTERM: status 128 + signal */
	STOP_CONSOLE,	/* Ctrl-A x */
	STOP_ERROR,	/* a VMM or KVM failure, already logged */
};

struct lifecycle {
	int reason;	/* enum stop_reason, atomic: first writer wins */
	int status;	/* written once by the winner, read after the join */
	int stop_fd;	/* eventfd, readable once a stop was requested */
	uint64_t start_ns;	/* CLOCK_MONOTONIC at VMM start */
	uint64_t boot_marker_ns; /* atomic: first port 0x502 write, 0 = none */
};

int lifecycle_init(struct lifecycle *life, uint64_t start_ns);
void lifecycle_destroy(struct lifecycle *life);

/* Requests the end of the run; later requests are ignored. Any thread. */
void lifecycle_stop(struct lifecycle *life, enum stop_reason reason,
		    int status);
bool lifecycle_stopping(const struct lifecycle *life);
enum stop_reason lifecycle_reason(const struct lifecycle *life);

/* Records the time of the first boot marker write. Any thread. */
void lifecycle_mark_boot(struct lifecycle *life);

uint64_t monotonic_ns(void);

#endif
