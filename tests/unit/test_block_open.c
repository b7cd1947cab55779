/* blk_open: options, format dispatch through the driver table, the raw
 * format stacked on the file protocol, doing real I/O through a ring. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/driver.h"
#include "block/drivers.h"

#define SIZE (1 << 20)

static char path[64];

static void make_file(char *p, const char *tmpl)
{
	int fd;

	strcpy(p, tmpl);
	fd = mkstemp(p);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, SIZE), 0);
	close(fd);
}

static void setup(void)
{
	make_file(path, "/var/tmp/vmm-test-open-XXXXXX");
}

static void teardown(void)
{
	unlink(path);
}

TestSuite(block_open, .init = setup, .fini = teardown);

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Options "k=v;k;k=v" ($ stands for the temp file). */
static void opts_from(struct blk_opts *o, char *spec)
{
	char *save = NULL, *kv;

	memset(o, 0, sizeof(*o));
	for (kv = strtok_r(spec, ";", &save); kv;
	     kv = strtok_r(NULL, ";", &save)) {
		char *v = strchr(kv, '=');
		if (v)
			*v++ = 0;
		if (v && !strcmp(v, "$"))
			v = path;
		cr_assert_eq(blk_opts_add(o, kv, v), 0, "%s", kv);
	}
}

Test(block_open, bad_options)
{
	static const struct {
		const char *opts;
		int err;
		const char *why;
	} bad[] = {
		{ "format=vmdk;path=$", -EINVAL,
		  ": unknown format 'vmdk' (known: raw, qcow2, qed)" },
		/* $ is a raw file of zeroes, no qcow2 header; format=auto
		 * takes it as raw (see format_auto_probes) */
		{ "format=qcow2;path=$", -EINVAL, ": not a qcow2 image" },
		{ "format=file;path=$", -EINVAL, "unknown format 'file'" },
		{ "format=;path=$", -EINVAL, "unknown format ''" },
		{ "path=$;bogus=1", -EINVAL, ": unknown option 'bogus'" },
		{ "path=$;readonly=off;file.path=x", -EINVAL,
		  "unknown option 'file.path'" },
		{ "format=raw", -EINVAL, "disk: no path" },
		{ "path=", -EINVAL, "disk: no path" },
		{ "path=/tmp", -EISDIR, "disk /tmp: Is a directory" },
		{ "path=/tmp;readonly", -EINVAL,
		  "disk /tmp: not a regular file or block device" },
		{ "path=/dev/null;readonly=on", -EINVAL,
		  "not a regular file or block device" },
		{ "path=/nonexistent/d.img", -ENOENT,
		  "disk /nonexistent/d.img: No such file" },
		{ "path=$;cache=unsafe", -EINVAL,
		  "cache must be none or writeback" },
		{ "path=$;readonly=maybe", -EINVAL,
		  "readonly must be on or off" },
		/* procfs has no O_DIRECT (tmpfs has, since Linux 6.6) */
		{ "path=/proc/self/comm;readonly;cache=none", -EINVAL,
		  "disk /proc/self/comm: the file system does not support O_DIRECT (cache=none)" },
	};
	int fds = open_fds();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct blk_node n;
		struct blk_opts o;
		char spec[128];

		strcpy(spec, bad[i].opts);
		opts_from(&o, spec);
		memset(&n, 0x55, sizeof(n));
		cr_assert_eq(blk_open(&n, &o), bad[i].err, "'%s': %s",
			     bad[i].opts, o.why);
		cr_assert_not_null(strstr(o.why, bad[i].why), "'%s': '%s'",
				   bad[i].opts, o.why);
		cr_assert_null(n.drv, "'%s' left the node open", bad[i].opts);
		cr_assert_null(n.file);
		cr_assert_eq(open_fds(), fds, "'%s' leaked a file",
			     bad[i].opts);
	}
}

Test(block_open, option_list_limits)
{
	static const char *keys[BLK_OPTS_MAX] = { "a", "b", "c", "d", "e", "f",
						  "g", "h", "i", "j", "k", "l",
						  "m", "n", "o", "p" };
	struct blk_opts o = { 0 };

	cr_assert_eq(blk_opts_add(&o, "", "x"), -EINVAL);
	cr_assert_eq(blk_opts_add(&o, NULL, "x"), -EINVAL);
	for (unsigned i = 0; i < BLK_OPTS_MAX; i++)
		cr_assert_eq(blk_opts_add(&o, keys[i], NULL), 0);
	cr_assert_eq(blk_opts_add(&o, "q", NULL), -E2BIG);
	o.n = 1;
	cr_assert_eq(blk_opts_add(&o, "a", "again"), -EINVAL, "repeated key");
}

Test(block_open, raw_is_the_default_format_stacked_on_file)
{
	struct blk_node n;
	struct blk_opts o = { 0 };

	blk_opts_add(&o, "path", path);
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert_str_eq(n.drv->name, "raw");
	cr_assert_eq(n.fd, -1, "a format holds no host file");
	cr_assert_not_null(n.file);
	cr_assert_str_eq(n.file->drv->name, "file");
	cr_assert_eq(n.file->drv->kind, BLK_DRV_PROTOCOL);
	cr_assert_geq(n.file->fd, 0);
	cr_assert_null(n.backing);
	cr_assert_null(n.file->file);
	cr_assert_eq(n.size, SIZE);
	cr_assert_eq(n.block_size, 512);
	cr_assert(!n.readonly && n.can_discard);
	blk_close(&n);
	cr_assert_null(n.drv);
	cr_assert_null(n.file);
}

Test(block_open, readonly_and_cache_reach_the_file)
{
	struct blk_node n;
	struct blk_opts o = { 0 };
	int fl;

	blk_opts_add(&o, "format", "raw");
	blk_opts_add(&o, "path", path);
	blk_opts_add(&o, "readonly", "on");
	blk_opts_add(&o, "cache", "none");
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert(n.readonly && n.file->readonly);
	cr_assert(!n.can_discard);
	fl = fcntl(n.file->fd, F_GETFL);
	cr_assert_eq(fl & O_ACCMODE, O_RDONLY);
	cr_assert(fl & O_DIRECT);
	blk_close(&n);

	memset(&o, 0, sizeof(o));
	blk_opts_add(&o, "path", path);
	blk_opts_add(&o, "readonly", "off");
	blk_opts_add(&o, "cache", "writeback");
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert(!n.readonly);
	fl = fcntl(n.file->fd, F_GETFL);
	cr_assert_eq(fl & O_ACCMODE, O_RDWR);
	cr_assert(!(fl & O_DIRECT));
	blk_close(&n);
}

static int results[4];

static void done(struct blk_req *r, int result)
{
	results[(intptr_t)r->opaque] = result;
}

static void run(struct blk_ctx *ctx, struct blk_node *n, struct blk_req *r,
		int id, int want_cqes)
{
	int cqes = 0;

	r->complete = done;
	r->opaque = (void *)(intptr_t)id;
	results[id] = 1;
	cr_assert_eq(blk_submit(n, ctx, r), 0);
	while (ctx->inflight)
		cqes += blk_ctx_reap(ctx, true);
	cr_assert_eq(cqes, want_cqes, "one SQE for the request, none for raw");
	cr_assert_eq(results[id], 0);
}

Test(block_open, stacked_raw_over_file_does_real_io)
{
	char out[4096], in[4096], back[4096];
	struct iovec ov = { out, sizeof(out) }, iv = { in, sizeof(in) };
	struct blk_node n;
	struct blk_opts o = { 0 };
	struct blk_ctx ctx;
	struct blk_req r;
	int fd;

	blk_opts_add(&o, "path", path);
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0);
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	r = (struct blk_req){ .op = BLK_OP_WRITE,
			      .offset = 12288,
			      .len = 4096,
			      .iov = &ov,
			      .iovcnt = 1 };
	run(&ctx, &n, &r, 0, 1);
	cr_assert_eq(r.node, &n, "submitted to the raw node");
	cr_assert_eq(r.io_node, n.file, "the SQE was the file node's");
	fd = open(path, O_RDONLY);
	cr_assert_eq(pread(fd, back, sizeof(back), 12288),
		     (ssize_t)sizeof(back));
	close(fd);
	cr_assert_eq(memcmp(back, out, sizeof(out)), 0);
	r = (struct blk_req){ .op = BLK_OP_READ,
			      .offset = 12288,
			      .len = 4096,
			      .iov = &iv,
			      .iovcnt = 1 };
	run(&ctx, &n, &r, 1, 1);
	cr_assert_eq(memcmp(in, out, sizeof(out)), 0);
	r = (struct blk_req){ .op = BLK_OP_FLUSH };
	run(&ctx, &n, &r, 2, 1);
	cr_assert_eq(n.errors, 0);
	blk_ctx_destroy(&ctx);
	blk_close(&n);
}

Test(block_open, errors_count_on_the_node_submitted_to)
{
	char buf[8192];
	struct iovec v = { buf, sizeof(buf) };
	struct blk_node n;
	struct blk_opts o = { 0 };
	struct blk_ctx ctx;
	struct blk_req r = { .op = BLK_OP_READ,
			     .offset = SIZE - 8192,
			     .len = 8192,
			     .iov = &v,
			     .iovcnt = 1,
			     .complete = done };

	blk_opts_add(&o, "path", path);
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0);
	cr_assert_eq(truncate(path, SIZE - 4096), 0);
	cr_assert_eq(blk_submit(&n, &ctx, &r), 0);
	while (ctx.inflight)
		blk_ctx_reap(&ctx, true);
	cr_assert_eq(results[0], -EIO);
	cr_assert_eq(n.errors, 1);
	cr_assert_eq(n.file->errors, 0, "the request was the raw node's");
	blk_ctx_destroy(&ctx);
	blk_close(&n);
}

/* BLK_FORMAT_NAMES is spelled out for messages; it must list exactly the
 * table's formats, in table order. */
Test(block_open, format_names_match_the_table)
{
	const struct blk_driver *d;
	char names[256] = "";

	for (unsigned i = 0; (d = blk_driver_at(i)); i++) {
		cr_assert_not_null(d->name);
		cr_assert_not_null(d->open, "%s", d->name);
		cr_assert_not_null(d->submit, "%s", d->name);
		cr_assert_eq(blk_driver_find(d->name, d->kind), d,
			     "%s is listed twice", d->name);
		if (d->kind == BLK_DRV_PROTOCOL && d->filter) {
			cr_assert_null(d->cqe, "%s forwards", d->name);
			cr_assert_eq(d->nsqe_ops, 0, "%s forwards", d->name);
			continue;
		}
		if (d->kind == BLK_DRV_PROTOCOL) {
			cr_assert_not_null(d->cqe, "%s issues SQEs", d->name);
			continue;
		}
		cr_assert_eq(d->nsqe_ops, 0, "%s: formats do I/O on children",
			     d->name);
		if (names[0])
			strcat(names, ", ");
		strcat(names, d->name);
	}
	cr_assert_str_eq(names, BLK_FORMAT_NAMES);
	cr_assert_null(blk_driver_find("file", BLK_DRV_FORMAT));
	cr_assert_null(blk_driver_find("raw", BLK_DRV_PROTOCOL));
}

/* format=auto: qcow2 by its magic, raw otherwise; never without being
 * asked (a plain open of a qcow2 file is raw). */
Test(block_open, format_auto_probes)
{
	char img[] = "/var/tmp/vmm-test-auto-XXXXXX", cmd[128];
	struct blk_node n;
	struct blk_opts o = { 0 };
	int fd = mkstemp(img);

	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s 1M", img);
	cr_assert_eq(system(cmd), 0);
	blk_opts_add(&o, "path", img);
	blk_opts_add(&o, "format", "auto");
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert_str_eq(n.drv->name, "qcow2");
	cr_assert_eq(n.size, 1u << 20);
	blk_close(&n);
	memset(&o, 0, sizeof(o));
	blk_opts_add(&o, "path", img);
	cr_assert_eq(blk_open(&n, &o), 0, "%s", o.why);
	cr_assert_str_eq(n.drv->name, "raw");
	blk_close(&n);
	unlink(img);
}
