#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

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

TestSuite(lifecycle, .init = setup, .fini = teardown);

Test(lifecycle, nothing_before_a_stop)
{
	uint64_t n;

	cr_assert(!lifecycle_stopping(&life));
	cr_assert_eq(lifecycle_source(&life), STOP_BY_NONE);
	cr_assert_eq(lifecycle_reason(&life), STOP_NONE);
	cr_assert_str_eq(lifecycle_source_name(lifecycle_source(&life)),
			 "none");
	cr_assert_eq(read(life.stop_fd, &n, sizeof(n)), -1,
		     "stop_fd is not readable before a stop");
}

Test(lifecycle, first_stop_wins_source_reason_and_status)
{
	uint64_t n;

	lifecycle_stop_by(&life, STOP_BY_TRIPLE_FAULT, 0);
	lifecycle_stop_by(&life, STOP_BY_ACPI_RESET, 0);
	lifecycle_stop(&life, STOP_SIGNAL, 143);
	cr_assert_eq(lifecycle_source(&life), STOP_BY_TRIPLE_FAULT);
	cr_assert_eq(lifecycle_reason(&life), STOP_RESET);
	cr_assert_eq(life.status, 0);
	cr_assert_eq(read(life.stop_fd, &n, sizeof(n)), sizeof(n));
	cr_assert_eq(n, 1, "only the winner writes the eventfd");
}

/* Every mechanism has a distinct fixed word and the reason that decides
 * the exit status. The words are what tests and users grep for. */
Test(lifecycle, each_source_has_its_own_word_and_reason)
{
	static const struct {
		enum stop_source source;
		const char *word;
		enum stop_reason reason;
	} want[] = {
		{ STOP_BY_NONE, "none", STOP_NONE },
		{ STOP_BY_EXIT_PORT, "exit-port", STOP_EXIT_PORT },
		{ STOP_BY_ACPI_POWEROFF, "acpi-poweroff", STOP_POWEROFF },
		{ STOP_BY_ACPI_RESET, "acpi-reset", STOP_RESET },
		{ STOP_BY_I8042_RESET, "i8042-reset", STOP_RESET },
		{ STOP_BY_TRIPLE_FAULT, "triple-fault", STOP_RESET },
		{ STOP_BY_SIGNAL, "signal", STOP_SIGNAL },
		{ STOP_BY_CONSOLE, "console", STOP_CONSOLE },
		{ STOP_BY_ERROR, "error", STOP_ERROR },
		{ STOP_BY_API_QUIT, "api-quit", STOP_QUIT },
		{ STOP_BY_MIGRATED, "migrated", STOP_MIGRATED },
		{ STOP_BY_OTHER_RESET, "reset", STOP_RESET },
		{ STOP_BY_OTHER_POWEROFF, "poweroff", STOP_POWEROFF },
	};
	size_t n = sizeof(want) / sizeof(want[0]);

	cr_assert_eq(n, STOP_SOURCE_COUNT, "a source is missing here");
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(lifecycle_source_name(want[i].source),
				 want[i].word);
		cr_assert_eq(lifecycle_source_reason(want[i].source),
			     want[i].reason, "%s", want[i].word);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(want[i].word, want[j].word);
	}
}

/* Callers that name only a reason get the reason's own source, never one
 * of the specific mechanisms. */
Test(lifecycle, stop_by_reason_records_the_reason_source)
{
	static const struct {
		enum stop_reason reason;
		enum stop_source source;
		int status;
	} want[] = {
		{ STOP_EXIT_PORT, STOP_BY_EXIT_PORT, 9 },
		{ STOP_RESET, STOP_BY_OTHER_RESET, 0 },
		{ STOP_POWEROFF, STOP_BY_OTHER_POWEROFF, 0 },
		{ STOP_SIGNAL, STOP_BY_SIGNAL, 130 },
		{ STOP_CONSOLE, STOP_BY_CONSOLE, 0 },
		{ STOP_ERROR, STOP_BY_ERROR, 1 },
		{ STOP_QUIT, STOP_BY_API_QUIT, 0 },
		{ STOP_MIGRATED, STOP_BY_MIGRATED, 0 },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct lifecycle own;

		cr_assert_eq(lifecycle_init(&own, monotonic_ns()), 0);
		lifecycle_stop(&own, want[i].reason, want[i].status);
		cr_assert_eq(lifecycle_source(&own), want[i].source,
			     "reason %d gave %s", want[i].reason,
			     lifecycle_source_name(lifecycle_source(&own)));
		cr_assert_eq(lifecycle_reason(&own), want[i].reason);
		cr_assert_eq(own.status, want[i].status);
		lifecycle_destroy(&own);
	}
}

/* A request without a usable source still stops the run, as an error:
 * a stop that left the run going would hang the VMM. */
Test(lifecycle, a_bad_source_stops_as_an_error)
{
	lifecycle_stop_by(&life, STOP_BY_NONE, 5);
	cr_assert(lifecycle_stopping(&life));
	cr_assert_eq(lifecycle_source(&life), STOP_BY_ERROR);
	cr_assert_eq(lifecycle_reason(&life), STOP_ERROR);
	cr_assert_eq(life.status, 5);
	cr_assert_str_eq(lifecycle_source_name(STOP_SOURCE_COUNT), "unknown");
	cr_assert_eq(lifecycle_source_reason(STOP_SOURCE_COUNT), STOP_ERROR);
}

Test(lifecycle, bad_reason_stops_as_an_error)
{
	lifecycle_stop(&life, (enum stop_reason)77, 1);
	cr_assert_eq(lifecycle_source(&life), STOP_BY_ERROR);
}

Test(lifecycle, boot_marker_is_the_first_write_after_start)
{
	uint64_t first;

	lifecycle_mark_boot(&life);
	first = life.boot_marker_ns;
	cr_assert_gt(first, 0);
	cr_assert_lt(first, 10ull * 1000000000ull, "measured from start");
	lifecycle_mark_boot(&life);
	cr_assert_eq(life.boot_marker_ns, first);
	cr_assert(!lifecycle_stopping(&life), "the marker does not stop");
}
