/* Small fixed-function port devices that end or time the run:
 * - exit port (0x501): an 8-bit write of V ends the VM with status V; the
 *   boot-time marker (0x502): the first write records the time since start;
 * - i8042 (0x60, 0x64): command 0xFE pulses reset, i.e. a guest reboot;
 * - ACPI sleep control/status and reset registers for a hardware-reduced
 *   FADT (0x600..0x602): S5 is a poweroff, the reset value a reboot.
 * Each device's opaque is the VM's struct lifecycle. */
#ifndef DEVICES_SYSPORTS_H
#define DEVICES_SYSPORTS_H

#include "devices/iobus.h"

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
extern const struct io_ops i8042_ops; /* attach at 0x60, length 5 */
extern const struct io_ops acpi_ports_ops;

#endif
