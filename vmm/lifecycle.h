/* How a VM run ends: the first stop request wins and names its source (the
 * mechanism that asked, e.g. the ACPI reset register) and the exit status;
 * the source implies the reason (exit port, reset, poweroff, ...) that
 * decides the exit status. The main thread waits on stop_fd, then stops
 * the vCPUs. Also holds the boot-time marker. */
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
	STOP_QUIT,	/* the control socket's quit: status 0 */
	STOP_MIGRATED,	/* the guest runs on a migration's destination: 0 */
};

/* Which mechanism ended the run: one per way in, so a test can tell which
 * of several paths that end alike (Linux falls back from one reboot method
 * to the next) was taken. lifecycle_source_name() gives its fixed word. */
enum stop_source {
	STOP_BY_NONE,
	STOP_BY_EXIT_PORT,     /* "exit-port": port 0x501 */
	STOP_BY_ACPI_POWEROFF, /* "acpi-poweroff": S5 in the sleep control */
	STOP_BY_ACPI_RESET,    /* "acpi-reset": the FADT reset register */
	STOP_BY_I8042_RESET,   /* "i8042-reset": command 0xFE on port 0x64 */
	STOP_BY_TRIPLE_FAULT,  /* "triple-fault": KVM_EXIT_SHUTDOWN */
	STOP_BY_SIGNAL,	       /* "signal": SIGINT/SIGTERM */
	STOP_BY_CONSOLE,       /* "console": Ctrl-A x */
	STOP_BY_ERROR,	       /* "error": a VMM or KVM failure */
	STOP_BY_API_QUIT,      /* "api-quit": quit on the control socket */
	STOP_BY_MIGRATED,      /* "migrated": the destination took over */
	/* Sources of a caller that named only the reason (lifecycle_stop). */
	STOP_BY_OTHER_RESET,	/* "reset" */
	STOP_BY_OTHER_POWEROFF, /* "poweroff" */
	STOP_SOURCE_COUNT,
};

struct lifecycle {
	int source;	   /* enum stop_source, atomic: first writer wins */
	int status;	   /* written once by the winner, read after the join */
	int stop_fd;	   /* eventfd, readable once a stop was requested */
	uint64_t start_ns; /* CLOCK_MONOTONIC at VMM start */
	uint64_t boot_marker_ns; /* atomic: first port 0x502 write, 0 = none */
};

int lifecycle_init(struct lifecycle *life, uint64_t start_ns);
void lifecycle_destroy(struct lifecycle *life);

/* Requests the end of the run from a named source; later requests are
 * ignored. Any thread. */
void lifecycle_stop_by(struct lifecycle *life, enum stop_source source,
		       int status);
/* The same for a caller that names only the reason: the source is the
 * reason's own (exit-port, signal, console, error, api-quit) or the unspecific
 * "reset" / "poweroff". */
void lifecycle_stop(struct lifecycle *life, enum stop_reason reason,
		    int status);
bool lifecycle_stopping(const struct lifecycle *life);
enum stop_reason lifecycle_reason(const struct lifecycle *life);
enum stop_source lifecycle_source(const struct lifecycle *life);

/* The fixed word of a source ("acpi-reset", ...); "none" before a stop. */
const char *lifecycle_source_name(enum stop_source source);
enum stop_reason lifecycle_source_reason(enum stop_source source);

/* Records the time of the first boot marker write. Any thread. */
void lifecycle_mark_boot(struct lifecycle *life);

uint64_t monotonic_ns(void);

#endif
