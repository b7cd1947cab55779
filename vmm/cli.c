/* Main thread at start-up; getopt's state is the only global touched. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "device_table.h"
#include "lib/parse.h"

#define DEFAULT_CMDLINE "console=ttyS0"
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

static int opt_expect_exit(struct vm_config *c, const char *a)
{
	(void)a;
	c->expect_exit_code = true;
	return 0;
}

static const struct cli_option run_options[] = {
	{ "kernel", "FILE",
	  "bzImage, ELF vmlinux or PVH ELF to boot (required)", opt_kernel },
	{ "initrd", "FILE", "initial ramdisk", opt_initrd },
	{ "cmdline", "STR",
	  "kernel command line (default \"" DEFAULT_CMDLINE "\")",
	  opt_cmdline },
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
	  "requests",
	  opt_stats },
	{ "expect-exit-code", NULL,
	  "exit 125 if the guest ends without "
	  "writing port 0x501",
	  opt_expect_exit },
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
	fprintf(out, "usage: vmm run --kernel FILE [options]\n\noptions:\n");
	for (size_t i = 0; i < NR_RUN_OPTIONS; i++)
		usage_line(out, run_options[i].name, run_options[i].arg,
			   run_options[i].help);
	for (size_t i = 0; device_types[i]; i++)
		usage_line(out, device_types[i]->name, device_types[i]->arg,
			   device_types[i]->help);
	fprintf(out, "  %-26s %s\n", "--help", "this text");
	fprintf(out, "\nThe guest's exit status comes from an 8-bit write to "
		     "port 0x501; reboot and\npoweroff exit 0. Ctrl-A x quits "
		     "the console.\n");
}

static void set_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = DEFAULT_CMDLINE;
	cfg->cpus = 1;
	cfg->mem.size = DEFAULT_MEMORY;
	cfg->mem.backend = MEM_BACKEND_ANON;
	cfg->transport = VM_TRANSPORT_PCI;
}

/* getopt values: OPT_BASE + index, VM options first, then device types,
 * clear of the characters getopt itself returns. */
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
	size_t i = (size_t)(c - OPT_BASE);

	if (i < NR_RUN_OPTIONS)
		return run_options[i].parse(cfg, arg);
	return add_device(cfg, device_types[i - NR_RUN_OPTIONS], arg);
}

void cli_free(struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		free(cfg->devices[i].cfg);
	cfg->nr_devices = 0;
}

enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg)
{
	struct option lo[MAX_OPTIONS + 2];
	size_t n;
	int c;

	set_defaults(cfg);
	n = build_longopts(lo);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
		if (c == 'h') {
			cli_usage_run(stdout);
			return CLI_EXIT_OK;
		}
		if (c == '?' || c == ':')
			return bad_option(c, argv, lo, n);
		if (apply_option(cfg, c, optarg))
			return CLI_USAGE_ERROR;
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return CLI_USAGE_ERROR;
	}
	if (!cfg->kernel) {
		log_error("--kernel is required (see vmm run --help)");
		return CLI_USAGE_ERROR;
	}
	return CLI_OK;
}
