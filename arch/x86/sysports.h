/* Small fixed-function port devices that end or time the run:
 * - exit port (0x501): an 8-bit write of V ends the VM with status V; the
 *   boot-time marker (0x502): the first write records the time since start;
 * - i8042 (0x60, 0x64): command 0xFE pulses reset, i.e. a guest reboot;
 * - a port that reads 0 and ignores writes: the i8042's data port, and
 *   0x61 on a board without the PIT (no speaker, no NMI sources);
 * - ACPI sleep control/status and reset registers for a hardware-reduced
 *   FADT (0x600..0x602): S5 is a poweroff, the reset value a reboot.
 * Each device's opaque is a struct sysports: the ports only report what
 * the guest asked for through its callback; what that does to the run is
 * the caller's (x86_sysport_stop maps it onto the VM's lifecycle). */
#ifndef ARCH_X86_SYSPORTS_H
#define ARCH_X86_SYSPORTS_H

#include <stdint.h>

#include "devices/iobus.h"

enum sysport_event {
	SYSPORT_EXIT,	       /* exit port; value: the status */
	SYSPORT_BOOT_MARK,     /* boot-time marker */
	SYSPORT_I8042_RESET,   /* i8042 command 0xFE */
	SYSPORT_ACPI_POWEROFF, /* S5 with SLP_EN in the sleep control */
	SYSPORT_ACPI_RESET,    /* the FADT reset register */
};

/* Called on the vCPU thread that wrote the port; no lock held. */
struct sysports {
	void (*event)(void *opaque, enum sysport_event ev, uint8_t value);
	void *opaque;
};

/* The callback vmm's x86 board uses: opaque is the VM's struct lifecycle;
 * each event stops the run with its own source (the boot mark records
 * the time). */
void x86_sysport_stop(void *lifecycle, enum sysport_event ev, uint8_t value);

#define EXIT_PORT 0x501
#define EXIT_PORT_LEN 2
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_STATUS_PORT 0x601
#define ACPI_RESET_PORT 0x602
#define ACPI_PORTS_LEN 3
#define ACPI_RESET_VALUE 0x01
#define ACPI_S5_SLP_TYP 5

extern const struct io_ops exit_port_ops;
extern const struct io_ops i8042_cmd_ops; /* at I8042_CMD_PORT, length 1 */
extern const struct io_ops zero_port_ops;
extern const struct io_ops acpi_ports_ops;

#endif
