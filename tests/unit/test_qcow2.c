/* The qcow2 driver through the block layer, against qemu-img as the
 * oracle: two threads, each with its own blk_ctx, write interleaved
 * sectors (so that every cluster is allocated by both at once) into an
 * overlay over a raw backing file with an internal snapshot; then every
 * byte reads back as a shadow copy says, qemu-img check finds no error
 * and no leak, and qemu-img reads the same bytes. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <sys/resource.h>

#include "block/blkdebug.h"
#include "block/block.h"
#include "tests/unit/blk_test.h"

#define SIZE (4u << 20)
#define SECTORS (SIZE / 512)

static char dir[] = "/tmp/vmm-qcow2-XXXXXX";
static char img[64], base[64], raw[64];
static uint8_t *shadow;
static struct blk_node node;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/top.qcow2", dir);
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(raw, sizeof(raw), "%s/out.raw", dir);
	sh("head -c %u /dev/urandom > %s", SIZE, base);
	sh("qemu-img create -q -f qcow2 -o cluster_size=4k -b base.raw -F raw "
	   "%s",
	   img);
	sh("qemu-io -c 'write -P 0x71 0 1M' -c 'write -z 2M 64k' %s "
	   ">/dev/null",
	   img);
	sh("qemu-img snapshot -c snap %s", img);
	sh("qemu-img convert -O raw %s %s", img, raw);
	shadow = malloc(SIZE);
	read_file(raw, shadow, SIZE, 0);
}

static void teardown(void)
{
	free(shadow);
	sh("rm -rf %s", dir);
}

/* After close: qemu-img check clean (no error, no leak) and qemu-img
 * reads the shadow. */
static void assert_qemu_agrees(void)
{
	blk_test_qemu_agrees(img, "qcow2", raw, shadow, SIZE);
}

static void open_img(void)
{
	char why[192];

	cr_assert_eq(blk_test_open(&node, img, "qcow2", false, NULL, why,
				   sizeof(why)),
		     0, "%s", why);
}

Test(qcow2, two_contexts_allocate_the_same_clusters, .init = setup,
     .fini = teardown, .timeout = 120)
{
	struct blk_test_writer w[2] = { 0 };
	uint8_t *got = malloc(SIZE);

	blk_test_two_writers(w, &node, shadow, SECTORS, 7);
	open_img();
	blk_test_writers_run(w, 2);
	blk_test_read_all(&node, got, SIZE);
	for (unsigned s = 0; s < SECTORS; s++)
		cr_assert_eq(memcmp(got + s * 512, shadow + s * 512, 512), 0,
			     "sector %u differs", s);
	blk_close(&node);
	assert_qemu_agrees();
	/* The snapshot still holds what it held. */
	sh("qemu-img snapshot -a snap %s && qemu-img check -q %s", img, img);
	sh("qemu-io -c 'read -P 0x71 0 1M' %s | grep -q 'read 1048576'", img);
	blk_test_writers_free(w, 2);
	free(got);
}

Test(qcow2, refuses_a_backing_chain_that_loops, .init = setup, .fini = teardown)
{
	struct blk_opts o = { 0 };
	char a[80];

	snprintf(a, sizeof(a), "%s/a.qcow2", dir);
	sh("cd %s && qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 -u "
	   "a.qcow2 1M && qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 "
	   "-u b.qcow2 1M",
	   dir);
	blk_opts_add(&o, "path", a);
	blk_opts_add(&o, "format", "qcow2");
	cr_assert_eq(blk_open(&node, &o), -ELOOP);
	cr_assert(strstr(o.why, "backing chain loops back to"), "%s", o.why);
}

struct one {
	struct blk_req req;
	struct iovec iov;
	uint8_t buf[4096];
	int result; /* 1 while in flight */
};

static void start_write(struct blk_ctx *ctx, struct one *w, uint64_t off,
			uint8_t fill)
{
	memset(w->buf, fill, sizeof(w->buf));
	w->iov = (struct iovec){ w->buf, sizeof(w->buf) };
	w->req = (struct blk_req){ .op = BLK_OP_WRITE,
				   .offset = off,
				   .len = sizeof(w->buf),
				   .iov = &w->iov,
				   .iovcnt = 1,
				   .complete = blk_test_done,
				   .opaque = &w->result };
	w->result = 1;
	cr_assert_eq(blk_submit(&node, ctx, &w->req), 0);
}

/* Reaps until nothing more completes for a while. */
static void settle(struct blk_ctx *ctx)
{
	for (int i = 0; i < 200; i++) {
		blk_ctx_reap(ctx, false);
		usleep(1000);
	}
}

/* A breakpoint holds request A (an allocating write of one 4 KiB
 * cluster) just before it writes its new cluster: meanwhile C, in another
 * cluster under the same L2 table, completes, and B, over A's cluster,
 * waits for A; once A is let go, both finish and the cluster holds B's
 * bytes (B ran after A, in place). */
Test(qcow2, a_request_held_at_a_breakpoint_holds_only_its_cluster,
     .init = setup, .fini = teardown, .timeout = 120)
{
	struct blk_opts o = { 0 };
	struct blk_ctx ctx;
	static struct one a, b, c;
	uint8_t back[4096];

	blk_opts_add(&o, "path", img);
	blk_opts_add(&o, "format", "qcow2");
	blk_opts_add(&o, "inject", "cow_write:break:once");
	cr_assert_eq(blk_open(&node, &o), 0, "%s", o.why);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	/* 3 MiB is past what setup wrote: unallocated, backing data. */
	start_write(&ctx, &a, 3u << 20, 0xaa);
	settle(&ctx);
	cr_assert_eq(blkdebug_suspended(&node, "cow_write"), 1);
	cr_assert_eq(a.result, 1, "A finished at its breakpoint");
	start_write(&ctx, &c, (3u << 20) + (64u << 10), 0xcc);
	start_write(&ctx, &b, 3u << 20, 0xbb);
	settle(&ctx);
	cr_assert_eq(c.result, 0, "C waited for A: %d", c.result);
	cr_assert_eq(b.result, 1, "B did not wait for A's cluster");
	cr_assert_eq(blkdebug_resume(&node, "cow_write"), 0);
	settle(&ctx);
	cr_assert_eq(a.result, 0);
	cr_assert_eq(b.result, 0);
	cr_assert_eq(blkdebug_suspended(&node, "cow_write"), 0);
	cr_assert_eq(blk_test_req(&node, &ctx, BLK_OP_READ, 3u << 20, back,
				  sizeof(back), NULL),
		     0);
	for (int i = 0; i < 4096; i++)
		cr_assert(back[i] == 0xbb, "byte %d: %#x", i, back[i]);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	sh("qemu-img check -q %s", img);
}

/* One request on ctx: its result (blk_submit must take it). */
static int run_one(struct blk_ctx *ctx, enum blk_op op, uint64_t off, void *buf,
		   uint64_t len)
{
	return blk_test_req(&node, ctx, op, off, buf, len, NULL);
}

/* Discard frees whole clusters only: after writing 64 KiB (16 clusters)
 * and discarding all but its first 1 KiB, the first cluster keeps its
 * data and the other 15 read from the backing file again; qemu-img check
 * finds no leak (their references were dropped) and reads the same. */
Test(qcow2, discard_frees_whole_clusters, .init = setup, .fini = teardown)
{
	static uint8_t data[65536], back[65536];
	const uint64_t at = 3u << 20; /* over backing data, not written */
	struct blk_ctx ctx;

	open_img();
	cr_assert(node.can_discard);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	memset(data, 0x5d, sizeof(data));
	cr_assert_eq(run_one(&ctx, BLK_OP_WRITE, at, data, sizeof(data)), 0);
	cr_assert_eq(run_one(&ctx, BLK_OP_DISCARD, at + 1024, NULL,
			     sizeof(data) - 1024),
		     0);
	cr_assert_eq(run_one(&ctx, BLK_OP_READ, at, back, sizeof(back)), 0);
	memcpy(shadow + at, data, 4096);
	cr_assert_eq(memcmp(back, shadow + at, sizeof(back)), 0);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	assert_qemu_agrees();
}

/* Refcounts before the L1 and L2 entries that use them: in the order
 * of the steps (inject=trace), every l1_update and l2_update comes after
 * a flush that follows the last reservation before it. The writes
 * copy a snapshot's L2 table (l1_update), allocate clusters (their
 * refcounts written in one reservation), and the flush writes the L2
 * table back. */
Test(qcow2, table_writes_follow_a_flush_of_their_refcounts, .init = setup,
     .fini = teardown)
{
	static uint8_t data[4096];
	struct blk_opts o = { 0 };
	struct blk_ctx ctx;
	char trace[4096], all[4096], *save = NULL, *ev;
	bool refcount_pending = false;
	int tables = 0;

	blk_opts_add(&o, "path", img);
	blk_opts_add(&o, "format", "qcow2");
	blk_opts_add(&o, "inject", "trace");
	cr_assert_eq(blk_open(&node, &o), 0, "%s", o.why);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	memset(data, 0x3c, sizeof(data));
	cr_assert_eq(run_one(&ctx, BLK_OP_WRITE, 3u << 20, data, 4096), 0);
	cr_assert_eq(run_one(&ctx, BLK_OP_WRITE, (3u << 20) + 8192, data, 4096),
		     0);
	cr_assert_eq(run_one(&ctx, BLK_OP_FLUSH, 0, NULL, 0), 0);
	cr_assert_eq(blkdebug_trace(&node, trace, sizeof(trace)), 0);
	memcpy(all, trace, sizeof(all));
	for (ev = strtok_r(trace, " ", &save); ev;
	     ev = strtok_r(NULL, " ", &save)) {
		/* A reservation (cluster_alloc, then its refcount_update)
		 * raises refcounts that tables will use; a refcount_update
		 * alone drops one a table stopped using, and needs none. */
		if (!strcmp(ev, "cluster_alloc"))
			refcount_pending = true;
		else if (!strcmp(ev, "flush"))
			refcount_pending = false;
		else if (!strcmp(ev, "l1_update") || !strcmp(ev, "l2_update")) {
			cr_assert(!refcount_pending,
				  "%s before its refcounts' flush: %s", ev,
				  all);
			tables++;
		}
	}
	cr_assert_geq(tables, 2, "no table written: %s", all);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	sh("qemu-img check -q %s", img);
}

/* One read; returns the offset the request carried when it completed:
 * a read sent to the file directly carries the file offset it was
 * translated to, one served by a coroutine its own guest offset. */
static uint64_t read_at(struct blk_ctx *ctx, uint64_t off, void *buf,
			uint64_t len)
{
	uint64_t at;
	int result = blk_test_req(&node, ctx, BLK_OP_READ, off, buf, len, &at);

	cr_assert_eq(result, 0, "read %#lx+%#lx: %d", (unsigned long)off,
		     (unsigned long)len, result);
	cr_assert_eq(memcmp(buf, shadow + off, len), 0,
		     "read %#lx+%#lx: other data", (unsigned long)off,
		     (unsigned long)len);
	return at;
}

/* One write of len bytes of v; returns the offset the request carried
 * when it completed, as read_at. */
static uint64_t write_at(struct blk_ctx *ctx, uint64_t off, uint8_t v,
			 uint64_t len)
{
	static uint8_t buf[65536];
	uint64_t at;
	int result;

	cr_assert_leq(len, sizeof(buf));
	memset(buf, v, len);
	memset(shadow + off, v, len);
	result = blk_test_req(&node, ctx, BLK_OP_WRITE, off, buf, len, &at);
	cr_assert_eq(result, 0, "write %#lx+%#lx: %d", (unsigned long)off,
		     (unsigned long)len, result);
	return at;
}

/* The file offset qemu-img map gives for guest offset g. */
static uint64_t mapped(uint64_t g)
{
	char cmd[256], line[4096];
	unsigned long long start, length, offset;
	FILE *f;
	uint64_t found = 0;

	snprintf(cmd, sizeof(cmd), "qemu-img map --output=json %s", img);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *o = strstr(line, "\"offset\": ");

		if (sscanf(line, "%*[^0-9]%llu, \"length\": %llu", &start,
			   &length) == 2 &&
		    o && sscanf(o, "\"offset\": %llu", &offset) == 1 &&
		    g >= start && g < start + length)
			found = offset + (g - start);
	}
	pclose(f);
	cr_assert_neq(found, 0, "qemu-img map has no offset for %#lx",
		      (unsigned long)g);
	return found;
}

/* Reads of allocated clusters whose L2 table is cached go to the file
 * as themselves, offset translated (no coroutine); every other read
 * (the table not yet cached, a range reaching an unallocated or a zero
 * cluster) is served by a coroutine. Both read the right bytes. */
Test(qcow2, cached_allocated_reads_go_to_the_file_directly, .init = setup,
     .fini = teardown)
{
	static uint8_t buf[65536];
	const uint64_t at = 64u << 10, h = mapped(at);
	struct blk_ctx ctx;

	cr_assert_eq(mapped(at + sizeof(buf) - 1), h + sizeof(buf) - 1,
		     "qemu-io did not allocate the clusters in a row");
	open_img();
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	cr_assert_eq(read_at(&ctx, at, buf, 4096), at, "cold table: direct");
	cr_assert_eq(read_at(&ctx, at, buf, 4096), h);
	cr_assert_eq(read_at(&ctx, at + 512, buf, 1024), h + 512);
	cr_assert_eq(read_at(&ctx, at, buf, sizeof(buf)), h);
	/* The end of the written MiB and backing data after it. */
	cr_assert_eq(read_at(&ctx, (1u << 20) - 4096, buf, 8192),
		     (1u << 20) - 4096);
	/* The zero cluster. */
	cr_assert_eq(read_at(&ctx, 2u << 20, buf, 4096), 2u << 20);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
}

/* Writes into clusters the image owns alone go to the file in place,
 * offset translated; a write into a cluster shared with the snapshot
 * (copied first), into an unallocated cluster, or reaching one, is served
 * by a coroutine. Everything reads back, and qemu-img agrees. */
Test(qcow2, writes_in_place_go_to_the_file_directly, .init = setup,
     .fini = teardown)
{
	static uint8_t buf[65536];
	const uint64_t shared = 64u << 10, fresh = 3u << 20;
	struct blk_ctx ctx;
	uint64_t h;

	open_img();
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	/* Shared with the snapshot: copied, then owned. */
	cr_assert_eq(write_at(&ctx, shared, 0x11, 4096), shared);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	h = mapped(shared);
	open_img();
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	cr_assert_eq(read_at(&ctx, shared, buf, 4096), shared, "cold table");
	cr_assert_eq(write_at(&ctx, shared + 1024, 0x12, 2048), h + 1024);
	/* Unallocated (backing data): allocated by a coroutine, then
	 * written in place. */
	cr_assert_eq(write_at(&ctx, fresh, 0x13, 4096), fresh);
	cr_assert_neq(write_at(&ctx, fresh + 512, 0x14, 512), fresh + 512);
	/* Reaching from an owned cluster into an unallocated one. */
	cr_assert_eq(write_at(&ctx, fresh + 2048, 0x15, 4096), fresh + 2048);
	cr_assert_eq(read_at(&ctx, shared, buf, 4096), h);
	cr_assert_neq(read_at(&ctx, fresh, buf, 4096), fresh);
	cr_assert_eq(read_at(&ctx, fresh - 4096, buf, 4096), fresh - 4096,
		     "backing data: by a coroutine");
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	assert_qemu_agrees();
}

/* Where qemu-img check says the last cluster in use ends. */
static uint64_t image_end(void)
{
	char cmd[256];
	unsigned long long end = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "qemu-img check --output=json %s | sed -n "
		 "'s/.*\"image-end-offset\": \\([0-9]*\\).*/\\1/p'",
		 img);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%llu", &end), 1, "no image-end-offset");
	pclose(f);
	return end;
}

/* A write of a new cluster grows the file ahead of it to the next 16
 * MiB (so later writes do not extend it); close trims it back to the
 * clusters in use, and the image is clean. */
Test(qcow2, the_file_grows_ahead_of_new_clusters_and_close_trims_it,
     .init = setup, .fini = teardown)
{
	static uint8_t data[4096];
	const uint64_t before = file_size(img);
	struct blk_ctx ctx;

	cr_assert_lt(before, 16u << 20);
	open_img();
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	memset(data, 0x6e, sizeof(data));
	cr_assert_eq(run_one(&ctx, BLK_OP_WRITE, 3u << 20, data, 4096), 0);
	cr_assert_eq(file_size(img), 16u << 20, "not grown ahead: %lu bytes",
		     (unsigned long)file_size(img));
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	/* Nothing past the last cluster in use. */
	cr_assert_gt(file_size(img), before);
	cr_assert_eq(file_size(img), image_end(), "%lu bytes, image end %lu",
		     (unsigned long)file_size(img), (unsigned long)image_end());
	sh("qemu-img check -q %s", img);
	sh("qemu-io -c 'read -P 0x6e 3M 4k' %s | grep -q 'read 4096/4096'",
	   img);
}

/* A file that cannot grow ahead (here: past a file size limit) still
 * takes writes that fit, extending it one cluster at a time, and close
 * says why growing ahead stopped. */
Test(qcow2, a_file_that_cannot_grow_ahead_still_takes_writes, .init = setup,
     .fini = teardown)
{
	static uint8_t data[4096];
	/* Past the refcount block the reservation puts at 8 MiB, short of
	 * the 16 MiB the file would grow to. */
	struct rlimit lim = { 12u << 20, 12u << 20 };
	struct blk_ctx ctx;
	char line[512] = "";
	FILE *err;

	cr_redirect_stderr();
	signal(SIGXFSZ, SIG_IGN);
	open_img();
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	memset(data, 0x2b, sizeof(data));
	for (uint64_t off = 3u << 20; off < (3u << 20) + 64 * 4096; off += 4096)
		cr_assert_eq(run_one(&ctx, BLK_OP_WRITE, off, data, 4096), 0);
	cr_assert_lt(file_size(img), 12u << 20);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	fflush(stderr);
	err = cr_get_redirected_stderr();
	cr_assert(fgets(line, sizeof(line), err));
	cr_assert_str_eq(line, "vmm: qcow2 image: growing the file ahead of "
			       "its clusters failed (File too large); "
			       "allocating writes extended it instead\n");
	lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &lim);
	sh("qemu-img check -q %s", img);
	sh("qemu-io -c 'read -P 0x2b 3M 256k' %s | grep -q 'read 262144/'",
	   img);
}
