/* Concurrent overlapping writes through the qcow2 and QED drivers: three
 * threads, each with its own blk_ctx (as three virtio queues have), write
 * random ranges of 512 B to 16 KiB into a small hot area of an overlay
 * over a raw backing file, so that writes overlap, abut and allocate the
 * same 4 KiB clusters at once. Every sector a write carries names the
 * write and the sector, so that what reads back can be checked sector by
 * sector: it must be whole, and come from a write that no later write
 * (one started after it completed) covered; a sector no write touched
 * still holds the backing file's bytes. Then qemu-img check finds no
 * error and no leak, and qemu-img reads the same bytes. */
#include <criterion/criterion.h>

#include "block/block.h"
#include "tests/unit/blk_test.h"

#define SIZE (8u << 20)
#define SECTORS (SIZE / 512)
#define HOT_SECTORS (1024u) /* the first 512 KiB: 128 clusters */
#define THREADS 3
#define WRITES 1500 /* per thread */
#define MAX_SECTORS 32
#define QD 8

static char dir[] = "/tmp/vmm-overlap-XXXXXX";
static char img[80], base[80], raw[80];
static uint8_t *backing;
static struct blk_node node;
static unsigned long clock_now; /* atomic: orders submits and completions */

struct write {
	uint32_t sector, count;
	unsigned long start, end; /* clock at submit and at completion */
};

struct writer {
	unsigned id;
	unsigned seed;
	struct write w[WRITES];
	uint8_t (*buf)[MAX_SECTORS * 512];
	struct blk_req req[QD];
	struct iovec iov[QD];
	int slot_write[QD]; /* the write in flight in a slot, or -1 */
	unsigned next;	    /* the next write to start */
	int errors;
};

static struct writer writers[THREADS];

/* The 512 bytes write (id, n) puts in sector s: a header naming all
 * three, then bytes derived from them, so a torn or misplaced sector
 * does not match. */
static void fill_sector(uint8_t *p, unsigned id, unsigned n, uint32_t s)
{
	uint32_t hdr[4] = { 0x0f1a9c00u, id, n, s };
	uint32_t x = id * 2654435761u ^ n * 40503u ^ s;

	memcpy(p, hdr, sizeof(hdr));
	for (unsigned i = sizeof(hdr); i < 512; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static void setup_format(const char *fmt)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/top.%s", dir, fmt);
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(raw, sizeof(raw), "%s/out.raw", dir);
	sh("head -c %u /dev/urandom > %s", SIZE, base);
	sh("qemu-img create -q -f %s -o cluster_size=4k -b base.raw -F raw %s",
	   fmt, img);
	backing = malloc(SIZE);
	read_file(base, backing, SIZE, 0);
}

static void setup_qcow2(void)
{
	setup_format("qcow2");
}

static void setup_qed(void)
{
	setup_format("qed");
}

static void teardown(void)
{
	free(backing);
	sh("rm -rf %s", dir);
}

static void done(struct blk_req *req, int result)
{
	struct writer *wr = req->opaque;
	unsigned slot = (unsigned)(req - wr->req);

	wr->w[wr->slot_write[slot]].end =
		__atomic_add_fetch(&clock_now, 1, __ATOMIC_SEQ_CST);
	wr->slot_write[slot] = -1;
	if (result)
		wr->errors++;
}

static void start(struct writer *wr, struct blk_ctx *ctx, unsigned slot,
		  unsigned n)
{
	struct write *w = &wr->w[n];

	for (uint32_t i = 0; i < w->count; i++)
		fill_sector(wr->buf[slot] + i * 512, wr->id, n, w->sector + i);
	wr->iov[slot] = (struct iovec){ wr->buf[slot], w->count * 512 };
	wr->req[slot] = (struct blk_req){
		.op = BLK_OP_WRITE,
		.offset = (uint64_t)w->sector * 512,
		.len = w->count * 512,
		.iov = &wr->iov[slot],
		.iovcnt = 1,
		.complete = done,
		.opaque = wr,
	};
	wr->slot_write[slot] = (int)n;
	w->start = __atomic_add_fetch(&clock_now, 1, __ATOMIC_SEQ_CST);
	cr_assert_eq(blk_submit(&node, ctx, &wr->req[slot]), 0);
}

/* Starts writes in the free slots: whether any is in flight or left
 * (blk_test_pump). */
static bool fill(void *arg, struct blk_ctx *ctx)
{
	struct writer *wr = arg;
	unsigned busy = 0;

	for (unsigned i = 0; i < QD; i++) {
		if (wr->slot_write[i] < 0 && wr->next < WRITES)
			start(wr, ctx, i, wr->next++);
		busy += wr->slot_write[i] >= 0;
	}
	return busy || wr->next < WRITES;
}

static void *writer_thread(void *arg)
{
	struct writer *wr = arg;

	wr->next = 0;
	for (unsigned i = 0; i < QD; i++)
		wr->slot_write[i] = -1;
	blk_test_pump(fill, wr);
	return NULL;
}

/* Random writes, mostly in the hot area, some straddling its end. */
static void plan(struct writer *wr, unsigned id)
{
	unsigned seed = 1000u + id;

	wr->id = id;
	for (unsigned n = 0; n < WRITES; n++) {
		struct write *w = &wr->w[n];

		w->count = 1 + (unsigned)rand_r(&seed) % MAX_SECTORS;
		w->sector = (uint32_t)rand_r(&seed) % (HOT_SECTORS + 64);
	}
	wr->buf = malloc(QD * sizeof(*wr->buf));
}

/* Whether sector s of got can hold what write (id, n) put there: the
 * write covers s, and no write covering s started after it completed. */
static bool allowed(unsigned id, unsigned n, uint32_t s)
{
	const struct write *w = &writers[id].w[n];

	if (s < w->sector || s >= w->sector + w->count)
		return false;
	for (unsigned t = 0; t < THREADS; t++)
		for (unsigned k = 0; k < WRITES; k++) {
			const struct write *o = &writers[t].w[k];

			if (s >= o->sector && s < o->sector + o->count &&
			    o->start > w->end)
				return false;
		}
	return true;
}

static void check_sectors(const uint8_t *got)
{
	uint8_t want[512];
	unsigned overwritten = 0;

	for (uint32_t s = 0; s < SECTORS; s++) {
		const uint8_t *p = got + (size_t)s * 512;
		uint32_t hdr[4];
		bool written = false;

		for (unsigned t = 0; t < THREADS && !written; t++)
			for (unsigned k = 0; k < WRITES && !written; k++) {
				const struct write *w = &writers[t].w[k];

				written = s >= w->sector &&
					  s < w->sector + w->count;
			}
		if (!written) {
			cr_assert_eq(memcmp(p, backing + (size_t)s * 512, 512),
				     0, "sector %u: not the backing file's", s);
			continue;
		}
		memcpy(hdr, p, sizeof(hdr));
		cr_assert_eq(hdr[0], 0x0f1a9c00u, "sector %u: no write's", s);
		cr_assert(hdr[1] < THREADS && hdr[2] < WRITES && hdr[3] == s,
			  "sector %u: names writer %u write %u sector %u", s,
			  hdr[1], hdr[2], hdr[3]);
		fill_sector(want, hdr[1], hdr[2], s);
		cr_assert_eq(memcmp(p, want, 512), 0, "sector %u: torn", s);
		cr_assert(allowed(hdr[1], hdr[2], s),
			  "sector %u: write %u/%u, overwritten by a later one",
			  s, hdr[1], hdr[2]);
		overwritten++;
	}
	cr_assert_geq(overwritten, HOT_SECTORS, "too few sectors written");
}

/* How many pairs of writes from different threads overlapped in both
 * space and time: the test means nothing without them. */
static unsigned concurrent_overlaps(void)
{
	unsigned pairs = 0;

	for (unsigned k = 0; k < WRITES; k++) {
		const struct write *a = &writers[0].w[k];

		for (unsigned j = 0; j < WRITES; j++) {
			const struct write *b = &writers[1].w[j];

			if (a->sector < b->sector + b->count &&
			    b->sector < a->sector + a->count &&
			    a->start < b->end && b->start < a->end)
				pairs++;
		}
	}
	return pairs;
}

static void run(const char *fmt)
{
	pthread_t th[THREADS];
	uint8_t *got = malloc(SIZE), *qemu = malloc(SIZE);
	char why[192];

	cr_assert_eq(
		blk_test_open(&node, img, fmt, false, NULL, why, sizeof(why)),
		0, "%s", why);
	for (unsigned t = 0; t < THREADS; t++)
		plan(&writers[t], t);
	for (unsigned t = 0; t < THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, writer_thread,
					    &writers[t]),
			     0);
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (unsigned t = 0; t < THREADS; t++)
		cr_assert_eq(writers[t].errors, 0, "writer %u: errors", t);
	cr_assert_geq(concurrent_overlaps(), 100,
		      "writes of two threads rarely overlapped in flight");
	blk_test_read_all(&node, got, SIZE);
	check_sectors(got);
	blk_close(&node);
	sh("qemu-img check -q %s", img);
	sh("qemu-img convert -O raw %s %s", img, raw);
	read_file(raw, qemu, SIZE, 0);
	cr_assert_eq(memcmp(qemu, got, SIZE), 0, "qemu-img reads other data");
	for (unsigned t = 0; t < THREADS; t++)
		free(writers[t].buf);
	free(got);
	free(qemu);
}

Test(format_overlap, qcow2, .init = setup_qcow2, .fini = teardown)
{
	run("qcow2");
}

Test(format_overlap, qed, .init = setup_qed, .fini = teardown)
{
	run("qed");
}
