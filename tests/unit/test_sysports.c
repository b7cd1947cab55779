#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "arch/x86/sysports.h"
#include "vmm/lifecycle.h"

static struct lifecycle life;
/* The ports wired to the lifecycle as the x86 board wires them. */
static struct sysports ports = { x86_sysport_stop, &life };

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
	ops->write(&ports, off, &v, 1);
}

/* The run ended from exactly this source, with its reason and status. */
static void assert_stopped_by(enum stop_source source, enum stop_reason reason,
			      int status)
{
	cr_assert(lifecycle_stopping(&life));
	cr_assert_eq(lifecycle_source(&life), source, "source %s, want %s",
		     lifecycle_source_name(lifecycle_source(&life)),
		     lifecycle_source_name(source));
	cr_assert_eq(lifecycle_reason(&life), reason);
	cr_assert_eq(life.status, status);
}

Test(sysports, exit_port_value_is_the_status_and_first_stop_wins)
{
	uint64_t n;

	out8(&exit_port_ops, 0, 42);
	assert_stopped_by(STOP_BY_EXIT_PORT, STOP_EXIT_PORT, 42);
	cr_assert_eq(read(life.stop_fd, &n, 8), 8, "stop_fd is readable");
	out8(&exit_port_ops, 0, 7);
	lifecycle_stop(&life, STOP_RESET, 0);
	out8(&i8042_cmd_ops, 0, 0xfe);
	assert_stopped_by(STOP_BY_EXIT_PORT, STOP_EXIT_PORT, 42);
}

Test(sysports, exit_port_zero_is_still_the_exit_port)
{
	out8(&exit_port_ops, 0, 0);
	assert_stopped_by(STOP_BY_EXIT_PORT, STOP_EXIT_PORT, 0);
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
	cr_assert_eq(lifecycle_source(&life), STOP_BY_NONE);
}

Test(sysports, i8042_reset_command)
{
	out8(&zero_port_ops, 0, 0xfe); /* the data port: not a command */
	cr_assert(!lifecycle_stopping(&life));
	out8(&i8042_cmd_ops, 0, 0xaa);
	cr_assert(!lifecycle_stopping(&life));
	out8(&i8042_cmd_ops, 0, 0xfe);
	assert_stopped_by(STOP_BY_I8042_RESET, STOP_RESET, 0);
}

Test(sysports, acpi_sleep_s5_is_poweroff)
{
	out8(&acpi_ports_ops, 0, 5 << 2); /* SLP_TYP without SLP_EN */
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 0, 3 << 2 | 0x20); /* another sleep state */
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 1, 5 << 2 | 0x20); /* the status register */
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 0, 5 << 2 | 0x20);
	assert_stopped_by(STOP_BY_ACPI_POWEROFF, STOP_POWEROFF, 0);
}

Test(sysports, acpi_reset_register)
{
	out8(&acpi_ports_ops, 2, 0x02);
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 0, ACPI_RESET_VALUE); /* the sleep control */
	cr_assert(!lifecycle_stopping(&life));
	out8(&acpi_ports_ops, 2, ACPI_RESET_VALUE);
	assert_stopped_by(STOP_BY_ACPI_RESET, STOP_RESET, 0);
}

/* The three reset ways in end alike (reason reset, status 0) but each
 * leaves its own source; --stats prints its word. */
Test(sysports, each_reset_port_names_its_own_source)
{
	static const struct {
		const struct io_ops *ops;
		uint64_t off;
		uint8_t value;
		enum stop_source source;
		const char *word;
	} ways[] = {
		{ &i8042_cmd_ops, 0, 0xfe, STOP_BY_I8042_RESET, "i8042-reset" },
		{ &acpi_ports_ops, 2, ACPI_RESET_VALUE, STOP_BY_ACPI_RESET,
		  "acpi-reset" },
		{ &acpi_ports_ops, 0, 5 << 2 | 0x20, STOP_BY_ACPI_POWEROFF,
		  "acpi-poweroff" },
		{ &exit_port_ops, 0, 0, STOP_BY_EXIT_PORT, "exit-port" },
	};

	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		struct lifecycle own;
		struct sysports own_ports = { x86_sysport_stop, &own };

		cr_assert_eq(lifecycle_init(&own, monotonic_ns()), 0);
		ways[i].ops->write(&own_ports, ways[i].off, &ways[i].value, 1);
		cr_assert_eq(lifecycle_source(&own), ways[i].source, "way %zu",
			     i);
		cr_assert_str_eq(lifecycle_source_name(lifecycle_source(&own)),
				 ways[i].word);
		lifecycle_destroy(&own);
	}
}

static unsigned events[8];
static uint8_t last_value;

static void record(void *opaque, enum sysport_event ev, uint8_t value)
{
	(void)opaque;
	events[ev]++;
	last_value = value;
}

/* The ports themselves only report: no lifecycle behind them. */
Test(sysports, ports_report_events_through_the_callback)
{
	struct sysports rec = { record, NULL };
	uint8_t v = 9, cmd = 0xfe, s5 = 5 << 2 | 0x20, rst = ACPI_RESET_VALUE;

	exit_port_ops.write(&rec, 0, &v, 1);
	cr_assert_eq(events[SYSPORT_EXIT], 1);
	cr_assert_eq(last_value, 9);
	exit_port_ops.write(&rec, 1, &v, 1);
	cr_assert_eq(events[SYSPORT_BOOT_MARK], 1);
	i8042_cmd_ops.write(&rec, 0, &cmd, 1);
	cr_assert_eq(events[SYSPORT_I8042_RESET], 1);
	acpi_ports_ops.write(&rec, 0, &s5, 1);
	cr_assert_eq(events[SYSPORT_ACPI_POWEROFF], 1);
	acpi_ports_ops.write(&rec, 2, &rst, 1);
	cr_assert_eq(events[SYSPORT_ACPI_RESET], 1);
	cr_assert(!lifecycle_stopping(&life), "nothing reached the lifecycle");
}
