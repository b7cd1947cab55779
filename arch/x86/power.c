/* vCPU threads: what the PC board's power, reset and exit ports do to the
 * run. The lifecycle is atomics only. */
#include "sysports.h"

#include "vmm/lifecycle.h"

void x86_sysport_stop(void *lifecycle, enum sysport_event ev, uint8_t value)
{
	struct lifecycle *life = lifecycle;

	switch (ev) {
	case SYSPORT_EXIT:
		lifecycle_stop_by(life, STOP_BY_EXIT_PORT, value);
		break;
	case SYSPORT_BOOT_MARK: lifecycle_mark_boot(life); break;
	case SYSPORT_I8042_RESET:
		lifecycle_stop_by(life, STOP_BY_I8042_RESET, 0);
		break;
	case SYSPORT_ACPI_POWEROFF:
		lifecycle_stop_by(life, STOP_BY_ACPI_POWEROFF, 0);
		break;
	case SYSPORT_ACPI_RESET:
		lifecycle_stop_by(life, STOP_BY_ACPI_RESET, 0);
		break;
	}
}
