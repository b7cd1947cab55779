#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "devices/console.h"

static size_t run(struct console *c, const char *in, char *out, bool *quit)
{
	return console_filter(c, (const uint8_t *)in, strlen(in),
			      (uint8_t *)out, quit);
}

Test(console, plain_bytes_pass_through)
{
	struct console c = { 0 };
	char out[16];
	bool quit;

	cr_assert_eq(run(&c, "abc\r", out, &quit), 4);
	cr_assert(!quit);
	cr_assert_eq(memcmp(out, "abc\r", 4), 0);
}

Test(console, ctrl_a_x_quits)
{
	struct console c = { 0 };
	char out[16];
	bool quit;

	cr_assert_eq(run(&c, "ab\001x", out, &quit), 2);
	cr_assert(quit);
}

Test(console, escape_split_across_reads)
{
	struct console c = { 0 };
	char out[16];
	bool quit;

	cr_assert_eq(run(&c, "\001", out, &quit), 0);
	cr_assert(!quit);
	cr_assert_eq(run(&c, "X", out, &quit), 0);
	cr_assert(quit);
}

Test(console, double_ctrl_a_sends_one_and_others_are_kept)
{
	struct console c = { 0 };
	char out[16];
	bool quit;

	cr_assert_eq(run(&c, "\001\001", out, &quit), 1);
	cr_assert_eq(out[0], 1);
	cr_assert_eq(run(&c, "\001c", out, &quit), 2);
	cr_assert(out[0] == 1 && out[1] == 'c');
	cr_assert(!quit);
}
