#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "arch/x86/sysports.h"
#include "vmm/lifecycle.h"

static struct lifecycle life;

static void setup(void)
{
	cr_assert_eq(lifecycle_init(&life, monotonic_ns()), 0);
}

static void teardown(void)
{
	lifecycle_destroy(&life);
}

TestSuite(sysports, .init = setup, .fini = teardown);

static void out8(const struct io_ops *ops, uint64_t off, uint8_t v)
{
	ops->write(&life, off, &v, 1);
}

Test(sysports, exit_port_value_is_the_status_and_first_stop_wins)
{
	uint64_t n;

	out8(&exit_port_ops, 0, 42);
	cr_assert(lifecycle_stopping(&life));
	cr_assert_eq(lifecycle_reason(&life), STOP_EXIT_PORT);
	cr_assert_eq(life.status, 42);
	cr_assert_eq(read(life.stop_fd, &n, 8), 8, "stop_fd is readable");
	out8(&exit_port_ops, 0, 7);
	lifecycle_stop(&life, STOP_RESET, 0);
	cr_assert_eq(life.status, 42);
	cr_assert_eq(lifecycle_reason(&life), STOP_EXIT_PORT);
}

Test(sysports, boot_marker_records_only_the_first_write)
{
	uint64_t first;

	cr_assert_eq(life.boot_marker_ns, 0);
	out8(&exit_port_ops, 1, 1);
	first = life.boot_marker_ns;
	cr_assert_neq(first, 0);
	out8(&exit_port_ops, 1, 1);
	cr_assert_eq(life.boot_marker_ns, first);
	cr_assert(!lifecycle_stopping(&life));
}

Test(sysports, i8042_reset_command)
{
	out8(&i8042_ops, 0, 0xfe); /* data port: not a command */
	cr_assert(!lifecycle_stopping(&life));
	out8(&i8042_ops, 4, 0xaa);
	cr_assert(!lifecycle_stopping(&life));
	out8(&i8042_ops, 4, 0xfe);
	cr_assert_eq(lifecycle_reason(&life), STOP_RESET);
}

Test(sysports, acpi_sleep_s5_is_poweroff)
{
	out8(&acpi_ports_ops, 0, 5 << 2); /* SLP_TYP without SLP_EN */
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 0, 3 << 2 | 0x20); /* another sleep state */
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 0, 5 << 2 | 0x20);
	cr_assert_eq(lifecycle_reason(&life), STOP_POWEROFF);
}

Test(sysports, acpi_reset_register)
{
	out8(&acpi_ports_ops, 2, 0x02);
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 2, ACPI_RESET_VALUE);
	cr_assert_eq(lifecycle_reason(&life), STOP_RESET);
}
