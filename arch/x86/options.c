/* The x86 board's options of vmm run (arch_options, arch/arch.h). Parsed
 * on the main thread before the VM exists; no state of this file's own. */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/log.h"

static int opt_pit(struct arch_config *c, const char *a)
{
	if (!strcmp(a, "on")) {
		c->pit = true;
	} else if (!strcmp(a, "off")) {
		c->pit = false;
	} else {
		log_error("--pit: '%s' is not on or off", a);
		return -EINVAL;
	}
	return 0;
}

const struct arch_option arch_options[] = {
	{ "pit", "on|off",
	  "the i8254 timer on ports 0x40-0x43 and 0x61 (default on; "
	  "emulated by vmm, not KVM). off: a board without it, as Cloud "
	  "Hypervisor's, for guests that take the TSC frequency from "
	  "kvmclock and time with the LAPIC (Linux on KVM)",
	  opt_pit },
	{ 0 },
};

void arch_config_defaults(struct arch_config *c)
{
	c->pit = true;
}
