/* vmm run --rig-dump DIR: the test rig's initramfs, command line and
 * shares written out instead of booted (bench/9p rig boots them on
 * QEMU), and they are exactly what the same run would boot. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpio_parse.h"
#include "guest/init/conf.c" /* the parser the init itself uses */
#include "vmm/cli.h"
#include "vmm/rig.h"
#include "cli_args.h"
#include "read_whole.h"

#define KERNEL "build/kernel/bzImage"
#define MODULES "build/kernel/root/lib/modules/6.1.0-57-amd64"

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return read_whole(path, len, 0); /* NUL-terminated: calloc'd room */
}

/* The root share, and the caller's directory when it lies where the rig
 * mounts a fresh tmpfs (a CI clone in /tmp): README, the test rig. */
static const char *expected_shares(void)
{
	static const char *const tmpfs[] = { "/run/", "/tmp/", "/var/tmp/",
					     "/dev/shm/" };
	static char want[PATH_MAX + 64];
	char cwd[PATH_MAX];
	bool covered = false;

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	for (size_t i = 0; i < sizeof(tmpfs) / sizeof(tmpfs[0]); i++)
		covered |= !strncmp(cwd, tmpfs[i], strlen(tmpfs[i]));
	snprintf(want, sizeof(want), "/,tag=%s,readonly\n", RIG_ROOT_TAG);
	if (covered)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%s,tag=vmmcwd,readonly\n", cwd);
	return want;
}

static void need_kernel(void)
{
	if (access(KERNEL, R_OK))
		cr_skip_test("no " KERNEL);
}

static const char *modules(void)
{
	return access(MODULES "/modules.dep", R_OK) ? "none" : MODULES;
}

static void make_dir(char *dir)
{
	strcpy(dir, "/tmp/test-rig-dump-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	const char *names[] = { "initramfs.cpio", "cmdline", "shares" };
	char path[512];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* The cpio holds the embedded init byte for byte and a configuration the
 * init parses into the command and the root share. */
static void check_cpio(const uint8_t *b, size_t len, bool mods)
{
	static struct cpio_ent e[128];
	int n = cpio_parse(b, len, e, 128);
	const struct cpio_ent *init, *conf;
	static struct init_conf c;
	const char *why = "";
	char *buf;

	cr_assert_gt(n, 0, "the dumped cpio does not parse");
	init = cpio_find(e, n, "init");
	conf = cpio_find(e, n, "vmm/init.conf");
	cr_assert_not_null(init);
	cr_assert_not_null(conf);
	cr_assert_eq(init->size, vmm_guest_init_end - vmm_guest_init);
	cr_assert(!memcmp(init->data, vmm_guest_init, init->size));
	buf = malloc(conf->size);
	memcpy(buf, conf->data, conf->size);
	cr_assert_eq(init_conf_parse(buf, conf->size, &c, &why), 0, "%s", why);
	cr_assert_eq(c.mode, INIT_MODE_RIG);
	cr_assert_str_eq(c.tag, RIG_ROOT_TAG);
	cr_assert(c.root_ro);
	cr_assert_eq(c.argc, 3);
	cr_assert_str_eq(c.argv[0], "sh");
	cr_assert_str_eq(c.argv[2], "exit 7");
	if (mods) { /* --transport mmio: the init loads virtio_mmio */
		unsigned i = 0;
		while (i < c.nr_modules && !strstr(c.modules[i], "virtio_mmio"))
			i++;
		cr_assert_lt(i, c.nr_modules, "no virtio_mmio module");
	}
	free(buf);
}

Test(rig_dump, writes_what_the_run_would_boot)
{
	char dir[64];
	char **dump, **run;
	struct vm_config cfg;
	uint8_t *cpio, *cmdline, *shares;
	size_t cpio_len, cmdline_len, shares_len;

	need_kernel();
	make_dir(dir);
	dump = ARGS("--kernel", KERNEL, "--modules", (char *)modules(),
		    "--transport", "mmio", "--cmdline", "foo=1", "--rig-dump",
		    dir, "--", "sh", "-c", "exit 7");
	cr_assert_eq(cli_parse_run(argv_count(dump), dump, &cfg), CLI_EXIT_OK);
	cr_assert_eq(cfg.nr_devices, 0, "a dump adds no devices");
	cli_free(&cfg);
	cpio = slurp(dir, "initramfs.cpio", &cpio_len);
	cmdline = slurp(dir, "cmdline", &cmdline_len);
	shares = slurp(dir, "shares", &shares_len);
	remove_dir(dir);
	check_cpio(cpio, cpio_len, strcmp(modules(), "none"));
	cr_assert_str_eq((char *)cmdline, RIG_RIG_CMDLINE " foo=1");
	cr_assert_str_eq((char *)shares, expected_shares());

	/* The same run without --rig-dump boots the same bytes. */
	run = ARGS("--kernel", KERNEL, "--modules", (char *)modules(),
		   "--transport", "mmio", "--cmdline", "foo=1", "--", "sh",
		   "-c", "exit 7");
	cr_assert_eq(cli_parse_run(argv_count(run), run, &cfg), CLI_OK);
	cr_assert_str_eq(cfg.cmdline, (char *)cmdline);
	cr_assert_eq(cfg.initrd_size, cpio_len);
	cr_assert(!memcmp(cfg.initrd_data, cpio, cpio_len));
	cli_free(&cfg);
	free(cpio);
	free(cmdline);
	free(shares);
}

Test(rig_dump, unwritable_dir_fails, .init = cr_redirect_stderr)
{
	char **argv = ARGS("--kernel", KERNEL, "--modules", "none",
			   "--rig-dump", "/proc/no/such/dir", "--", "true");
	struct vm_config cfg;

	need_kernel();
	cr_assert_eq(cli_parse_run(argv_count(argv), argv, &cfg),
		     CLI_USAGE_ERROR);
	cli_free(&cfg);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: --rig-dump /proc/no/such/dir: No such "
				"file or directory\n");
}

Test(rig_dump, needs_a_rig, .init = cr_redirect_stderr)
{
	char **argv = ARGS("--kernel", "k", "--rig-dump", "/tmp");
	struct vm_config cfg;

	cr_assert_eq(cli_parse_run(argv_count(argv), argv, &cfg),
		     CLI_USAGE_ERROR);
	cli_free(&cfg);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: --rig-dump needs --9p-root DIR or a "
				"command after --\n");
}

Test(rig_dump, hidden_from_help, .init = cr_redirect_stdout)
{
	char **argv = ARGS("--help");
	struct vm_config cfg;
	char out[8192] = "";
	FILE *f;

	cr_assert_eq(cli_parse_run(argv_count(argv), argv, &cfg), CLI_EXIT_OK);
	cli_free(&cfg);
	fflush(stdout);
	f = cr_get_redirected_stdout();
	out[fread(out, 1, sizeof(out) - 1, f)] = 0;
	cr_assert_not_null(strstr(out, "--expect-exit-code"));
	cr_assert_null(strstr(out, "rig-dump"));
}
