/* vmm run's command line: VM options and device-type options from the
 * device table. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/blk_opts.h"
#include "devices/virtio/blk_type.h"
#include "vmm/cli.h"

static enum cli_result parse(struct vm_config *cfg, int argc, char **argv)
{
	return cli_parse_run(argc, argv, cfg);
}

Test(cli, disk_options_become_device_configs_in_order)
{
	char a0[] = "run", a1[] = "--kernel", a2[] = "k", a3[] = "--disk",
	     a4[] = "one.img,readonly", a5[] = "--disk",
	     a6[] = "two.img,queues=2";
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, NULL };
	struct vm_config cfg;
	const struct vblk_config *d0, *d1;

	cr_assert_eq(parse(&cfg, 7, argv), CLI_OK);
	cr_assert_eq(cfg.nr_devices, 2);
	cr_assert_eq(cfg.devices[0].type, &vblk_device_type);
	cr_assert_eq(cfg.devices[1].type, &vblk_device_type);
	d0 = cfg.devices[0].cfg;
	d1 = cfg.devices[1].cfg;
	cr_assert_str_eq(d0->path, "one.img");
	cr_assert(d0->readonly);
	cr_assert_eq(d0->queues, 1);
	cr_assert_str_eq(d1->path, "two.img");
	cr_assert(!d1->readonly);
	cr_assert_eq(d1->queues, 2);
	cli_free(&cfg);
	cr_assert_eq(cfg.nr_devices, 0);
}

Test(cli, bad_device_argument_names_the_option, .init = cr_redirect_stderr)
{
	char a0[] = "run", a1[] = "--kernel", a2[] = "k", a3[] = "--disk",
	     a4[] = "x.img,queues=99";
	char *argv[] = { a0, a1, a2, a3, a4, NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 5, argv), CLI_USAGE_ERROR);
	cr_assert_eq(cfg.nr_devices, 0);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"vmm: --disk: queues must be 1 to 8 (expected " VBLK_OPT_HELP
		")\n");
	cli_free(&cfg);
}

Test(cli, device_option_without_argument, .init = cr_redirect_stderr)
{
	char a0[] = "run", a1[] = "--kernel", a2[] = "k", a3[] = "--disk";
	char *argv[] = { a0, a1, a2, a3, NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 4, argv), CLI_USAGE_ERROR);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: --disk needs an argument\n");
	cli_free(&cfg);
}

Test(cli, too_many_disks, .init = cr_redirect_stderr)
{
	char *argv[32];
	char arg[9][16], run[] = "run", kernel[] = "--kernel", k[] = "k",
			 disk[] = "--disk";
	struct vm_config cfg;
	int n = 0;

	argv[n++] = run;
	argv[n++] = kernel;
	argv[n++] = k;
	for (int i = 0; i < 9; i++) {
		snprintf(arg[i], sizeof(arg[i]), "d%d.img", i);
		argv[n++] = disk;
		argv[n++] = arg[i];
	}
	argv[n] = NULL;
	cr_assert_eq(parse(&cfg, n, argv), CLI_USAGE_ERROR);
	cr_assert_eq(cfg.nr_devices, 8);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: --disk: at most 8 of these and 8 "
				"devices in all\n");
	cli_free(&cfg);
}

Test(cli, usage_lists_device_types)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_usage_run(f);
	fclose(f);
	cr_assert(strstr(buf, "  --disk " VBLK_OPT_HELP "\n"));
	cr_assert(strstr(buf, "a virtio-blk disk (vda, vdb, ...)"));
	free(buf);
}

Test(cli, unknown_option, .init = cr_redirect_stderr)
{
	char a0[] = "run", a1[] = "--kernel", a2[] = "k", a3[] = "--disc",
	     a4[] = "x";
	char *argv[] = { a0, a1, a2, a3, a4, NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 5, argv), CLI_USAGE_ERROR);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: unknown option '--disc' (see vmm run "
				"--help)\n");
	cli_free(&cfg);
}

/* Refusals that need more than one option, or the file system, to see. */
static void refused(char **argv, const char *line)
{
	struct vm_config cfg;
	int argc = 0;

	while (argv[argc])
		argc++;
	cr_assert_eq(parse(&cfg, argc, argv), CLI_USAGE_ERROR, "%s", line);
	fflush(stderr);
	cr_assert_stderr_eq_str(line);
	cli_free(&cfg);
}

Test(cli, hugetlbfs_ram_in_whole_huge_pages, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--memory", "3M",
			    "--memory-backend", "hugetlbfs", NULL },
		"vmm: --memory: 3072 KiB is not a whole number of 2 MiB huge "
		"pages (--memory-backend hugetlbfs)\n");
}

Test(cli, hugetlbfs_ram_order_does_not_matter, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--memory-backend",
			    "hugetlbfs", "--memory", "5M", NULL },
		"vmm: --memory: 5120 KiB is not a whole number of 2 MiB huge "
		"pages (--memory-backend hugetlbfs)\n");
}

Test(cli, hugetlbfs_dir_must_be_a_hugetlbfs_mount, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--memory-backend",
			    "hugetlbfs:/", NULL },
		"vmm: --memory-backend: hugetlbfs:/: not a hugetlbfs mount\n");
}

Test(cli, hugetlbfs_dir_missing, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--memory-backend",
			    "hugetlbfs:/nonexistent/vmm", NULL },
		"vmm: --memory-backend: hugetlbfs:/nonexistent/vmm: No such "
		"file or directory\n");
}

Test(cli, unpack_kernel_is_on_or_off, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--unpack-kernel", "yes",
			    NULL },
		"vmm: --unpack-kernel: 'yes' is not on or off\n");
}

Test(cli, seccomp_is_on_off_or_log, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--seccomp", "strict",
			    NULL },
		"vmm: --seccomp: 'strict' is not on, off or log\n");
}

/* No control socket unless --api names one; its path is checked when
 * the socket is made (api_server.c), not here. */
Test(cli, api_path)
{
	char *argv[] = { "run", "--kernel", "k", NULL };
	char *api[] = { "run", "--kernel", "k", "--api", "/tmp/vm.sock", NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 3, argv), CLI_OK);
	cr_assert_null(cfg.api_path);
	cli_free(&cfg);
	cr_assert_eq(parse(&cfg, 5, api), CLI_OK);
	cr_assert_str_eq(cfg.api_path, "/tmp/vm.sock");
	cli_free(&cfg);
}

/* Filters are on unless the user turns them off. */
Test(cli, seccomp_default_on)
{
	char *argv[] = { "run", "--kernel", "k", NULL };
	char *off[] = { "run", "--kernel", "k", "--seccomp", "off", NULL };
	char *log[] = { "run", "--kernel", "k", "--seccomp", "log", NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 3, argv), CLI_OK);
	cr_assert_eq(cfg.seccomp, SANDBOX_ON);
	cli_free(&cfg);
	cr_assert_eq(parse(&cfg, 5, off), CLI_OK);
	cr_assert_eq(cfg.seccomp, SANDBOX_OFF);
	cli_free(&cfg);
	cr_assert_eq(parse(&cfg, 5, log), CLI_OK);
	cr_assert_eq(cfg.seccomp, SANDBOX_LOG);
	cli_free(&cfg);
}

Test(cli, unpack_kernel_default_off_outside_the_rig)
{
	char *argv[] = { "run", "--kernel", "k", NULL };
	char *on[] = { "run", "--kernel", "k", "--unpack-kernel", "on", NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 3, argv), CLI_OK);
	cr_assert_eq(cfg.unpack_kernel, VM_UNPACK_DEFAULT);
	cli_free(&cfg);
	cr_assert_eq(parse(&cfg, 5, on), CLI_OK);
	cr_assert_eq(cfg.unpack_kernel, VM_UNPACK_ON);
	cli_free(&cfg);
}

/* fuzz_cli found it: "-hh" returns at the first 'h', leaving getopt in
 * the middle of the cluster; resetting optind to 1 did not clear that, so
 * the next parse (of another argv) went on with the stale "h" and printed
 * the help instead of parsing its own arguments. */
Test(cli, parse_starts_afresh_after_a_cluster, .init = cr_redirect_stdout)
{
	char a0[] = "run", a1[] = "-hh", b0[] = "run", b1[] = "--kernel",
	     b2[] = "k";
	char *first[] = { a0, a1, NULL }, *second[] = { b0, b1, b2, NULL };
	struct vm_config cfg;

	cr_assert_eq(parse(&cfg, 2, first), CLI_EXIT_OK);
	cli_free(&cfg);
	memset(a1, 'x', sizeof(a1) - 1);
	cr_assert_eq(parse(&cfg, 3, second), CLI_OK);
	cr_assert_str_eq(cfg.kernel, "k");
	cli_free(&cfg);
}

/* --dirty-tracking: bitmap unless asked; KVM is asked only by vm_create. */
static enum mem_dirty_mode dirty_mode(char *mode)
{
	char *argv[] = {
		"run", "--kernel", "k", "--dirty-tracking", mode, NULL
	};
	struct vm_config cfg;
	enum mem_dirty_mode m;

	if (!mode)
		argv[3] = NULL;
	cr_assert_eq(parse(&cfg, mode ? 5 : 3, argv), CLI_OK);
	m = cfg.dirty_tracking;
	cli_free(&cfg);
	return m;
}

/* --pit: the board's own option (arch_options), on unless asked. */
static bool pit(char *mode)
{
	char *argv[] = { "run", "--kernel", "k", "--pit", mode, NULL };
	struct vm_config cfg;
	bool on;

	if (!mode)
		argv[3] = NULL;
	cr_assert_eq(parse(&cfg, mode ? 5 : 3, argv), CLI_OK);
	on = cfg.arch.pit;
	cli_free(&cfg);
	return on;
}

Test(cli, pit_on_unless_off)
{
	cr_assert(pit(NULL));
	cr_assert(pit("on"));
	cr_assert(!pit("off"));
}

Test(cli, pit_refuses_other_words, .init = cr_redirect_stderr)
{
	refused((char *[]){ "run", "--kernel", "k", "--pit", "no", NULL },
		"vmm: --pit: 'no' is not on or off\n");
}

Test(cli, dirty_tracking_modes, .init = cr_redirect_stderr)
{
	cr_assert_eq(dirty_mode(NULL), MEM_DIRTY_BITMAP);
	cr_assert_eq(dirty_mode("auto"), MEM_DIRTY_AUTO);
	cr_assert_eq(dirty_mode("ring"), MEM_DIRTY_RING);
	cr_assert_eq(dirty_mode("bitmap"), MEM_DIRTY_BITMAP);
	refused((char *[]){ "run", "--kernel", "k", "--dirty-tracking", "RING",
			    NULL },
		"vmm: --dirty-tracking: 'RING' is not bitmap, ring or auto\n");
}
