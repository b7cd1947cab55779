/* Runs on vCPU threads and keeps no state: each port write the guest
 * makes on purpose becomes one event for the struct sysports callback. */
#include "sysports.h"

#include <string.h>

static void report(void *opaque, enum sysport_event ev, uint8_t value)
{
	const struct sysports *p = opaque;

	p->event(p->opaque, ev, value);
}

static void zero_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	(void)opaque, (void)off;
	memset(data, 0, size);
}

static void exit_port_write(void *opaque, uint64_t off, const uint8_t *data,
			    unsigned size)
{
	(void)size;
	report(opaque, off == 0 ? SYSPORT_EXIT : SYSPORT_BOOT_MARK, data[0]);
}

const struct io_ops exit_port_ops = {
	.read = zero_read,
	.write = exit_port_write,
};

#define I8042_CMD_RESET 0xfe

static void ignore_write(void *opaque, uint64_t off, const uint8_t *data,
			 unsigned size)
{
	(void)opaque, (void)off, (void)data, (void)size;
}

static void i8042_cmd_write(void *opaque, uint64_t off, const uint8_t *data,
			    unsigned size)
{
	(void)off, (void)size;
	if (data[0] == I8042_CMD_RESET)
		report(opaque, SYSPORT_I8042_RESET, 0);
}

/* Reads return status 0: no data, input buffer empty, so a guest polling
 * the controller before a reset never waits. Its data port is a
 * zero_port_ops. */
const struct io_ops i8042_cmd_ops = {
	.read = zero_read,
	.write = i8042_cmd_write,
};

const struct io_ops zero_port_ops = {
	.read = zero_read,
	.write = ignore_write,
};

#define SLP_EN 0x20

static void acpi_ports_write(void *opaque, uint64_t off, const uint8_t *data,
			     unsigned size)
{
	(void)size;
	if (off == ACPI_SLEEP_CONTROL_PORT - ACPI_SLEEP_CONTROL_PORT &&
	    (data[0] & SLP_EN) && ((data[0] >> 2) & 7) == ACPI_S5_SLP_TYP)
		report(opaque, SYSPORT_ACPI_POWEROFF, 0);
	else if (off == ACPI_RESET_PORT - ACPI_SLEEP_CONTROL_PORT &&
		 data[0] == ACPI_RESET_VALUE)
		report(opaque, SYSPORT_ACPI_RESET, 0);
}

const struct io_ops acpi_ports_ops = {
	.read = zero_read,
	.write = acpi_ports_write,
};
