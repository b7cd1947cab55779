/* Main thread at start-up; getopt's state is the only global touched. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/log.h"
#include "device_table.h"
#include "lib/parse.h"
#include "rig.h"
#include "uri.h"

#define DEFAULT_CMDLINE "console=ttyS0"

/* Compared by address: tells "no --cmdline" from a user's identical one. */
static const char default_cmdline[] = DEFAULT_CMDLINE;

/* --9p-root and the test rig: the options, then what was built for
 * them, all freed by cli_free. */
struct cli_rig {
	const char *root;    /* --9p-root DIR */
	const char *modules; /* --modules DIR, "none", or NULL */
	const char *dump;    /* --rig-dump DIR, or NULL */
	const char *rw[RIG_MAX_RW];
	unsigned nr_rw;
	char *kernel;		     /* the default kernel's path */
	char *paths[1 + RIG_MAX_RW]; /* real paths of the shares */
	struct module_list mods;
	struct rig_user user;
	struct rig_output out;
};
#define DEFAULT_MEMORY (512ULL << 20)
#define MAX_MEMORY (1ULL << 40)

struct cli_option {
	const char *name;
	const char *arg; /* NULL: a flag */
	const char *help;
	int (*parse)(struct vm_config *cfg, const char *arg);
};

static int opt_kernel(struct vm_config *c, const char *a)
{
	c->kernel = a;
	return 0;
}

static int opt_initrd(struct vm_config *c, const char *a)
{
	c->initrd = a;
	return 0;
}

static int opt_cmdline(struct vm_config *c, const char *a)
{
	c->cmdline = a;
	return 0;
}

static struct cli_rig *rig_of(struct vm_config *c)
{
	if (!c->rig)
		c->rig = calloc(1, sizeof(*c->rig));
	return c->rig;
}

static int opt_9p_root(struct vm_config *c, const char *a)
{
	if (!rig_of(c))
		return -ENOMEM;
	c->rig->root = a;
	return 0;
}

static int opt_modules(struct vm_config *c, const char *a)
{
	if (!rig_of(c))
		return -ENOMEM;
	c->rig->modules = a;
	return 0;
}

static int opt_rig_dump(struct vm_config *c, const char *a)
{
	if (!rig_of(c))
		return -ENOMEM;
	c->rig->dump = a;
	return 0;
}

static int opt_rw(struct vm_config *c, const char *a)
{
	if (!rig_of(c))
		return -ENOMEM;
	if (c->rig->nr_rw == RIG_MAX_RW) {
		log_error("--rw: at most %d shares", RIG_MAX_RW);
		return -EINVAL;
	}
	c->rig->rw[c->rig->nr_rw++] = a;
	return 0;
}

static int opt_cpus(struct vm_config *c, const char *a)
{
	uint64_t v;

	if (parse_uint(a, 1, VM_MAX_CPUS, &v)) {
		log_error("--cpus: '%s' is not a number from 1 to %d", a,
			  VM_MAX_CPUS);
		return -EINVAL;
	}
	c->cpus = (unsigned)v;
	return 0;
}

static int opt_memory(struct vm_config *c, const char *a)
{
	uint64_t v;

	if (parse_size(a, 1ULL << 20, &v) || v < (2ULL << 20) ||
	    v > MAX_MEMORY || v % MEM_PAGE_SIZE) {
		log_error("--memory: '%s' is not a size from 2M to 1T in "
			  "whole pages (e.g. 512M, 4G; a bare number is MiB)",
			  a);
		return -EINVAL;
	}
	c->mem.size = v;
	return 0;
}

/* A directory elsewhere would give RAM of ordinary pages that vmm then
 * maps as if huge: refused before anything is created. */
static int check_hugetlbfs_dir(const char *dir)
{
	struct statfs fs;

	if (statfs(dir, &fs)) {
		log_error("--memory-backend: hugetlbfs:%s: %s", dir,
			  strerror(errno));
		return -EINVAL;
	}
	if (fs.f_type != HUGETLBFS_MAGIC) {
		log_error("--memory-backend: hugetlbfs:%s: not a hugetlbfs "
			  "mount",
			  dir);
		return -EINVAL;
	}
	return 0;
}

/* What one option alone cannot see. */
static int check_memory(const struct vm_config *c)
{
	if (c->mem.backend == MEM_BACKEND_HUGETLBFS &&
	    c->mem.size % MEM_HUGE_PAGE_SIZE) {
		log_error("--memory: %llu KiB is not a whole number of 2 MiB "
			  "huge pages (--memory-backend hugetlbfs)",
			  (unsigned long long)c->mem.size >> 10);
		return -EINVAL;
	}
	return 0;
}

static int opt_backend(struct vm_config *c, const char *a)
{
	if (!strcmp(a, "anon")) {
		c->mem.backend = MEM_BACKEND_ANON;
	} else if (!strcmp(a, "memfd")) {
		c->mem.backend = MEM_BACKEND_MEMFD;
	} else if (!strcmp(a, "hugetlbfs")) {
		c->mem.backend = MEM_BACKEND_HUGETLBFS;
	} else if (!strncmp(a, "hugetlbfs:", 10) && a[10]) {
		c->mem.backend = MEM_BACKEND_HUGETLBFS;
		c->mem.hugetlbfs_dir = a + 10;
		return check_hugetlbfs_dir(a + 10);
	} else {
		log_error("--memory-backend: '%s' is not anon, memfd, "
			  "hugetlbfs or hugetlbfs:PATH",
			  a);
		return -EINVAL;
	}
	return 0;
}

static int opt_shared(struct vm_config *c, const char *a)
{
	(void)a;
	c->mem.shared = true;
	return 0;
}

static int opt_boot_time(struct vm_config *c, const char *a)
{
	(void)a;
	c->boot_time = true;
	return 0;
}

static int opt_transport(struct vm_config *c, const char *a)
{
	if (!strcmp(a, "pci"))
		c->transport = VM_TRANSPORT_PCI;
	else if (!strcmp(a, "mmio"))
		c->transport = VM_TRANSPORT_MMIO;
	else {
		log_error("--transport: '%s' is not pci or mmio", a);
		return -EINVAL;
	}
	return 0;
}

static int opt_stats(struct vm_config *c, const char *a)
{
	(void)a;
	c->stats = true;
	return 0;
}

static int opt_unpack_kernel(struct vm_config *c, const char *a)
{
	if (!strcmp(a, "on"))
		c->unpack_kernel = VM_UNPACK_ON;
	else if (!strcmp(a, "off"))
		c->unpack_kernel = VM_UNPACK_OFF;
	else {
		log_error("--unpack-kernel: '%s' is not on or off", a);
		return -EINVAL;
	}
	return 0;
}

static int opt_seccomp(struct vm_config *c, const char *a)
{
	if (sandbox_parse_mode(a, &c->seccomp)) {
		log_error("--seccomp: '%s' is not on, off or log", a);
		return -EINVAL;
	}
	return 0;
}

static int opt_dirty_tracking(struct vm_config *c, const char *a)
{
	if (!strcmp(a, "auto"))
		c->dirty_tracking = MEM_DIRTY_AUTO;
	else if (!strcmp(a, "bitmap"))
		c->dirty_tracking = MEM_DIRTY_BITMAP;
	else if (!strcmp(a, "ring"))
		c->dirty_tracking = MEM_DIRTY_RING;
	else {
		log_error("--dirty-tracking: '%s' is not bitmap, ring or auto",
			  a);
		return -EINVAL;
	}
	return 0;
}

static int opt_api(struct vm_config *c, const char *a)
{
	c->api_path = a;
	return 0;
}

static int opt_restore(struct vm_config *c, const char *a)
{
	c->restore = a;
	return 0;
}

static int opt_incoming(struct vm_config *c, const char *a)
{
	struct uri u;
	const char *why;

	if (uri_parse(a, &u, &why)) {
		log_error("--incoming '%s': %s", a, why);
		return -EINVAL;
	}
	c->incoming = a;
	return 0;
}

static int opt_expect_exit(struct vm_config *c, const char *a)
{
	(void)a;
	c->expect_exit_code = true;
	return 0;
}

static const struct cli_option run_options[] = {
	{ "kernel", "FILE",
	  "bzImage, ELF vmlinux or PVH ELF to boot (required, unless "
	  "--restore or --incoming)",
	  opt_kernel },
	{ "unpack-kernel", "on|off",
	  "boot a bzImage as the PVH ELF inside it, unpacked on the host "
	  "once and kept in ~/.cache/vmm/kernels (default: on with -- CMD, "
	  "where a kernel it cannot unpack boots as it is; off otherwise)",
	  opt_unpack_kernel },
	{ "initrd", "FILE", "initial ramdisk", opt_initrd },
	{ "cmdline", "STR",
	  "kernel command line (default \"" DEFAULT_CMDLINE "\")",
	  opt_cmdline },
	{ "9p-root", "DIR",
	  "boot with DIR as the root file system (virtio-9p; vmm's "
	  "initramfs mounts it and runs its /sbin/init or init=)",
	  opt_9p_root },
	{ "modules", "DIR",
	  "the guest kernel's module tree for --9p-root and -- CMD "
	  "(default /lib/modules/VERSION of the kernel image; none: all "
	  "built in)",
	  opt_modules },
	{ "rw", "DIR",
	  "with -- CMD: share host directory DIR read-write at the same "
	  "path (repeatable)",
	  opt_rw },
	{ "cpus", "N", "number of vCPUs, 1 to 254 (default 1)", opt_cpus },
	{ "memory", "SIZE",
	  "guest RAM, e.g. 512M or 4G; bare number = MiB "
	  "(default 512M)",
	  opt_memory },
	{ "memory-backend", "KIND",
	  "anon, memfd, hugetlbfs (memfd with "
	  "MFD_HUGETLB) or hugetlbfs:DIR (a file in that mount)",
	  opt_backend },
	{ "memory-shared", NULL, "map guest RAM MAP_SHARED", opt_shared },
	{ "dirty-tracking", "bitmap|ring|auto",
	  "how KVM reports the pages the guest writes, for live migration: "
	  "per-slot bitmaps (default, as QEMU's), per-vCPU dirty rings, or "
	  "auto (the ring when KVM offers it, else the bitmap)",
	  opt_dirty_tracking },
	{ "transport", "KIND",
	  "virtio transport: pci (default; MSI-X) or "
	  "mmio",
	  opt_transport },
	{ "boot-time", NULL,
	  "on exit, print when the guest first wrote port "
	  "0x502",
	  opt_boot_time },
	{ "stats", NULL,
	  "on exit, print the VMM's peak RSS, the guest RAM "
	  "resident in host memory, each disk's I/O errors and merged "
	  "requests and how its queues found their work (polling or "
	  "sleeping)",
	  opt_stats },
	{ "expect-exit-code", NULL,
	  "exit 125 if the guest ends without "
	  "writing port 0x501",
	  opt_expect_exit },
	{ "seccomp", "on|off|log",
	  "system-call filter of each VMM thread (default on: a call "
	  "outside its role's list ends vmm; log: the kernel logs it and "
	  "lets it run)",
	  opt_seccomp },
	{ "api", "PATH",
	  "serve the control socket (JSON lines: query-status, pause, "
	  "resume, quit; docs/api.md) on a new unix socket at PATH; "
	  "vmm ctl PATH COMMAND is its client",
	  opt_api },
	{ "restore", "FILE",
	  "continue the guest from a snapshot file (vmm ctl PATH snapshot "
	  "FILE) instead of booting a kernel; --cpus, --memory, --pit and "
	  "the devices must be those of the VM snapshotted",
	  opt_restore },
	{ "incoming", "URI",
	  "wait for a live migration on unix:PATH or tcp:HOST:PORT and "
	  "continue the guest it brings; --cpus, --memory, --pit and the "
	  "devices must be the source's",
	  opt_incoming },
	/* Hidden (no help): for bench/9p rig; README documents it. */
	{ "rig-dump", "DIR", NULL, opt_rig_dump },
};
#define NR_RUN_OPTIONS (sizeof(run_options) / sizeof(run_options[0]))

static void usage_line(FILE *out, const char *name, const char *arg,
		       const char *help)
{
	char left[128];

	snprintf(left, sizeof(left), "--%s%s%s", name, arg ? " " : "",
		 arg ? arg : "");
	/* A long synopsis gets a line of its own. */
	if (strlen(left) > 26)
		fprintf(out, "  %s\n  %-26s %s\n", left, "", help);
	else
		fprintf(out, "  %-26s %s\n", left, help);
}

void cli_usage_run(FILE *out)
{
	fprintf(out, "usage: vmm run --kernel FILE [options]\n"
		     "       vmm run [--kernel FILE] [options] -- CMD [ARGS...]"
		     "\n\noptions:\n");
	for (size_t i = 0; i < NR_RUN_OPTIONS; i++)
		if (run_options[i].help)
			usage_line(out, run_options[i].name, run_options[i].arg,
				   run_options[i].help);
	for (size_t i = 0; arch_options[i].name; i++)
		usage_line(out, arch_options[i].name, arch_options[i].arg,
			   arch_options[i].help);
	for (size_t i = 0; device_types[i]; i++)
		usage_line(out, device_types[i]->name, device_types[i]->arg,
			   device_types[i]->help);
	fprintf(out, "  %-26s %s\n", "--help", "this text");
	fprintf(out, "\nThe guest's exit status comes from an 8-bit write to "
		     "port 0x501; reboot and\npoweroff exit 0. Ctrl-A x quits "
		     "the console.\n");
	fprintf(out, "\nWith -- CMD, CMD runs in the guest on the host's root "
		     "(read-only; /etc, /var\nand $HOME writable through "
		     "overlays, /tmp and /run in tmpfs), as you, in this\n"
		     "directory; vmm exits with its status (125: the rig "
		     "itself failed).\n");
}

static void set_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = default_cmdline;
	cfg->cpus = 1;
	cfg->mem.size = DEFAULT_MEMORY;
	cfg->mem.backend = MEM_BACKEND_ANON;
	cfg->transport = VM_TRANSPORT_PCI;
	cfg->seccomp = SANDBOX_ON;
	/* QEMU's default too; the ring is asked for. 4 of 54 lab
	 * migrations triple-faulted the source, all with the ring (README,
	 * --dirty-tracking). */
	cfg->dirty_tracking = MEM_DIRTY_BITMAP;
	arch_config_defaults(&cfg->arch);
}

/* getopt values: OPT_BASE + index, VM options first, then the board's
 * (arch_options), then device types, clear of the characters getopt
 * itself returns. */
#define OPT_BASE 256
#define MAX_OPTIONS 64

static size_t build_longopts(struct option *lo)
{
	size_t n = 0;

	for (size_t i = 0; i < NR_RUN_OPTIONS; i++, n++)
		lo[n] = (struct option){ run_options[i].name,
					 run_options[i].arg ? required_argument
							    : no_argument,
					 NULL, OPT_BASE + (int)n };
	for (size_t i = 0; arch_options[i].name && n < MAX_OPTIONS; i++, n++)
		lo[n] = (struct option){ arch_options[i].name,
					 required_argument, NULL,
					 OPT_BASE + (int)n };
	for (size_t i = 0; device_types[i] && n < MAX_OPTIONS; i++, n++)
		lo[n] = (struct option){ device_types[i]->name,
					 required_argument, NULL,
					 OPT_BASE + (int)n };
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ 0 };
	return n;
}

static enum cli_result bad_option(int c, char **argv, const struct option *lo,
				  size_t n)
{
	if (c == ':' && optopt >= OPT_BASE && optopt < OPT_BASE + (int)n)
		log_error("--%s needs an argument", lo[optopt - OPT_BASE].name);
	else
		log_error("unknown option '%s' (see vmm run --help)",
			  argv[optind - 1]);
	return CLI_USAGE_ERROR;
}

static int add_device(struct vm_config *cfg, const struct device_type *t,
		      char *arg)
{
	unsigned same = 0;
	const char *why = "";
	void *dc;

	for (unsigned i = 0; i < cfg->nr_devices; i++)
		same += cfg->devices[i].type == t;
	if (same == t->max || cfg->nr_devices == VM_MAX_DEVICES) {
		log_error("--%s: at most %u of these and %u devices in all",
			  t->name, t->max, VM_MAX_DEVICES);
		return -EINVAL;
	}
	dc = calloc(1, t->config_size);
	if (!dc)
		return -ENOMEM;
	if (t->parse(arg, dc, &why)) {
		log_error("--%s: %s (expected %s)", t->name, why, t->arg);
		free(dc);
		return -EINVAL;
	}
	cfg->devices[cfg->nr_devices++] = (struct vm_device_config){ t, dc };
	return 0;
}

/* getopt's optarg lives in argv, which outlives the config. */
static int apply_option(struct vm_config *cfg, int c, char *arg)
{
	size_t i = (size_t)(c - OPT_BASE), arch = 0;

	if (i < NR_RUN_OPTIONS)
		return run_options[i].parse(cfg, arg);
	i -= NR_RUN_OPTIONS;
	while (arch_options[arch].name)
		arch++;
	if (i < arch)
		return arch_options[i].parse(&cfg->arch, arg);
	return add_device(cfg, device_types[i - arch], arg);
}

void cli_free(struct vm_config *cfg)
{
	struct cli_rig *r = cfg->rig;

	for (unsigned i = 0; i < cfg->nr_devices; i++)
		free(cfg->devices[i].cfg);
	cfg->nr_devices = 0;
	if (!r)
		return;
	free(r->kernel);
	for (unsigned i = 0; i < 1 + RIG_MAX_RW; i++)
		free(r->paths[i]);
	module_list_free(&r->mods);
	rig_user_free(&r->user);
	rig_output_free(&r->out);
	free(r);
	cfg->rig = NULL;
	cfg->initrd_data = NULL;
}

static const struct device_type *find_type(const char *name)
{
	for (size_t i = 0; device_types[i]; i++)
		if (!strcmp(device_types[i]->name, name))
			return device_types[i];
	return NULL;
}

/* The test rig boots the running kernel unless told otherwise. */
static int default_kernel(struct cli_rig *r, struct vm_config *cfg)
{
	struct utsname u;

	if (uname(&u) ||
	    asprintf(&r->kernel, "/boot/vmlinuz-%s", u.release) < 0)
		return -ENOMEM;
	if (access(r->kernel, R_OK)) {
		log_error("no --kernel given and %s is not readable: give "
			  "--kernel FILE",
			  r->kernel);
		return -EINVAL;
	}
	cfg->kernel = r->kernel;
	return 0;
}

/* --modules DIR, "none", or the tree of the image's own version. */
static int find_modules(struct cli_rig *r, const char *kernel, bool test,
			enum vm_transport transport)
{
	char ver[KERNEL_VERSION_MAX], dir[PATH_MAX];
	size_t n;
	const char *const *names =
		rig_module_names(test, transport == VM_TRANSPORT_MMIO, &n);

	if (r->modules && !strcmp(r->modules, "none"))
		return 0;
	if (!r->modules) {
		if (kernel_version_file(kernel, ver)) {
			log_error("kernel %s: no version string in it to find "
				  "its modules: give --modules DIR (or "
				  "--modules none)",
				  kernel);
			return -EINVAL;
		}
		snprintf(dir, sizeof(dir), "/lib/modules/%s/modules.dep", ver);
		if (access(dir, R_OK)) {
			log_error("kernel %s is %s, and %s is not readable: "
				  "give --modules DIR (or --modules none)",
				  kernel, ver, dir);
			return -EINVAL;
		}
		*strrchr(dir, '/') = '\0';
	}
	return modules_resolve(r->modules ? r->modules : dir, names, n,
			       &r->mods);
}

static int real_dir(const char *what, const char *dir, char **out)
{
	*out = realpath(dir, NULL);
	if (!*out) {
		log_error("%s %s: %s", what, dir, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int check_rig_options(const struct vm_config *cfg, bool test)
{
	const struct cli_rig *r = cfg->rig;

	if (test && r->root) {
		log_error("--9p-root and a command after -- cannot be combined "
			  "(the command runs on the host's root)");
		return -EINVAL;
	}
	if (cfg->initrd) {
		log_error("--initrd cannot be combined with %s: vmm builds "
			  "that initramfs itself",
			  test ? "a command after --" : "--9p-root");
		return -EINVAL;
	}
	if (!test && !r->root) {
		log_error("--%s needs --9p-root DIR or a command after --",
			  r->nr_rw  ? "rw"
			  : r->dump ? "rig-dump"
				    : "modules");
		return -EINVAL;
	}
	if (!test && r->nr_rw) {
		log_error("--rw needs a command after -- (the test rig)");
		return -EINVAL;
	}
	return 0;
}

static int rig_request(struct vm_config *cfg, char **argv, int argc,
		       struct rig_request *rq)
{
	struct cli_rig *r = cfg->rig;
	bool test = argv != NULL;
	int e = real_dir(test ? "root" : "--9p-root", test ? "/" : r->root,
			 &r->paths[0]);

	for (unsigned i = 0; !e && i < r->nr_rw; i++)
		e = real_dir("--rw", r->rw[i], &r->paths[1 + i]);
	if (!e && test)
		e = rig_user_from_host(&r->user);
	if (!e)
		e = find_modules(r, cfg->kernel, test, cfg->transport);
	*rq = (struct rig_request){
		.test = test,
		.root = r->paths[0],
		.rw = (const char *const *)&r->paths[1],
		.nr_rw = r->nr_rw,
		.argv = argv,
		.argc = (unsigned)argc,
		.user_cmdline =
			cfg->cmdline == default_cmdline ? NULL : cfg->cmdline,
		.modules = &r->mods,
		.user = &r->user,
		.init_bin = vmm_guest_init,
		.init_size = (size_t)(vmm_guest_init_end - vmm_guest_init),
	};
	return e;
}

/* --9p-root DIR (argv NULL) or the test rig (argv: the command). The
 * shares become --9p devices through the device table, as if typed.
 * 1: --rig-dump wrote them out instead (nothing to boot). */
static int rig_setup(struct vm_config *cfg, char **argv, int argc)
{
	const struct device_type *p9 = find_type("9p");
	struct rig_request rq;
	bool test = argv != NULL;

	if (test && argc == 0) {
		log_error("-- needs a command after it");
		return -EINVAL;
	}
	if (!rig_of(cfg))
		return -ENOMEM;
	if (check_rig_options(cfg, test))
		return -EINVAL;
	if (!p9) {
		log_error("this vmm has no virtio-9p device (--9p)");
		return -EINVAL;
	}
	if (!cfg->kernel && (!test || default_kernel(cfg->rig, cfg))) {
		if (!test)
			log_error("--kernel is required (see vmm run --help)");
		return -EINVAL;
	}
	if (rig_request(cfg, argv, argc, &rq) || rig_build(&rq, &cfg->rig->out))
		return -EINVAL;
	if (cfg->rig->dump)
		return rig_dump(&cfg->rig->out, cfg->rig->dump) ? -EINVAL : 1;
	for (unsigned i = 0; i < cfg->rig->out.nr_shares; i++)
		if (add_device(cfg, p9, cfg->rig->out.shares[i]))
			return -EINVAL;
	cfg->cmdline = cfg->rig->out.cmdline;
	cfg->initrd_data = cfg->rig->out.initrd.data;
	cfg->initrd_size = cfg->rig->out.initrd.len;
	/* A panic or reboot must not pass for the command's success. */
	cfg->expect_exit_code |= test;
	/* A rig runs one kernel many times, each run short: its start-up
	 * is what the user waits for. */
	if (test && cfg->unpack_kernel == VM_UNPACK_DEFAULT)
		cfg->unpack_kernel = VM_UNPACK_TRY;
	return 0;
}

static enum cli_result rig_result(int r)
{
	return r < 0 ? CLI_USAGE_ERROR : r > 0 ? CLI_EXIT_OK : CLI_OK;
}

enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg)
{
	struct option lo[MAX_OPTIONS + 2];
	const char *last_arg = NULL;
	size_t n;
	int c;

	set_defaults(cfg);
	n = build_longopts(lo);
	/* 0, not 1: glibc then also drops the rest of a "-hh" cluster an
	 * earlier parse returned in the middle of. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
		last_arg = optarg;
		if (c == 'h') {
			cli_usage_run(stdout);
			return CLI_EXIT_OK;
		}
		if (c == '?' || c == ':')
			return bad_option(c, argv, lo, n);
		if (apply_option(cfg, c, optarg))
			return CLI_USAGE_ERROR;
	}
	if (check_memory(cfg))
		return CLI_USAGE_ERROR;
	if ((cfg->restore || cfg->incoming) &&
	    (cfg->rig || cfg->kernel || cfg->initrd ||
	     cfg->cmdline != default_cmdline ||
	     (cfg->restore && cfg->incoming) || optind < argc)) {
		log_error("--restore and --incoming take the guest's state "
			  "from elsewhere: not with each other, --kernel, "
			  "--initrd, --cmdline, --9p-root or a command");
		return CLI_USAGE_ERROR;
	}
	/* "--" ended the options (not as an option's argument): a command. */
	if (optind > 1 && !strcmp(argv[optind - 1], "--") &&
	    argv[optind - 1] != last_arg)
		return rig_result(rig_setup(cfg, argv + optind, argc - optind));
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return CLI_USAGE_ERROR;
	}
	if (cfg->restore || cfg->incoming)
		return CLI_OK;
	if (cfg->rig)
		return rig_result(rig_setup(cfg, NULL, 0));
	if (!cfg->kernel) {
		log_error("--kernel is required (see vmm run --help)");
		return CLI_USAGE_ERROR;
	}
	return CLI_OK;
}
