/* The QED driver through the block layer, against qemu-img as the
 * oracle: two threads, each with its own blk_ctx and eventfd, write
 * interleaved sectors (so that every cluster is allocated by both at
 * once) into images qemu-img created and qemu-io wrote, with and without
 * a raw backing file; then every sector reads back as a shadow copy
 * says, qemu-img check finds no error and no leak, and qemu-img reads
 * the same bytes. Also: write-zeroes (zero clusters over a backing
 * file), the need-check bit (set while writing, cleared at close), an
 * image left with it set and an L2 entry past the end of the file
 * (repaired on a read-write open as QEMU repairs it; read-only opens as
 * it is), clusters referenced twice (refused read-write), unknown
 * features, unknown autoclear bits, table_size 1 (which QEMU 7.2 cannot
 * open), and a backing chain that loops. */
#include <criterion/criterion.h>
#include <errno.h>

#include "block/block.h"
#include "block/qed_format.h"
#include "tests/unit/blk_test.h"

#define SIZE (4u << 20)
#define SECTORS (SIZE / 512)

static char dir[] = "/tmp/vmm-qed-XXXXXX";
static char img[80], base[80], raw[80];
static uint8_t *shadow;
static struct blk_node node;
static const char *cache; /* the cache= option, or NULL */

static uint64_t le64_at(const char *path, uint64_t off)
{
	uint8_t b[8];

	read_file(path, b, 8, off);
	return qed_get_le64(b);
}

static void put_le64_at(const char *path, uint64_t off, uint64_t v)
{
	uint8_t b[8];

	qed_put_le64(b, v);
	write_file(path, b, 8, off);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/top.qed", dir);
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(raw, sizeof(raw), "%s/out.raw", dir);
	sh("head -c %u /dev/urandom > %s", SIZE, base);
	shadow = malloc(SIZE);
}

static void teardown(void)
{
	free(shadow);
	sh("rm -rf %s", dir);
}

/* The shadow: what qemu-img reads from img now. */
static void load_shadow(void)
{
	sh("qemu-img convert -f qed -O raw %s %s", img, raw);
	read_file(raw, shadow, SIZE, 0);
}

static int open_img_as(const char *path, bool readonly, char *why,
		       size_t why_len)
{
	return blk_test_open(&node, path, "qed", readonly, cache, why, why_len);
}

static void open_img(bool readonly)
{
	char why[192];

	cr_assert_eq(open_img_as(img, readonly, why, sizeof(why)), 0, "%s",
		     why);
}

/* --- One request at a time on a ctx of this thread --- */

static int io(enum blk_op op, uint64_t off, void *buf, uint64_t len)
{
	return blk_test_io(&node, op, off, buf, len);
}

/* Every sector through the block layer against the shadow. */
static void assert_reads_shadow(void)
{
	uint8_t *got = aligned_alloc(4096, SIZE);

	cr_assert_eq(io(BLK_OP_READ, 0, got, SIZE), 0);
	for (unsigned s = 0; s < SECTORS; s++)
		cr_assert_eq(memcmp(got + s * 512, shadow + s * 512, 512), 0,
			     "sector %u differs", s);
	free(got);
}

/* After close: qemu-img check clean (no error, no leak) and qemu-img
 * reads the shadow. */
static void assert_qemu_agrees(void)
{
	blk_test_qemu_agrees(img, "qed", raw, shadow, SIZE);
}

/* --- Two writer threads (blk_test.h) --- */

/* New contents for a random half of the sectors, written by two
 * threads (even and odd sectors), read back, checked by qemu-img. */
static void two_writers(unsigned seed)
{
	struct blk_test_writer w[2] = { 0 };

	blk_test_two_writers(w, &node, shadow, SECTORS, seed);
	open_img(false);
	blk_test_writers_run(w, 2);
	/* Written: the bit says so until the clean close. */
	cr_assert(le64_at(img, 16) & QED_F_NEED_CHECK);
	assert_reads_shadow();
	blk_close(&node);
	cr_assert_not(le64_at(img, 16) & QED_F_NEED_CHECK);
	assert_qemu_agrees();
	blk_test_writers_free(w, 2);
}

Test(qed, two_contexts_over_a_backing_file, .init = setup, .fini = teardown,
     .timeout = 300)
{
	sh("qemu-img create -q -f qed -o cluster_size=4k,table_size=2 -b "
	   "base.raw -F raw %s",
	   img);
	sh("qemu-io -f qed -c 'write -P 0x71 0 1M' -c 'write -z 2M 64k' "
	   "-c 'write -P 0x72 3M 5k' %s >/dev/null",
	   img);
	load_shadow();
	two_writers(7);
}

/* The same with O_DIRECT, the backing file too: every buffer and
 * metadata write aligned. */
Test(qed, two_contexts_with_cache_none, .init = setup, .fini = teardown,
     .timeout = 300)
{
	sh("qemu-img create -q -f qed -o cluster_size=4k,table_size=2 -b "
	   "base.raw -F raw %s",
	   img);
	sh("qemu-io -f qed -c 'write -P 0x71 0 1M' -c 'write -z 2M 64k' %s "
	   ">/dev/null",
	   img);
	load_shadow();
	cache = "none";
	two_writers(9);
	/* Zeroes in place and over the backing file, a partial cluster. */
	open_img(false);
	cr_assert_eq(io(BLK_OP_WRITE_ZEROES, 8192, NULL, 12288), 0);
	cr_assert_eq(io(BLK_OP_WRITE_ZEROES, 3u << 20, NULL, 4096), 0);
	memset(shadow + 8192, 0, 12288);
	memset(shadow + (3u << 20), 0, 4096);
	assert_reads_shadow();
	blk_close(&node);
	assert_qemu_agrees();
}

Test(qed, two_contexts_without_backing, .init = setup, .fini = teardown,
     .timeout = 300)
{
	sh("qemu-img create -q -f qed %s %u", img, SIZE);
	sh("qemu-io -f qed -c 'write -P 0x71 64k 1M' -c 'write -z 2M 128k' "
	   "%s >/dev/null",
	   img);
	load_shadow();
	two_writers(8);
}

/* Whole clusters of zeroes become zero clusters over the backing file;
 * partial ones are written; over allocated clusters in place; with no
 * backing file unallocated clusters are left as they are. */
Test(qed, write_zeroes, .init = setup, .fini = teardown)
{
	static const struct {
		uint64_t off, len;
	} z[] = {
		{ 0, 65536 },		/* unallocated, whole: zero cluster */
		{ 131072 + 512, 4096 }, /* unallocated, partial: COW */
		{ 1048576, 3 * 65536 }, /* allocated: in place */
		{ 1048576 + 4 * 65536 + 512, 1024 }, /* allocated, partial */
		{ 2097152, 65536 }, /* a zero cluster already */
		{ SIZE - 65536, 65536 },
	};
	uint8_t *pat = malloc(65536);
	uint64_t size_before;

	sh("qemu-img create -q -f qed -b base.raw -F raw %s", img);
	sh("qemu-io -f qed -c 'write -P 0x55 1M 1M' -c 'write -z 2M 64k' %s "
	   ">/dev/null",
	   img);
	load_shadow();
	open_img(false);
	for (unsigned i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
		cr_assert_eq(io(BLK_OP_WRITE_ZEROES, z[i].off, NULL, z[i].len),
			     0, "zeroes at %llu", (unsigned long long)z[i].off);
		memset(shadow + z[i].off, 0, z[i].len);
	}
	/* A data write into the zero cluster: zeroes around it. */
	memset(pat, 0x66, 65536);
	cr_assert_eq(io(BLK_OP_WRITE, 4096, pat, 512), 0);
	memcpy(shadow + 4096, pat, 512);
	assert_reads_shadow();
	cr_assert_eq(io(BLK_OP_FLUSH, 0, NULL, 0), 0);
	blk_close(&node);
	assert_qemu_agrees();
	/* The whole-cluster zero write over the backing file took no data
	 * cluster: the last L2 entry is a zero cluster. */
	sh("qemu-img map -f qed --output=json %s | grep -q "
	   "'\"start\": 4128768, \"length\": 65536, \"depth\": 0, "
	   "\"present\": true, \"zero\": true, \"data\": false'",
	   img);

	/* Without a backing file: zeroes over unallocated space take
	 * nothing, not even an L2 table. */
	sh("qemu-img create -q -f qed %s %u", img, SIZE);
	size_before = file_size(img);
	open_img(false);
	cr_assert_eq(io(BLK_OP_WRITE_ZEROES, 0, NULL, SIZE), 0);
	cr_assert_eq(io(BLK_OP_WRITE_ZEROES, 512, NULL, 1024), 0);
	blk_close(&node);
	cr_assert_eq(file_size(img), size_before);
	cr_assert_not(le64_at(img, 16) & QED_F_NEED_CHECK);
	sh("qemu-img check -q -f qed %s", img);
	free(pat);
}

/* qemu-img check finds no error; leaks (status 3) are allowed: a
 * repaired entry leaves the cluster it used to name unreferenced. */
static void assert_no_errors(void)
{
	sh("qemu-img check -q -f qed %s; s=$?; test $s = 0 -o $s = 3", img);
}

/* An image of 64 KiB clusters with data in its first 4 clusters: L1 at
 * 64 KiB, the L2 table (4 clusters) after it, then the data. Returns
 * the L2 table's offset. */
static uint64_t damaged_image(void)
{
	uint64_t l2;

	sh("qemu-img create -q -f qed %s %u", img, SIZE);
	sh("qemu-io -f qed -c 'write -P 0x41 0 256k' %s >/dev/null", img);
	l2 = le64_at(img, 65536);
	cr_assert_gt(l2, 0);
	put_le64_at(img, 16, le64_at(img, 16) | QED_F_NEED_CHECK);
	return l2;
}

/* What QEMU does with such an image opened read-write: its check clears
 * the entry past the end of the file and the bit; we must do the
 * same, byte for byte. */
Test(qed, need_check_repairs_an_entry_past_the_end, .init = setup,
     .fini = teardown)
{
	char theirs[96];
	uint64_t l2 = damaged_image(), end = file_size(img);
	uint8_t buf[512];

	put_le64_at(img, l2 + 8, end + 10 * 65536);
	snprintf(theirs, sizeof(theirs), "%s/theirs.qed", dir);
	sh("cp %s %s", img, theirs);
	/* qemu-img check reports it, and does not change the image. */
	sh("qemu-img check -f qed %s >/dev/null 2>&1; test $? = 2", img);

	/* Read-only: opens as it is; the bad cluster is an error, the
	 * others read. */
	open_img(true);
	cr_assert_eq(io(BLK_OP_READ, 65536, buf, 512), -EIO);
	cr_assert_eq(io(BLK_OP_READ, 0, buf, 512), 0);
	cr_assert_eq(buf[0], 0x41);
	blk_close(&node);
	cr_assert(le64_at(img, 16) & QED_F_NEED_CHECK);

	/* Read-write: repaired at open. */
	open_img(false);
	cr_assert_not(le64_at(img, 16) & QED_F_NEED_CHECK);
	cr_assert_eq(le64_at(img, l2 + 8), 0);
	cr_assert_eq(io(BLK_OP_READ, 65536, buf, 512), 0);
	cr_assert_eq(buf[0], 0);
	blk_close(&node);
	assert_no_errors();

	/* QEMU, opening its copy read-write, repairs it the same way. */
	sh("qemu-io -f qed -c 'read 0 512' %s >/dev/null", theirs);
	sh("cmp %s %s", img, theirs);
}

/* An L1 entry past the end and an unaligned L2 entry: both cleared. */
Test(qed, need_check_repairs_bad_table_offsets, .init = setup, .fini = teardown)
{
	char theirs[96];
	uint64_t l2 = damaged_image();

	put_le64_at(img, 65536 + 8, file_size(img) + 65536);
	put_le64_at(img, l2 + 16, le64_at(img, l2 + 16) + 4096);
	snprintf(theirs, sizeof(theirs), "%s/theirs.qed", dir);
	sh("cp %s %s", img, theirs);
	open_img(false);
	blk_close(&node);
	cr_assert_eq(le64_at(img, 65536 + 8), 0);
	cr_assert_eq(le64_at(img, l2 + 16), 0);
	assert_no_errors();
	sh("qemu-io -f qed -c 'read 0 512' %s >/dev/null", theirs);
	sh("cmp %s %s", img, theirs);
}

/* Two L2 entries naming one cluster: no repair can tell which is right
 * (QEMU leaves the bit set and goes on); vmm refuses to write. */
Test(qed, need_check_refuses_clusters_referenced_twice, .init = setup,
     .fini = teardown)
{
	uint64_t l2 = damaged_image();
	char why[192];

	put_le64_at(img, l2 + 8, le64_at(img, l2));
	cr_assert_eq(open_img_as(img, false, why, sizeof(why)), -EIO);
	cr_assert(strstr(why, "1 of its clusters are referenced more than "
			      "once, which cannot be repaired; open it "
			      "read-only"),
		  "%s", why);
	cr_assert(le64_at(img, 16) & QED_F_NEED_CHECK);
	open_img(true);
	blk_close(&node);
}

/* Written without a close (the bit stays set), the image is checked
 * at the next read-write open, finds nothing to repair and is clean. */
Test(qed, need_check_on_a_consistent_image, .init = setup, .fini = teardown)
{
	uint8_t *got = malloc(SIZE);

	damaged_image();
	open_img(false);
	cr_assert_not(le64_at(img, 16) & QED_F_NEED_CHECK);
	blk_close(&node);
	load_shadow();
	memset(got, 0x41, 256 * 1024);
	cr_assert_eq(memcmp(shadow, got, 256 * 1024), 0);
	sh("qemu-img check -q -f qed %s", img);
	free(got);
}

Test(qed, unknown_features_refused, .init = setup, .fini = teardown)
{
	char why[192];

	sh("qemu-img create -q -f qed %s 1M", img);
	put_le64_at(img, 16, 0x8);
	cr_assert_eq(open_img_as(img, true, why, sizeof(why)), -ENOTSUP);
	cr_assert(strstr(why, "unknown QED features 0x8"), "%s", why);
	/* Unknown compat features are fine; unknown autoclear ones are
	 * cleared by a read-write open. */
	put_le64_at(img, 16, 0);
	put_le64_at(img, 24, 0x40);
	put_le64_at(img, 32, 0x80);
	open_img(true);
	blk_close(&node);
	cr_assert_eq(le64_at(img, 32), 0x80);
	open_img(false);
	blk_close(&node);
	cr_assert_eq(le64_at(img, 32), 0);
	cr_assert_eq(le64_at(img, 24), 0x40);
}

/* table_size 1 is valid (the spec's range is 1 to 16) but QEMU 7.2
 * refuses to open such images ("QED table offset is invalid": its table
 * check wants the table's last cluster past its first); vmm reads and
 * writes them, checked here against the shadow alone. */
Test(qed, table_size_one, .init = setup, .fini = teardown, .timeout = 300)
{
	uint8_t *buf = malloc(SIZE);

	sh("qemu-img create -q -f qed -o cluster_size=4k,table_size=1 %s %u",
	   img, SIZE);
	memset(shadow, 0, SIZE);
	open_img(false);
	srand(3);
	for (int i = 0; i < 300; i++) {
		uint64_t off = (uint64_t)(rand() % (SIZE / 512 - 40)) * 512;
		uint64_t len = (uint64_t)(1 + rand() % 40) * 512;

		memset(buf, i + 1, len);
		cr_assert_eq(io(BLK_OP_WRITE, off, buf, len), 0);
		memcpy(shadow + off, buf, len);
	}
	assert_reads_shadow();
	blk_close(&node);
	open_img(true);
	assert_reads_shadow();
	blk_close(&node);
	free(buf);
}

Test(qed, refuses_a_backing_chain_that_loops, .init = setup, .fini = teardown)
{
	char a[96], why[192];

	snprintf(a, sizeof(a), "%s/a.qed", dir);
	sh("cd %s && qemu-img create -q -f qed -b b.qed -F qed -u a.qed 1M && "
	   "qemu-img create -q -f qed -b a.qed -F qed -u b.qed 1M",
	   dir);
	cr_assert_eq(open_img_as(a, true, why, sizeof(why)), -ELOOP);
	cr_assert(strstr(why, "backing chain loops back to"), "%s", why);
}

/* A qcow2 image under a QED one: its format is probed (no recorded
 * format but raw's no-probe bit). */
Test(qed, probes_a_qcow2_backing_file, .init = setup, .fini = teardown)
{
	sh("cd %s && qemu-img convert -O qcow2 base.raw mid.qcow2 && "
	   "qemu-img create -q -f qed -b mid.qcow2 -F qcow2 top.qed",
	   dir);
	sh("qemu-io -f qed -c 'write -P 0x13 100k 3k' %s >/dev/null", img);
	load_shadow();
	open_img(false);
	assert_reads_shadow();
	blk_close(&node);
}

/* Without the need-check bit nothing is repaired: entries naming the L1
 * table, a cluster with reserved low bits set or one past the end of the
 * file are errors on read and on write, and such writes change nothing
 * in the file. */
Test(qed, bad_entries_are_errors_not_io_elsewhere, .init = setup,
     .fini = teardown)
{
	char copy[96];
	uint8_t buf[4096] = { 0 };
	uint64_t l2;

	/* 4 KiB clusters, tables of 2: L1 at 4 KiB, one L2 table maps
	 * 4 MiB. */
	sh("qemu-img create -q -f qed -o cluster_size=4k,table_size=2 %s 8M",
	   img);
	sh("qemu-io -f qed -c 'write -P 0x41 0 16k' %s >/dev/null", img);
	l2 = le64_at(img, 4096);
	put_le64_at(img, 4096 + 8, 4096);    /* L1[1]: the L1 table */
	put_le64_at(img, l2 + 8, 4096);	     /* the L1 table */
	put_le64_at(img, l2 + 16, 2);	     /* reserved bits */
	put_le64_at(img, l2 + 24, 1u << 30); /* past the end */
	snprintf(copy, sizeof(copy), "%s/copy.qed", dir);
	sh("cp %s %s", img, copy);
	open_img(false);
	for (uint64_t off = 4096; off < 16384; off += 4096) {
		cr_assert_eq(io(BLK_OP_READ, off, buf, 512), -EIO, "%llu",
			     (unsigned long long)off);
		cr_assert_eq(io(BLK_OP_WRITE, off, buf, 512), -EIO, "%llu",
			     (unsigned long long)off);
		cr_assert_eq(io(BLK_OP_WRITE_ZEROES, off, NULL, 4096), -EIO);
	}
	cr_assert_eq(io(BLK_OP_READ, 4u << 20, buf, 512), -EIO);
	cr_assert_eq(io(BLK_OP_WRITE, 4u << 20, buf, 512), -EIO);
	cr_assert_eq(io(BLK_OP_READ, 0, buf, 4096), 0);
	cr_assert_eq(buf[4095], 0x41);
	blk_close(&node);
	sh("cmp %s %s", img, copy);
}

/* 2 MiB clusters, tables of 2: 4 MiB tables mapping 2 TiB each, so the
 * L2 cache has 2 slots, fewer than the 16 requests in flight. Two
 * threads write sectors spread over 4 tables and a few clusters of each
 * (new tables made while others wait, slots waited for and evicted,
 * clusters allocated by both threads at once); every sector reads back,
 * qemu-img check is clean and qemu-io reads the same patterns. */
Test(qed, cache_smaller_than_the_requests_in_flight, .init = setup,
     .fini = teardown, .timeout = 300)
{
	enum { PER = 96, TABLES = 4, CLUSTERS = 3 };
	const uint64_t tb = 2ull << 40, cl = 2u << 20;
	struct blk_test_writer w[2] = { 0 };
	uint64_t offs[2 * PER];
	uint8_t pats[2 * PER], buf[512];
	char *cmd = malloc(2 * PER * 64 + 256), *p;

	sh("qemu-img create -q -f qed -o cluster_size=2M,table_size=2 %s 8T",
	   img);
	srand(11);
	/* Distinct sectors: slot k of each (table, cluster) pair. */
	for (unsigned i = 0; i < 2 * PER; i++) {
		unsigned pair = i % (TABLES * CLUSTERS),
			 k = i / (TABLES * CLUSTERS);

		offs[i] = (pair / CLUSTERS) * tb + (pair % CLUSTERS) * 7 * cl +
			  (uint64_t)k * 4096 * 9 + 512 * (unsigned)(rand() % 8);
		pats[i] = (uint8_t)(1 + rand() % 250);
	}
	for (int t = 0; t < 2; t++) {
		w[t].node = &node;
		w[t].offs = offs + t * PER;
		w[t].pats = pats + t * PER;
		w[t].n = PER;
		w[t].buf = malloc(BLK_TEST_QD * 512);
	}
	open_img(false);
	blk_test_writers_run(w, 2);
	for (unsigned i = 0; i < 2 * PER; i++) {
		cr_assert_eq(io(BLK_OP_READ, offs[i], buf, 512), 0);
		cr_assert_eq(buf[0], pats[i], "offset %llu",
			     (unsigned long long)offs[i]);
		cr_assert_eq(buf[511], pats[i]);
	}
	blk_close(&node);
	sh("qemu-img check -q -f qed %s", img);
	p = cmd + sprintf(cmd, "qemu-io -f qed -r");
	for (unsigned i = 0; i < 2 * PER; i++)
		p += sprintf(p, " -c 'read -P %u %llu 512'", pats[i],
			     (unsigned long long)offs[i]);
	sprintf(p, " %s | grep -c '^read 512/512' | grep -qx %u", img, 2 * PER);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	blk_test_writers_free(w, 2);
	free(cmd);
}
