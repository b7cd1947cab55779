#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"

#define SIZE (1 << 20)

static char path[64];
static struct blk_node node;
static struct blk_ctx ctx;
static int order[16], norder, results[16];

static void make_file(void)
{
	int fd;

	strcpy(path, "/var/tmp/vmm-test-block-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, SIZE), 0);
	close(fd);
}

/* raw over file, as --disk opens it. */
static int open_raw(struct blk_node *n, const char *p, bool readonly,
		    bool direct)
{
	struct blk_opts o = { 0 };

	cr_assert_eq(blk_opts_add(&o, "format", "raw"), 0);
	cr_assert_eq(blk_opts_add(&o, "path", p), 0);
	if (readonly)
		cr_assert_eq(blk_opts_add(&o, "readonly", NULL), 0);
	if (direct)
		cr_assert_eq(blk_opts_add(&o, "cache", "none"), 0);
	return blk_open(n, &o);
}

static void open_node(bool readonly, bool direct)
{
	cr_assert_eq(open_raw(&node, path, readonly, direct), 0);
	cr_assert_eq(node.size, SIZE);
}

static void setup(void)
{
	make_file();
	open_node(false, false);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0);
	norder = 0;
}

static void teardown(void)
{
	blk_close(&node);
	blk_ctx_destroy(&ctx);
	unlink(path);
}

TestSuite(block, .init = setup, .fini = teardown);

static void done(struct blk_req *r, int result)
{
	int id = (int)(intptr_t)r->opaque;
	results[id] = result;
	order[norder++] = id;
}

static void req_init(struct blk_req *r, int id, enum blk_op op, uint64_t off,
		     struct iovec *iov, unsigned n, uint64_t len)
{
	*r = (struct blk_req){ .op = op,
			       .offset = off,
			       .len = len,
			       .iov = iov,
			       .iovcnt = n,
			       .complete = done,
			       .opaque = (void *)(intptr_t)id };
	results[id] = 1;
}

static void run_all(void)
{
	while (ctx.inflight)
		blk_ctx_reap(&ctx, true);
}

static int file_read(uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return (int)n;
}

Test(block, write_then_read_across_iovecs)
{
	char a[100], b[3000], back[3100];
	struct iovec w[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct blk_req req;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	req_init(&req, 0, BLK_OP_WRITE, 4096 + 7, w, 2, 3100);
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[0], 0);
	cr_assert_eq(file_read(4096 + 7, back, 3100), 3100);
	cr_assert_eq(memcmp(back, a, 100), 0);
	cr_assert_eq(memcmp(back + 100, b, 3000), 0);

	char r1[1000], r2[2100];
	struct iovec r[2] = { { r1, sizeof(r1) }, { r2, sizeof(r2) } };
	req_init(&req, 1, BLK_OP_READ, 4096 + 7, r, 2, 3100);
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[1], 0);
	cr_assert_eq(memcmp(r1, back, 1000), 0);
	cr_assert_eq(memcmp(r2, back + 1000, 2100), 0);
}

Test(block, refuses_bad_requests_at_once)
{
	char buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct blk_req req;

	req_init(&req, 0, BLK_OP_READ, SIZE - 256, &v, 1, 512);
	cr_assert_eq(blk_submit(&node, &ctx, &req), -EINVAL, "past the end");
	req_init(&req, 0, BLK_OP_READ, UINT64_MAX - 10, &v, 1, 512);
	cr_assert_eq(blk_submit(&node, &ctx, &req), -EINVAL, "wrapping");
	req_init(&req, 0, BLK_OP_READ, 0, &v, 1, 511);
	cr_assert_eq(blk_submit(&node, &ctx, &req), -EINVAL, "len != iovecs");
	req_init(&req, 0, BLK_OP_DISCARD, SIZE, NULL, 0, 1);
	cr_assert_eq(blk_submit(&node, &ctx, &req), -EINVAL);
	cr_assert_eq(ctx.inflight, 0);
	cr_assert_eq(results[0], 1, "complete was not called");
}

Test(block, readonly_node_refuses_writes)
{
	char buf[512] = { 0 };
	struct iovec v = { buf, sizeof(buf) };
	struct blk_req req;

	blk_close(&node);
	open_node(true, false);
	req_init(&req, 0, BLK_OP_WRITE, 0, &v, 1, 512);
	cr_assert_eq(blk_submit(&node, &ctx, &req), -EROFS);
	req_init(&req, 0, BLK_OP_WRITE_ZEROES, 0, NULL, 0, 512);
	cr_assert_eq(blk_submit(&node, &ctx, &req), -EROFS);
	req_init(&req, 0, BLK_OP_READ, 0, &v, 1, 512);
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[0], 0);
}

Test(block, flush_completes_after_the_writes_before_it)
{
	static char buf[4][65536];
	struct iovec v[4];
	struct blk_req w[4], f;

	for (int i = 0; i < 4; i++) {
		v[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		req_init(&w[i], i, BLK_OP_WRITE, (uint64_t)i * 65536, &v[i], 1,
			 65536);
		cr_assert_eq(blk_submit(&node, &ctx, &w[i]), 0);
	}
	req_init(&f, 4, BLK_OP_FLUSH, 0, NULL, 0, 0);
	cr_assert_eq(blk_submit(&node, &ctx, &f), 0);
	run_all();
	cr_assert_eq(norder, 5);
	cr_assert_eq(order[4], 4, "the flush completed last");
	for (int i = 0; i <= 4; i++)
		cr_assert_eq(results[i], 0);
}

static void fill_then(enum blk_op op)
{
	char ones[8192], back[8192], zero[8192] = { 0 };
	struct iovec v = { ones, sizeof(ones) };
	struct blk_req req;

	memset(ones, 0xff, sizeof(ones));
	req_init(&req, 0, BLK_OP_WRITE, 65536, &v, 1, sizeof(ones));
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	req_init(&req, 1, op, 65536, NULL, 0, 8192);
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[1], 0);
	cr_assert_eq(file_read(65536, back, sizeof(back)), (int)sizeof(back));
	cr_assert_eq(memcmp(back, zero, sizeof(back)), 0);
	cr_assert_eq(file_read(SIZE - 1, back, 1), 1, "size kept");
}

Test(block, discard_reads_back_zeroes)
{
	fill_then(BLK_OP_DISCARD);
}
Test(block, write_zeroes_reads_back_zeroes)
{
	fill_then(BLK_OP_WRITE_ZEROES);
}

Test(block, direct_io_with_aligned_buffers)
{
	void *buf = NULL;
	struct iovec v;
	struct blk_req req;

	blk_close(&node);
	open_node(false, true);
	cr_assert_eq(posix_memalign(&buf, 4096, 8192), 0);
	memset(buf, 0x5a, 8192);
	v = (struct iovec){ buf, 8192 };
	req_init(&req, 0, BLK_OP_WRITE, 8192, &v, 1, 8192);
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[0], 0);
	memset(buf, 0, 8192);
	v = (struct iovec){ buf, 8192 };
	req_init(&req, 1, BLK_OP_READ, 8192, &v, 1, 8192);
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[1], 0);
	cr_assert_eq(((unsigned char *)buf)[8191], 0x5a);
	free(buf);
}

Test(block, file_shrinking_underneath_gives_eio_and_counts_it)
{
	char buf[8192];
	struct iovec v = { buf, sizeof(buf) };
	struct blk_req req;

	cr_assert_eq(truncate(path, SIZE - 4096), 0);
	req_init(&req, 0, BLK_OP_READ, SIZE - 8192, &v, 1, sizeof(buf));
	cr_assert_eq(blk_submit(&node, &ctx, &req), 0);
	run_all();
	cr_assert_eq(results[0], -EIO, "a short read, then nothing: EIO");
	cr_assert_eq(node.errors, 1);
}

Test(block, open_errors)
{
	struct blk_node n;

	cr_assert_eq(open_raw(&n, "/nonexistent/disk.img", false, false),
		     -ENOENT);
	cr_assert_eq(open_raw(&n, "/tmp", false, false), -EISDIR);
	/* opens, but is not a disk */
	cr_assert_eq(open_raw(&n, "/tmp", true, false), -EINVAL);
	cr_assert_eq(open_raw(&n, "/dev/null", true, false), -EINVAL);
}
