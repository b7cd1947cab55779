/* The CLI's --9p-root and test-rig forms: the combinations it refuses,
 * and (when this vmm has the virtio-9p device) what a rig run becomes. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/device_table.h"
#include "vmm/rig.h"
#include "cli_args.h"

static enum cli_result parse(int argc, char **argv, struct vm_config *cfg)
{
	enum cli_result r = cli_parse_run(argc, argv, cfg);

	return r;
}

Test(cli_rig, refused_combinations, .init = cr_redirect_stderr)
{
	char **cases[] = {
		ARGS("--kernel", "k", "--"),
		ARGS("--kernel", "k", "--9p-root", "/", "--initrd", "i"),
		ARGS("--kernel", "k", "--initrd", "i", "--", "true"),
		ARGS("--kernel", "k", "--rw", "/tmp"),
		ARGS("--kernel", "k", "--rw", "/tmp", "--9p-root", "/"),
		ARGS("--kernel", "k", "--modules", "none"),
		ARGS("--kernel", "k", "--9p-root", "/", "--", "true"),
		ARGS("--kernel", "k", "true"),
		/* "--" as --cmdline's argument ends nothing. */
		ARGS("--kernel", "k", "--cmdline", "--", "true"),
		ARGS("--9p-root", "/"),
	};
	struct vm_config cfg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(argv_count(cases[i]), cases[i], &cfg),
			     CLI_USAGE_ERROR, "case %zu", i);
		cr_assert_null(cfg.initrd_data, "case %zu", i);
		cli_free(&cfg);
	}
}

/* Six --rw shares, the root and a current directory in /tmp fill the
 * VM's eight virtio devices: a seventh --rw is refused by name, before
 * anything is built. */
Test(cli_rig, seventh_rw_share_refused, .init = cr_redirect_stderr)
{
	char **argv = ARGS("--kernel", "k", "--rw", "/tmp", "--rw", "/tmp",
			   "--rw", "/tmp", "--rw", "/tmp", "--rw", "/tmp",
			   "--rw", "/tmp", "--rw", "/tmp", "--", "true");
	struct vm_config cfg;

	cr_assert_eq(RIG_MAX_RW, 6);
	cr_assert_eq(parse(argv_count(argv), argv, &cfg), CLI_USAGE_ERROR);
	cli_free(&cfg);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: --rw: at most 6 shares\n");
}

static bool have_9p(void)
{
	for (size_t i = 0; device_types[i]; i++)
		if (!strcmp(device_types[i]->name, "9p"))
			return true;
	return false;
}

Test(cli_rig, test_rig_run_becomes_shares_cmdline_and_initrd)
{
	char **argv = ARGS("--kernel", "build/kernel/bzImage", "--modules",
			   "none", "--rw", "/tmp", "--cmdline", "foo=1", "--",
			   "sh", "-c", "exit 7");
	struct vm_config cfg;

	if (!have_9p())
		cr_skip_test("this vmm has no --9p device yet");
	if (access("build/kernel/bzImage", R_OK))
		cr_skip_test("no build/kernel/bzImage");
	cr_assert_eq(parse(argv_count(argv), argv, &cfg), CLI_OK);
	cr_assert_eq(cfg.nr_devices, 2);
	cr_assert_str_eq(cfg.devices[0].type->name, "9p");
	cr_assert_str_eq(cfg.cmdline, RIG_RIG_CMDLINE " foo=1");
	cr_assert_not_null(cfg.initrd_data);
	cr_assert_gt(cfg.initrd_size,
		     (size_t)(vmm_guest_init_end - vmm_guest_init));
	cr_assert(cfg.expect_exit_code);
	cr_assert_eq(cfg.unpack_kernel, VM_UNPACK_TRY);
	cli_free(&cfg);
	cr_assert_null(cfg.rig);
}

/* The rig's default is TRY; an explicit choice stays as given. */
Test(cli_rig, unpack_kernel_choice_kept)
{
	char **off = ARGS("--kernel", "build/kernel/bzImage", "--modules",
			  "none", "--unpack-kernel", "off", "--", "true");
	char **on = ARGS("--kernel", "build/kernel/bzImage", "--modules",
			 "none", "--unpack-kernel", "on", "--", "true");
	struct vm_config cfg;

	if (!have_9p())
		cr_skip_test("this vmm has no --9p device yet");
	if (access("build/kernel/bzImage", R_OK))
		cr_skip_test("no build/kernel/bzImage");
	cr_assert_eq(parse(argv_count(off), off, &cfg), CLI_OK);
	cr_assert_eq(cfg.unpack_kernel, VM_UNPACK_OFF);
	cli_free(&cfg);
	cr_assert_eq(parse(argv_count(on), on, &cfg), CLI_OK);
	cr_assert_eq(cfg.unpack_kernel, VM_UNPACK_ON);
	cli_free(&cfg);
}
