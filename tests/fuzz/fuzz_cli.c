/* `vmm run`'s option parser (vmm/cli.c cli_parse_run, cli_free) and the
 * option value parsers behind it (--disk, --9p, sizes and counts) on an
 * argv made of the input split at NUL bytes (at most MAX_ARGS; argv[0]
 * is "run"), each argument its own heap block (ASan sees a read past
 * one). Each input is parsed twice, from two copies freed in between,
 * with a plain "--kernel k" parsed between them: the two results must
 * agree and the plain one must be CLI_OK (getopt's state must not carry
 * over from one parse to the next).
 *
 * Invariants: CLI_OK gives a config within its documented bounds (a
 * kernel, or --restore or --incoming alone with no kernel, initrd,
 * command line or rig; cpus 1..254; RAM 2 MiB..1 TiB in whole pages, whole 2 MiB
 * pages for hugetlbfs; a valid backend, transport, unpack mode and
 * seccomp mode; at most 8 devices, at most each type's max, each a valid
 * --disk or --9p configuration; strings that point into argv or into
 * what the config owns). CLI_USAGE_ERROR prints exactly one "vmm: "
 * line (a quoted argument may hold newlines). cli_free frees everything (LeakSanitizer checks after each
 * input) and may be called twice. No fd is left open; nothing blocks
 * (a FIFO in the scratch directory is there to be named: opening it for
 * reading without O_NONBLOCK would hang, which libFuzzer reports as a
 * timeout). --rig-dump (which writes files) is pointed at the scratch
 * directory whatever the input says. Output is captured, not printed. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "block/drivers.h"
#include "devices/virtio/9p_opts.h"
#include "devices/virtio/9p_type.h"
#include "devices/virtio/blk_opts.h"
#include "devices/virtio/blk_type.h"
#include "lib/parse.h"
#include "vmm/cli.h"
#include "vmm/device_table.h"

/* fd 2 itself: stderr is the parser's log capture while it runs. */

#define MAX_ARGS 32
#define SCRATCH "/tmp/vmm-fuzz-cli"
#define DUMP_DIR SCRATCH "/dump"

struct args {
	int argc;
	char **argv;		  /* argc + 1 entries, NULL-terminated */
	size_t len[MAX_ARGS + 1]; /* as made (parsers cut them with NULs) */
};

static char out_buf[16384], err_buf[8192];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;

	(void)argc, (void)argv;
	/* A fixed place, so that seeds can name what is in it. */
	INVARIANT(!mkdir(SCRATCH, 0755) || errno == EEXIST);
	INVARIANT(!mkdir(SCRATCH "/d", 0755) || errno == EEXIST);
	INVARIANT(!mkdir(SCRATCH "/mods", 0755) || errno == EEXIST);
	INVARIANT(!mkfifo(SCRATCH "/fifo", 0644) || errno == EEXIST);
	INVARIANT(!mkfifo(SCRATCH "/mods/modules.dep", 0644) ||
		  errno == EEXIST);
	f = fopen(SCRATCH "/k", "w");
	INVARIANT(f);
	fputs("Linux version 6.1.0-fuzz (fuzz@vmm) #1\n", f);
	fclose(f);
	return 0;
}

/* argv from the input; --rig-dump's directory (any abbreviation: getopt
 * takes "--ri" and up) replaced by DUMP_DIR. */
static void make_args(struct args *a, const uint8_t *data, size_t size)
{
	size_t at = 0;

	a->argv = calloc(MAX_ARGS + 2, sizeof(char *));
	INVARIANT(a->argv);
	a->argv[0] = strdup("run");
	a->argc = 1;
	while (at < size && a->argc <= MAX_ARGS) {
		const uint8_t *nul = memchr(data + at, 0, size - at);
		size_t n = nul ? (size_t)(nul - (data + at)) : size - at;
		char *s = malloc(n + 1);
		INVARIANT(s);
		memcpy(s, data + at, n);
		s[n] = 0;
		a->argv[a->argc++] = s;
		at += n + 1;
	}
	for (int i = 1; i < a->argc; i++) {
		char *s = a->argv[i], *eq;
		if (strncmp(s, "--ri", 4))
			continue;
		if ((eq = strchr(s, '='))) {
			char *t =
				malloc((size_t)(eq - s) + sizeof(DUMP_DIR) + 1);
			INVARIANT(t);
			memcpy(t, s, (size_t)(eq - s) + 1);
			strcpy(t + (eq - s) + 1, DUMP_DIR);
			free(s);
			a->argv[i] = t;
		} else if (i + 1 < a->argc) {
			free(a->argv[i + 1]);
			a->argv[i + 1] = strdup(DUMP_DIR);
			i++;
		}
	}
	for (int i = 0; i < a->argc; i++) {
		INVARIANT(a->argv[i]);
		a->len[i] = strlen(a->argv[i]);
	}
}

static void free_args(struct args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
}

/* True when p points into one of the arguments (or is NULL). */
static bool in_argv(const struct args *a, const char *p)
{
	if (!p)
		return true;
	for (int i = 0; i < a->argc; i++) {
		const char *s = a->argv[i];
		if (p >= s && p <= s + a->len[i])
			return true;
	}
	return false;
}

static void check_blk(const struct vblk_config *c, const struct args *a)
{
	INVARIANT(c->path && *c->path && !strchr(c->path, ','));
	INVARIANT(a == NULL || in_argv(a, c->path));
	INVARIANT(c->queues >= 1 && c->queues <= VBLK_MAX_QUEUES);
	INVARIANT(memchr(c->serial, 0, sizeof(c->serial)));
	INVARIANT(!c->format || blk_driver_find(c->format, BLK_DRV_FORMAT));
	INVARIANT(a == NULL || in_argv(a, c->format));
}

static void check_9p(const struct v9p_config *c, const struct args *a)
{
	INVARIANT(c->path && *c->path && !strchr(c->path, ','));
	INVARIANT(!strchr(c->path, '='));
	INVARIANT(c->tag && *c->tag && strlen(c->tag) <= V9P_TAG_MAX);
	INVARIANT(!strchr(c->tag, ','));
	INVARIANT(c->security == FS9P_PASSTHROUGH ||
		  c->security == FS9P_MAPPED);
	INVARIANT(a == NULL || (in_argv(a, c->path) && in_argv(a, c->tag)));
}

static void check_ok(const struct vm_config *c, const struct args *a)
{
	unsigned per_type[8] = { 0 };

	if (c->restore || c->incoming) {
		/* The guest comes from a snapshot or a migration: one of
		 * them, and nothing that would boot a kernel. */
		INVARIANT(!(c->restore && c->incoming));
		INVARIANT(in_argv(a, c->restore) && in_argv(a, c->incoming));
		INVARIANT(!c->kernel && !c->initrd && !c->rig);
		INVARIANT(!strcmp(c->cmdline, "console=ttyS0"));
	} else {
		INVARIANT(c->kernel);
	}
	INVARIANT(c->rig || in_argv(a, c->kernel));
	INVARIANT(c->cmdline);
	INVARIANT(c->rig || in_argv(a, c->cmdline) ||
		  !strcmp(c->cmdline, "console=ttyS0"));
	INVARIANT(in_argv(a, c->initrd));
	INVARIANT(c->cpus >= 1 && c->cpus <= VM_MAX_CPUS);
	INVARIANT(c->mem.size >= (2ULL << 20) && c->mem.size <= (1ULL << 40));
	INVARIANT(c->mem.size % MEM_PAGE_SIZE == 0);
	INVARIANT(c->mem.backend == MEM_BACKEND_ANON ||
		  c->mem.backend == MEM_BACKEND_MEMFD ||
		  c->mem.backend == MEM_BACKEND_HUGETLBFS);
	if (c->mem.backend == MEM_BACKEND_HUGETLBFS)
		INVARIANT(c->mem.size % MEM_HUGE_PAGE_SIZE == 0);
	else
		INVARIANT(!c->mem.hugetlbfs_dir);
	INVARIANT(in_argv(a, c->mem.hugetlbfs_dir));
	INVARIANT(c->transport == VM_TRANSPORT_PCI ||
		  c->transport == VM_TRANSPORT_MMIO);
	INVARIANT(c->unpack_kernel <= VM_UNPACK_ON);
	INVARIANT(c->seccomp == SANDBOX_OFF || c->seccomp == SANDBOX_ON ||
		  c->seccomp == SANDBOX_LOG);
	INVARIANT(c->nr_devices <= VM_MAX_DEVICES);
	INVARIANT(!c->initrd_data == !c->rig);
	if (c->initrd_data)
		INVARIANT(c->initrd_size > 0 && !c->initrd);
	for (unsigned i = 0; i < c->nr_devices; i++) {
		const struct device_type *t = c->devices[i].type;
		unsigned k = 0;
		while (device_types[k] && device_types[k] != t)
			k++;
		INVARIANT(device_types[k] && k < 8);
		INVARIANT(++per_type[k] <= t->max);
		INVARIANT(c->devices[i].cfg);
		if (t == &vblk_device_type)
			check_blk(c->devices[i].cfg, a);
		else
			check_9p(c->devices[i].cfg,
				 c->rig ? NULL : a); /* rig: its shares */
	}
}

static size_t count_nl(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

/* True when buf is one log line (lib/log.c: "vmm: ", at most 1023 bytes
 * with its '\n'), which may quote arguments holding newlines of their
 * own. */
static bool one_line(const char *buf, const struct args *a)
{
	size_t len = strlen(buf), quoted = 0;

	for (int i = 0; i < a->argc; i++)
		quoted += count_nl(a->argv[i], strlen(a->argv[i]));
	return !strncmp(buf, "vmm: ", 5) && len <= 1023 &&
	       buf[len - 1] == '\n' && count_nl(buf, len) <= 1 + quoted;
}

struct result {
	enum cli_result r;
	struct vm_config cfg;
};

/* One parse of a fresh copy of the input into a, checked; the config
 * freed, a left to the caller (kept through the next parse, so that a
 * stale pointer into it still reads what it read). */
static void parse_once(const uint8_t *data, size_t size, struct result *res,
		       struct args *ap)
{
	struct args a;
	FILE *out, *err, *saved_out = stdout, *saved_err = stderr;
	int fds = fuzz_count_fds();

	make_args(&a, data, size);
	memset(out_buf, 0, sizeof(out_buf));
	memset(err_buf, 0, sizeof(err_buf));
	out = fmemopen(out_buf, sizeof(out_buf) - 1, "w");
	err = fmemopen(err_buf, sizeof(err_buf) - 1, "w");
	INVARIANT(out && err);
	stdout = out;
	stderr = err;
	res->r = cli_parse_run(a.argc, a.argv, &res->cfg);
	stdout = saved_out;
	stderr = saved_err;
	fclose(out);
	fclose(err);
	switch (res->r) {
	case CLI_OK: check_ok(&res->cfg, &a); break;
	case CLI_EXIT_OK: break; /* --help, or --rig-dump wrote */
	case CLI_USAGE_ERROR: INVARIANT(one_line(err_buf, &a)); break;
	default: INVARIANT(!"cli_parse_run's result");
	}
	cli_free(&res->cfg);
	INVARIANT(res->cfg.nr_devices == 0 && !res->cfg.rig);
	cli_free(&res->cfg); /* twice is harmless */
	INVARIANT(fuzz_count_fds() == fds);
	*ap = a;
}

/* The --disk and --9p parsers alone, and the number parsers, on arg. */
static void value_parsers(const char *arg)
{
	size_t n = strlen(arg) + 1;
	char *b = malloc(n), *p = malloc(n);
	struct vblk_config bc;
	struct v9p_config pc;
	const char *why = NULL;
	uint64_t v;

	INVARIANT(b && p);
	memcpy(b, arg, n);
	memcpy(p, arg, n);
	if (!vblk_parse_opt(b, &bc, &why))
		check_blk(&bc, NULL);
	else
		INVARIANT(why && *why);
	why = NULL;
	if (!v9p_parse_opt(p, &pc, &why))
		check_9p(&pc, NULL);
	else
		INVARIANT(why && *why);
	if (!parse_uint(arg, 1, VM_MAX_CPUS, &v))
		INVARIANT(v >= 1 && v <= VM_MAX_CPUS);
	if (!parse_size(arg, 1ULL << 20, &v))
		INVARIANT(arg[0] >= '0' && arg[0] <= '9');
	free(b);
	free(p);
}

static const uint8_t plain[] = "--kernel\0k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result first, second;
	struct args a1, a2, a3;
	const uint8_t *at = data, *end = data + size;

	parse_once(data, size, &first, &a1);
	/* A parse depends on its argv alone: a plain command line after
	 * this one's parses as such. */
	parse_once(plain, sizeof(plain), &second, &a2);
	INVARIANT(second.r == CLI_OK && second.cfg.cpus == 1);
	free_args(&a1);
	parse_once(data, size, &second, &a3);
	free_args(&a2);
	free_args(&a3);
	INVARIANT(first.r == second.r);
	if (first.r == CLI_OK) {
		INVARIANT(first.cfg.cpus == second.cfg.cpus);
		INVARIANT(first.cfg.mem.size == second.cfg.mem.size);
		INVARIANT(first.cfg.transport == second.cfg.transport);
	}
	for (int i = 0; at < end && i < MAX_ARGS; i++) {
		const uint8_t *nul = memchr(at, 0, (size_t)(end - at));
		size_t n = nul ? (size_t)(nul - at) : (size_t)(end - at);
		char *s = strndup((const char *)at, n);
		INVARIANT(s);
		value_parsers(s);
		free(s);
		at += n + 1;
	}
	return 0;
}
