/* The hand-over of an image between two opens, as a live migration on
 * shared storage does it (block/block.h blk_inactivate, blk_activate,
 * blk_reopen), for qcow2 (with and without lazy refcounts, and as an
 * overlay over a raw backing file) and QED, with qemu-img as the oracle:
 * - the source's hand-over leaves a complete, clean image (qemu-img
 *   check: no error, no leak; no dirty or need-check bit), refuses
 *   requests after it, and its close then writes nothing (the file's
 *   bytes, size and mtime unchanged);
 * - a destination that opened the image read-only and inactive before
 *   the source's last writes sees, after blk_reopen, the clusters (and
 *   L2 tables) the source allocated meanwhile, writes on, and the
 *   source's close after that changes nothing;
 * - a source that takes its image back (blk_activate: a snapshot, a
 *   failed migration) writes nothing doing so, then allocates on without
 *   leaking what it gave back.
 * Everything on the test's thread; no shared state between tests. */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "block/block.h"
#include "tests/unit/blk_test.h"

#define SIZE (8u << 20)

struct kind {
	const char *fmt;
	const char *create; /* qemu-img create options */
	bool backing;
	uint64_t dirty_at; /* header offset of the feature word, its bit */
	uint64_t dirty_bit;
	bool big_endian;
};

static const struct kind qcow2 = { "qcow2", "-o cluster_size=4k", false, 72, 1,
				   true };
static const struct kind qcow2_lazy = {
	"qcow2", "-o cluster_size=4k,lazy_refcounts=on", false, 72, 1, true
};
static const struct kind qcow2_overlay = { "qcow2", "-o cluster_size=4k",
					   true,    72,
					   1,	    true };
static const struct kind qed = { "qed", "-o cluster_size=64k", false, 16, 2,
				 false };

static char dir[] = "/tmp/vmm-handover-XXXXXX";
static char img[64], base[64], raw[64];
static uint8_t *shadow;

static void make(const struct kind *k)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.%s", dir, k->fmt);
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(raw, sizeof(raw), "%s/out.raw", dir);
	shadow = calloc(1, SIZE);
	cr_assert_not_null(shadow);
	if (k->backing) {
		sh("head -c %u /dev/urandom > %s", SIZE, base);
		read_file(base, shadow, SIZE, 0);
		sh("qemu-img create -q -f %s %s -b base.raw -F raw %s", k->fmt,
		   k->create, img);
	} else {
		sh("qemu-img create -q -f %s %s %s %u", k->fmt, k->create, img,
		   SIZE);
	}
}

static void cleanup(void)
{
	free(shadow);
	sh("rm -rf %s", dir);
}

static void open_as(struct blk_node *n, const struct kind *k, bool ro)
{
	char why[192];

	cr_assert_eq(blk_test_open(n, img, k->fmt, ro, NULL, why, sizeof(why)),
		     0, "%s", why);
}

static void put(struct blk_node *n, struct blk_ctx *ctx, uint64_t off,
		uint8_t v, uint64_t len)
{
	static uint8_t buf[65536] __attribute__((aligned(4096)));

	cr_assert_leq(len, sizeof(buf));
	memset(buf, v, len);
	memset(shadow + off, v, len);
	cr_assert_eq(blk_test_req(n, ctx, BLK_OP_WRITE, off, buf, len, NULL),
		     0);
}

static void flush(struct blk_node *n, struct blk_ctx *ctx)
{
	cr_assert_eq(blk_test_req(n, ctx, BLK_OP_FLUSH, 0, NULL, 0, NULL), 0);
}

/* Writes scattered over the disk: new L2 tables, new clusters (qcow2
 * reserves a batch and grows the file ahead), rewrites in place. */
static void write_some(struct blk_node *n, struct blk_ctx *ctx, uint8_t v)
{
	put(n, ctx, 0, v, 4096);
	put(n, ctx, 1u << 20, v + 1, 65536);
	put(n, ctx, (5u << 20) + 512, v + 2, 1024);
	put(n, ctx, SIZE - 4096, v + 3, 4096);
	put(n, ctx, 0, v + 4, 512);
}

static bool header_dirty(const struct kind *k)
{
	uint8_t b[8];
	uint64_t w = 0;

	if (!k->dirty_bit)
		return false;
	read_file(img, b, 8, k->dirty_at);
	for (unsigned i = 0; i < 8; i++)
		w |= (uint64_t)b[i] << (8 * (k->big_endian ? 7 - i : i));
	return w & k->dirty_bit;
}

struct file_image {
	uint8_t *bytes;
	struct stat st;
};

static void take_image(struct file_image *f)
{
	cr_assert_eq(stat(img, &f->st), 0);
	f->bytes = malloc((size_t)f->st.st_size + 1);
	cr_assert_not_null(f->bytes);
	read_file(img, f->bytes, (size_t)f->st.st_size, 0);
}

static void assert_same_image(const struct file_image *before, const char *what)
{
	struct file_image now;

	take_image(&now);
	cr_assert_eq(now.st.st_size, before->st.st_size,
		     "%s: the size went from %lld to %lld bytes", what,
		     (long long)before->st.st_size, (long long)now.st.st_size);
	cr_assert_eq(memcmp(now.bytes, before->bytes, (size_t)now.st.st_size),
		     0, "%s: the file's bytes changed", what);
	cr_assert(now.st.st_mtim.tv_sec == before->st.st_mtim.tv_sec &&
			  now.st.st_mtim.tv_nsec == before->st.st_mtim.tv_nsec,
		  "%s: the file was written (mtime)", what);
	free(now.bytes);
}

static void assert_clean(const struct kind *k, const char *what)
{
	cr_assert_not(header_dirty(k), "%s: the %s header is dirty", what,
		      k->fmt);
	blk_test_qemu_agrees(img, k->fmt, raw, shadow, SIZE);
}

/* The source hands over; its close afterwards writes nothing. */
static void source_close_writes_nothing(const struct kind *k)
{
	struct blk_node src;
	struct blk_ctx ctx;
	struct file_image before;
	uint8_t buf[4096];

	make(k);
	open_as(&src, k, false);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	write_some(&src, &ctx, 0x40);
	flush(&src, &ctx);
	cr_assert_eq(blk_inactivate(&src), 0);
	/* What the destination finds, the source still open. */
	assert_clean(k, "after the hand-over");
	take_image(&before);
	cr_assert_eq(blk_test_try(&src, &ctx, BLK_OP_WRITE, 0, buf, 4096), -EIO,
		     "an inactive node took a write");
	cr_assert_eq(blk_test_try(&src, &ctx, BLK_OP_READ, 0, buf, 4096), -EIO,
		     "an inactive node took a read");
	usleep(20000); /* a write now would show in the mtime */
	blk_ctx_destroy(&ctx);
	blk_close(&src);
	assert_same_image(&before, "the source's close");
	free(before.bytes);
	cleanup();
}

/* The destination opened read-only and inactive before the source's last
 * writes; after the reopen it sees them, and writes on. */
static void destination_sees_the_sources_clusters(const struct kind *k)
{
	struct blk_node src, dst;
	struct blk_ctx sctx, dctx;
	struct blk_opts o = { 0 };
	struct file_image before;
	static uint8_t got[SIZE];

	make(k);
	open_as(&src, k, false);
	cr_assert_eq(blk_ctx_init(&sctx, 64), 0);
	put(&src, &sctx, 0, 0x11, 4096);
	flush(&src, &sctx);
	/* The destination at start-up: read-only, inactive, attached to its
	 * queue's ring. */
	open_as(&dst, k, true);
	blk_mark_inactive(&dst);
	cr_assert_eq(blk_ctx_init(&dctx, 64), 0);
	cr_assert_eq(blk_ctx_attach(&dctx, &dst), 0);
	/* The source goes on: new L2 tables and clusters the destination's
	 * tables know nothing of. */
	write_some(&src, &sctx, 0x20);
	flush(&src, &sctx);
	cr_assert_eq(blk_inactivate(&src), 0);
	/* Takeover. */
	blk_opts_add(&o, "path", img);
	blk_opts_add(&o, "format", k->fmt);
	cr_assert_eq(blk_ctx_detach(&dctx), 0);
	cr_assert_eq(blk_reopen(&dst, &o), 0, "%s", o.why);
	cr_assert_not(dst.inactive);
	cr_assert_not(dst.readonly);
	cr_assert_eq(blk_ctx_attach(&dctx, &dst), 0);
	cr_assert_eq(blk_test_req(&dst, &dctx, BLK_OP_READ, 0, got, SIZE, NULL),
		     0);
	cr_assert_eq(memcmp(got, shadow, SIZE), 0,
		     "the destination reads other data than the source wrote");
	put(&dst, &dctx, 3u << 20, 0x5a, 65536);
	put(&dst, &dctx, (1u << 20) + 4096, 0x5b, 4096);
	flush(&dst, &dctx);
	/* The source ends: nothing of it reaches the file. */
	take_image(&before);
	usleep(20000);
	blk_ctx_destroy(&sctx);
	blk_close(&src);
	assert_same_image(&before, "the source's close after the takeover");
	free(before.bytes);
	blk_ctx_destroy(&dctx);
	blk_close(&dst);
	assert_clean(k, "after the destination's close");
	cleanup();
}

/* A snapshot, or a migration that failed: the source takes its image
 * back and allocates on; nothing leaks. */
static void source_takes_it_back(const struct kind *k)
{
	struct blk_node src;
	struct blk_ctx ctx;
	struct file_image before;
	static uint8_t got[SIZE];

	make(k);
	open_as(&src, k, false);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	write_some(&src, &ctx, 0x60);
	flush(&src, &ctx);
	cr_assert_eq(blk_inactivate(&src), 0);
	assert_clean(k, "after the hand-over");
	take_image(&before);
	usleep(20000);
	blk_activate(&src);
	cr_assert_not(src.inactive);
	/* Taking it back writes nothing: a copy made now is as clean. */
	assert_same_image(&before, "taking the image back");
	free(before.bytes);
	put(&src, &ctx, 2u << 20, 0x70, 65536);
	put(&src, &ctx, (6u << 20) + 4096, 0x71, 4096);
	put(&src, &ctx, 0, 0x72, 4096);
	cr_assert_eq(blk_test_req(&src, &ctx, BLK_OP_READ, 0, got, SIZE, NULL),
		     0);
	cr_assert_eq(memcmp(got, shadow, SIZE), 0);
	blk_ctx_destroy(&ctx);
	blk_close(&src);
	assert_clean(k, "after the close");
	cleanup();
}

Test(handover, qcow2_source_close_writes_nothing)
{
	source_close_writes_nothing(&qcow2);
}

Test(handover, qcow2_lazy_source_close_writes_nothing)
{
	source_close_writes_nothing(&qcow2_lazy);
}

Test(handover, qcow2_overlay_source_close_writes_nothing)
{
	source_close_writes_nothing(&qcow2_overlay);
}

Test(handover, qed_source_close_writes_nothing)
{
	source_close_writes_nothing(&qed);
}

Test(handover, qcow2_destination_sees_the_sources_clusters)
{
	destination_sees_the_sources_clusters(&qcow2);
}

Test(handover, qcow2_lazy_destination_sees_the_sources_clusters)
{
	destination_sees_the_sources_clusters(&qcow2_lazy);
}

Test(handover, qcow2_overlay_destination_sees_the_sources_clusters)
{
	destination_sees_the_sources_clusters(&qcow2_overlay);
}

Test(handover, qed_destination_sees_the_sources_clusters)
{
	destination_sees_the_sources_clusters(&qed);
}

Test(handover, qcow2_source_takes_it_back)
{
	source_takes_it_back(&qcow2);
}

Test(handover, qcow2_lazy_source_takes_it_back)
{
	source_takes_it_back(&qcow2_lazy);
}

Test(handover, qed_source_takes_it_back)
{
	source_takes_it_back(&qed);
}

Test(handover, raw_source_close_writes_nothing)
{
	static const struct kind r = { "raw", "", false, 0, 0, false };
	struct blk_node src;
	struct blk_ctx ctx;
	struct file_image before;

	make(&r);
	open_as(&src, &r, false);
	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	write_some(&src, &ctx, 0x30);
	flush(&src, &ctx);
	cr_assert_eq(blk_inactivate(&src), 0);
	take_image(&before);
	usleep(20000);
	blk_ctx_destroy(&ctx);
	blk_close(&src);
	assert_same_image(&before, "the source's close");
	free(before.bytes);
	cleanup();
}
