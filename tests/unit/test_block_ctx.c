/* blk_ctx: the restricted ring (opcodes, flags, register operations), the
 * registered files of attached nodes, per-request driver state; every
 * request kind on a temp file and on a loop block device. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "block/driver.h"

#define SIZE (1 << 20)

static char path[64];
static struct blk_node node;
static struct blk_ctx ctx;
static int results[8];

static void open_path(struct blk_node *n, const char *p)
{
	struct blk_opts o = { 0 };

	blk_opts_add(&o, "path", p);
	cr_assert_eq(blk_open(n, &o), 0, "%s", o.why);
}

static void setup(void)
{
	int fd;

	strcpy(path, "/var/tmp/vmm-test-ctx-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, SIZE), 0);
	close(fd);
	open_path(&node, path);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0);
}

static void teardown(void)
{
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	unlink(path);
}

TestSuite(block_ctx, .init = setup, .fini = teardown);

static void done(struct blk_req *r, int result)
{
	results[(intptr_t)r->opaque] = result;
}

static void submit(struct blk_node *n, struct blk_req *r, int id)
{
	r->complete = done;
	r->opaque = (void *)(intptr_t)id;
	results[id] = 1;
	cr_assert_eq(blk_submit(n, &ctx, r), 0);
}

static void run_all(void)
{
	while (ctx.inflight)
		blk_ctx_reap(&ctx, true);
}

/* One raw SQE on the ctx's ring, bypassing the block layer. */
static int raw_sqe(uint8_t op, int fd, uint8_t flags, void *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx.ring);
	struct io_uring_cqe *cqe;
	int res;

	cr_assert_not_null(sqe);
	/* readv: buf is one iovec; read: 512 bytes */
	io_uring_prep_rw(op, sqe, fd, buf, op == IORING_OP_READV ? 1 : 512, 0);
	sqe->flags = flags;
	cr_assert_eq(io_uring_submit(&ctx.ring), 1);
	cr_assert_eq(io_uring_wait_cqe(&ctx.ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(&ctx.ring, cqe);
	return res;
}

Test(block_ctx, ring_refuses_what_drivers_do_not_use)
{
	static char buf[512];
	struct iovec v = { buf, sizeof(buf) };
	int fd = open(path, O_RDONLY), idx;

	cr_assert_eq(blk_ctx_attach(&ctx, &node), 0);
	idx = blk_ctx_file(&ctx, node.file);
	cr_assert_eq(idx, 0);
	/* The same fixed file and flags: readv is allowed, the rest not. */
	cr_assert_eq(raw_sqe(IORING_OP_READV, idx, IOSQE_FIXED_FILE, &v), 512);
	cr_assert_eq(raw_sqe(IORING_OP_READ, idx, IOSQE_FIXED_FILE, buf),
		     -EACCES);
	cr_assert_eq(raw_sqe(IORING_OP_OPENAT, idx, IOSQE_FIXED_FILE, buf),
		     -EACCES);
	cr_assert_eq(raw_sqe(IORING_OP_NOP, idx, IOSQE_FIXED_FILE, NULL),
		     -EACCES);
	/* A plain fd, and a flag no driver uses, are refused too. */
	cr_assert_eq(raw_sqe(IORING_OP_READV, fd, 0, &v), -EACCES);
	cr_assert_eq(raw_sqe(IORING_OP_READV, idx,
			     IOSQE_FIXED_FILE | IOSQE_ASYNC, &v),
		     -EACCES);
	cr_assert_eq(raw_sqe(IORING_OP_READV, idx,
			     IOSQE_FIXED_FILE | IOSQE_IO_DRAIN, &v),
		     512, "flush's drain is allowed");
	close(fd);
}

Test(block_ctx, register_ops_limited_to_eventfd_and_file_updates)
{
	static char buf[4096];
	struct iovec v = { buf, sizeof(buf) };
	int efd = eventfd(0, EFD_CLOEXEC), fd = open(path, O_RDONLY);

	cr_assert_eq(io_uring_register_buffers(&ctx.ring, &v, 1), -EACCES);
	cr_assert_eq(io_uring_register_files(&ctx.ring, &fd, 1), -EACCES);
	cr_assert_eq(io_uring_register_eventfd(&ctx.ring, efd), 0,
		     "blk.c adds its completion eventfd after blk_ctx_init");
	cr_assert_eq(io_uring_register_files_update(&ctx.ring, 5, &fd, 1), 1);
	close(efd);
	close(fd);
}

Test(block_ctx, attach_registers_the_stack_once)
{
	struct blk_node other;
	struct blk_ctx ctx2;
	char buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct blk_req r = {
		.op = BLK_OP_READ, .len = 512, .iov = &v, .iovcnt = 1
	};

	cr_assert_eq(ctx.nnodes, 0);
	submit(&node, &r, 0); /* attaches lazily */
	run_all();
	cr_assert_eq(results[0], 0);
	cr_assert_eq(ctx.nnodes, 2, "file, then raw");
	cr_assert_eq(ctx.nodes[0].node, node.file);
	cr_assert(ctx.nodes[0].has_file);
	cr_assert_eq(ctx.nodes[1].node, &node);
	cr_assert(!ctx.nodes[1].has_file);
	cr_assert_eq(blk_ctx_file(&ctx, &node), -ENOENT);
	cr_assert_eq(blk_ctx_attach(&ctx, &node), 0);
	cr_assert_eq(ctx.nnodes, 2);

	/* A node on two contexts has a file index on each. */
	open_path(&other, path);
	cr_assert_eq(blk_ctx_init(&ctx2, 8), 0);
	cr_assert_eq(blk_ctx_attach(&ctx, &other), 0);
	cr_assert_eq(blk_ctx_file(&ctx, other.file), 2);
	cr_assert_eq(blk_ctx_attach(&ctx2, &other), 0);
	cr_assert_eq(blk_ctx_file(&ctx2, other.file), 0);
	blk_ctx_destroy(&ctx2);
	blk_close(&other);
}

Test(block_ctx, attach_stops_at_the_table_size)
{
	struct blk_node n[BLK_CTX_NODES / 2 + 1];
	char buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct blk_req r = { .op = BLK_OP_READ,
			     .len = 512,
			     .iov = &v,
			     .iovcnt = 1,
			     .complete = done };
	unsigned last = BLK_CTX_NODES / 2;

	for (unsigned i = 0; i <= last; i++)
		open_path(&n[i], path);
	for (unsigned i = 0; i < last; i++)
		cr_assert_eq(blk_ctx_attach(&ctx, &n[i]), 0, "stack %u", i);
	cr_assert_eq(ctx.nnodes, BLK_CTX_NODES);
	cr_assert_eq(blk_ctx_attach(&ctx, &n[last]), -ENOSPC);
	results[0] = 1;
	cr_assert_eq(blk_submit(&n[last], &ctx, &r), -ENOSPC);
	cr_assert_eq(ctx.inflight, 0);
	cr_assert_eq(results[0], 1, "complete was not called");
	blk_ctx_destroy(&ctx);
	for (unsigned i = 0; i <= last; i++)
		blk_close(&n[i]);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0); /* for teardown */
}

Test(block_ctx, state_comes_from_the_pool_and_goes_back)
{
	char a[512], b[512];
	struct iovec va = { a, sizeof(a) }, vb = { b, sizeof(b) };
	struct blk_req r1 = {
		.op = BLK_OP_READ, .len = 512, .iov = &va, .iovcnt = 1
	};
	struct blk_req r2 = {
		.op = BLK_OP_READ, .len = 512, .iov = &vb, .iovcnt = 1
	};
	void *first, *second;

	submit(&node, &r1, 0);
	cr_assert_geq(ctx.state_size, node.file->drv->req_state_size);
	cr_assert_gt(ctx.state_size, 0);
	cr_assert_not_null(r1.state);
	submit(&node, &r2, 1);
	cr_assert_neq(r2.state, r1.state, "requests in flight share no state");
	first = r1.state;
	second = r2.state;
	run_all();
	cr_assert_null(r1.state);
	cr_assert_null(r2.state);
	submit(&node, &r1, 2);
	cr_assert(r1.state == first || r1.state == second,
		  "reused from the pool");
	run_all();
	cr_assert_eq(results[0] | results[1] | results[2], 0);
}

/* A test format in the manner qcow2 will be: a large per-request state
 * holding a child request submitted on its file node. */
struct child_fmt_req {
	struct blk_req child;
	struct blk_req *parent;
	char scratch[200];
};

static struct blk_ctx *child_ctx;

static void child_done(struct blk_req *child, int result)
{
	struct child_fmt_req *st = child->opaque;

	cr_assert_str_eq(st->scratch, "parent state survives the child");
	blk_req_done(child_ctx, st->parent, result);
}

static int child_fmt_submit(struct blk_node *n, struct blk_ctx *c,
			    struct blk_req *req)
{
	struct child_fmt_req *st = req->state;

	st->child = *req;
	st->child.complete = child_done;
	st->child.opaque = st;
	st->parent = req;
	strcpy(st->scratch, "parent state survives the child");
	child_ctx = c;
	return blk_submit(n->file, c, &st->child);
}

static const struct blk_driver child_fmt = {
	.name = "child-test",
	.kind = BLK_DRV_FORMAT,
	.req_state_size = sizeof(struct child_fmt_req),
	.submit = child_fmt_submit,
};

Test(block_ctx, a_format_with_child_requests_gets_state_sized_for_it)
{
	char out[512], in[512];
	struct iovec ov = { out, sizeof(out) }, iv = { in, sizeof(in) };
	struct blk_node top = { .drv = &child_fmt,
				.fd = -1,
				.size = SIZE,
				.block_size = 512,
				.file = node.file };
	struct blk_req w = { .op = BLK_OP_WRITE,
			     .offset = 4096,
			     .len = 512,
			     .iov = &ov,
			     .iovcnt = 1 };
	struct blk_req r = { .op = BLK_OP_READ,
			     .offset = 4096,
			     .len = 512,
			     .iov = &iv,
			     .iovcnt = 1 };

	memset(out, 0x3c, sizeof(out));
	submit(&top, &w, 0);
	cr_assert_geq(ctx.state_size, sizeof(struct child_fmt_req));
	cr_assert_eq(ctx.inflight, 2, "the request and its child");
	run_all();
	submit(&top, &r, 1);
	run_all();
	cr_assert_eq(results[0], 0);
	cr_assert_eq(results[1], 0);
	cr_assert_eq(memcmp(in, out, sizeof(out)), 0);
	cr_assert_eq(ctx.inflight, 0);
}

static void every_kind_of_request(struct blk_node *n, uint64_t off)
{
	char ones[8192], back[8192], zero[8192] = { 0 };
	struct iovec v = { ones, sizeof(ones) }, bv = { back, sizeof(back) };
	struct blk_req r, f;
	enum blk_op clear[2] = { BLK_OP_DISCARD, BLK_OP_WRITE_ZEROES };

	for (int i = 0; i < 2; i++) {
		memset(ones, 0xff, sizeof(ones));
		v = (struct iovec){ ones, sizeof(ones) };
		r = (struct blk_req){ .op = BLK_OP_WRITE,
				      .offset = off,
				      .len = sizeof(ones),
				      .iov = &v,
				      .iovcnt = 1 };
		submit(n, &r, 0);
		f = (struct blk_req){ .op = BLK_OP_FLUSH };
		submit(n, &f, 1);
		run_all();
		bv = (struct iovec){ back, sizeof(back) };
		r = (struct blk_req){ .op = BLK_OP_READ,
				      .offset = off,
				      .len = sizeof(back),
				      .iov = &bv,
				      .iovcnt = 1 };
		submit(n, &r, 2);
		run_all();
		cr_assert_eq(memcmp(back, ones, sizeof(back)), 0);
		r = (struct blk_req){ .op = clear[i],
				      .offset = off,
				      .len = 8192 };
		submit(n, &r, 3);
		run_all();
		bv = (struct iovec){ back, sizeof(back) };
		r = (struct blk_req){ .op = BLK_OP_READ,
				      .offset = off,
				      .len = sizeof(back),
				      .iov = &bv,
				      .iovcnt = 1 };
		submit(n, &r, 4);
		run_all();
		for (int j = 0; j <= 4; j++)
			cr_assert_eq(results[j], 0, "op %d of round %d: %d", j,
				     i, results[j]);
		cr_assert_eq(memcmp(back, zero, sizeof(back)), 0, "round %d",
			     i);
	}
	cr_assert_eq(n->errors, 0);
}

Test(block_ctx, every_request_on_fixed_files_of_a_regular_file)
{
	/* The ring takes fixed files only, so success is the fixed path. */
	every_kind_of_request(&node, 65536);
}

static int sh(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	int st;

	if (!p)
		return -1;
	if (!fgets(out, (int)n, p))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	st = pclose(p);
	return st;
}

Test(block_ctx, every_request_on_fixed_files_of_a_block_device)
{
	char cmd[160], dev[64], out[64];
	struct blk_node bdev;

	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", path);
	if (sh(cmd, dev, sizeof(dev)) || strncmp(dev, "/dev/loop", 9))
		cr_skip_test("no loop device here (needs root and losetup)");
	open_path(&bdev, dev);
	/* Detached at once: the kernel frees the device at its last close,
	 * even if an assertion below ends the test. */
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	cr_assert_eq(sh(cmd, out, sizeof(out)), 0);
	cr_assert_eq(bdev.size, SIZE);
	cr_assert_geq(bdev.block_size, 512);
	every_kind_of_request(&bdev, 131072);
	blk_ctx_destroy(&ctx);
	blk_close(&bdev);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0); /* for teardown */
}

static int reap_all(void)
{
	int n = 0;

	while (ctx.inflight)
		n += blk_ctx_reap(&ctx, true);
	return n;
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: the file driver's per-request state
 * remembers that the request moved on to punching a hole. */
Test(block_ctx, write_zeroes_falls_back_per_request_on_tmpfs)
{
	char shm[] = "/dev/shm/vmm-test-ctx-XXXXXX";
	int fd = mkstemp(shm);
	struct blk_node t;
	struct blk_req r;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, SIZE), 0);
	close(fd);
	open_path(&t, shm);
	unlink(shm);
	r = (struct blk_req){ .op = BLK_OP_WRITE_ZEROES,
			      .offset = 0,
			      .len = 4096 };
	submit(&t, &r, 0);
	cr_assert_eq(reap_all(), 2, "zero range refused, then a hole punched");
	cr_assert_eq(results[0], 0);
	r = (struct blk_req){ .op = BLK_OP_WRITE_ZEROES,
			      .offset = 0,
			      .len = 4096 };
	submit(&node, &r, 1);
	cr_assert_eq(reap_all(), 1, "ext4 zeroes a range at once");
	cr_assert_eq(results[1], 0);
	blk_ctx_destroy(&ctx);
	blk_close(&t);
	cr_assert_eq(blk_ctx_init(&ctx, 8), 0); /* for teardown */
}
