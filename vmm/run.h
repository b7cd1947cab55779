/* `vmm run`: builds the VM from a config, runs it to its end, tears it
 * down and returns the process exit status. */
#ifndef VMM_RUN_H
#define VMM_RUN_H

#include <stdint.h>

#include "vm.h"

/* Exit statuses besides the guest's own (exit port value, 0 on reboot or
 * poweroff). */
#define EXIT_VMM_ERROR 1
#define EXIT_USAGE 2
#define EXIT_NO_EXIT_CODE 125 /* --expect-exit-code and the port unused */

/* start_ns: CLOCK_MONOTONIC when the process started, for --boot-time. */
int vm_run(const struct vm_config *cfg, uint64_t start_ns);

/* The main thread's sandbox once the vCPUs run. */
extern const struct sandbox_role vm_main_role;

#endif
