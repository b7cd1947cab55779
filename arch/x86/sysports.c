/* Runs on vCPU threads; the only state is the lifecycle, which is atomic.
 * Each way in stops the run with its own source, so --stats can say which
 * one ended it. */
#include "sysports.h"

#include <string.h>

#include "vmm/lifecycle.h"

static void zero_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	(void)opaque, (void)off;
	memset(data, 0, size);
}

static void exit_port_write(void *opaque, uint64_t off, const uint8_t *data,
			    unsigned size)
{
	(void)size;
	if (off == 0)
		lifecycle_stop_by(opaque, STOP_BY_EXIT_PORT, data[0]);
	else
		lifecycle_mark_boot(opaque);
}

const struct io_ops exit_port_ops = {
	.read = zero_read,
	.write = exit_port_write,
};

#define I8042_CMD_RESET 0xfe

static void i8042_write(void *opaque, uint64_t off, const uint8_t *data,
			unsigned size)
{
	(void)size;
	if (off == I8042_CMD_PORT - I8042_DATA_PORT &&
	    data[0] == I8042_CMD_RESET)
		lifecycle_stop_by(opaque, STOP_BY_I8042_RESET, 0);
}

/* Reads return status 0: no data, input buffer empty, so a guest polling
 * the controller before a reset never waits. */
const struct io_ops i8042_ops = {
	.read = zero_read,
	.write = i8042_write,
};

#define SLP_EN 0x20

static void acpi_ports_write(void *opaque, uint64_t off, const uint8_t *data,
			     unsigned size)
{
	(void)size;
	if (off == ACPI_SLEEP_CONTROL_PORT - ACPI_SLEEP_CONTROL_PORT &&
	    (data[0] & SLP_EN) && ((data[0] >> 2) & 7) == ACPI_S5_SLP_TYP)
		lifecycle_stop_by(opaque, STOP_BY_ACPI_POWEROFF, 0);
	else if (off == ACPI_RESET_PORT - ACPI_SLEEP_CONTROL_PORT &&
		 data[0] == ACPI_RESET_VALUE)
		lifecycle_stop_by(opaque, STOP_BY_ACPI_RESET, 0);
}

const struct io_ops acpi_ports_ops = {
	.read = zero_read,
	.write = acpi_ports_write,
};
