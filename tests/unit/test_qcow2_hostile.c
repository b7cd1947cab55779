/* Hostile qcow2 images against the qcow2 driver (block/qcow2*.c) and its
 * check and repair (block/qcow2_check.c). qemu-img makes a 1 MiB image
 * (64 KiB clusters; the layout is read back from the file), pwrite breaks
 * one field, then exercise() checks it without fixes, opens it read-only
 * and reads the whole disk, opens it read-write, reads it, writes guest
 * cluster 0 in part then whole and a new cluster, writes another new one
 * in a second session, reads everything back, and checks it with fixes.
 * Each case asserts its outcome (an open refused naming the problem, -EIO,
 * the corruption counted), that no metadata byte that no write may touch
 * changed, and that what reads worked reads back as written. "Was:"
 * names what the driver did before the case was fixed. */
#include <criterion/criterion.h>
#include <errno.h>

#include "block/block.h"
#include "block/qcow2_check.h"
#include "block/qcow2_format.h"
#include "lib/bytes.h"
#include "tests/unit/blk_test.h"

#define CL 65536ull    /* qemu-img's default cluster size */
#define DISK (16 * CL) /* the virtual disk */
#define FIX (QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS)
#define COMPRESSED(off, sectors)                                               \
	(QCOW2_COMPRESSED | ((uint64_t)(sectors) << 54) | (off))

static char dir[] = "/tmp/vmm-qcow2h-XXXXXX";
static char img[96];
/* Where qemu-img put things (file offsets); end: the file's end aligned. */
static struct {
	uint64_t end, l1, l1_size, rt, rb, l2, data;
} L;

static uint64_t peek64(uint64_t off)
{
	uint8_t b[8];

	read_file(img, b, 8, off);
	return get_be64(b);
}

/* A big-endian field of `bytes` bytes. */
static void poke(uint64_t off, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	put_be64(b, v << (64 - 8 * bytes));
	write_file(img, b, bytes, off);
}

static void load_layout(void)
{
	struct stat st;

	cr_assert_eq(stat(img, &st), 0);
	L.end = ((uint64_t)st.st_size + CL - 1) & ~(CL - 1);
	cr_assert_eq(peek64(20) >> 32, 16, "cluster bits");
	L.l1_size = peek64(36) >> 32;
	L.l1 = peek64(40);
	L.rt = peek64(48);
	L.rb = peek64(L.rt) & QCOW2_OFFSET_MASK;
	L.l2 = peek64(L.l1) & QCOW2_OFFSET_MASK;
	L.data = peek64(L.l2) & QCOW2_OFFSET_MASK;
	cr_assert(L.l1 && L.rt && L.rb && L.l2 && L.data);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/t.qcow2", dir);
}

static void teardown(void)
{
	sh("rm -rf %s", dir);
}

/* The image, 1 MiB with guest cluster 0 written; opts for create. */
static void make(const char *opts)
{
	sh("qemu-img create -q -f qcow2 %s %s 1M && qemu-io -c "
	   "'write -P 0x11 0 64k' %s >/dev/null",
	   opts, img, img);
	load_layout();
}

/* --- The block layer, one request at a time on the test thread
 * (blk_test_io) --- */

/* why (192 bytes) keeps the first failure's reason. */
static int open_node(struct blk_node *n, bool ro, char *why)
{
	char now[192];
	int r = blk_test_open(n, img, "qcow2", ro, NULL, now, sizeof(now));

	if (r && why && !why[0])
		snprintf(why, 192, "%s", now);
	return r;
}

static int check(int fix, struct qcow2_check_result *res, char *why)
{
	int fd = open(img, fix ? O_RDWR : O_RDONLY), r;

	cr_assert_geq(fd, 0);
	r = qcow2_check(fd, fix, getenv("QCOW2H_VERBOSE") ? stderr : NULL, res,
			why, 160);
	close(fd);
	return r;
}

/* --- Metadata no write may change: the header (but its incompatible
 * bits), the refcount table, the L1 table past its entries, the second
 * half of the refcount block, the L2 table past the disk's 16 entries */

static const char *const meta_name[6] = { "header",	    "header",
					  "refcount table", "L1 table",
					  "refcount block", "L2 table" };

/* The six regions, one per CL bytes of a malloc'd buffer. */
static uint8_t *meta_read(void)
{
	uint64_t r[6][2] = { { 0, 72 },
			     { 80, CL - 80 },
			     { L.rt, CL },
			     { L.l1 + L.l1_size * 8, CL - L.l1_size * 8 },
			     { L.rb + CL / 2, CL / 2 },
			     { L.l2 + 16 * 8, CL - 16 * 8 } };
	uint8_t *b = calloc(6, CL);

	for (int i = 0; i < 6; i++)
		read_file(img, b + i * CL, r[i][1], r[i][0]);
	return b;
}

/* The regions whose bytes differ from before, or NULL. */
static const char *meta_damage(const uint8_t *before)
{
	static char bad[128];
	uint8_t *now = meta_read();

	bad[0] = 0;
	for (int i = 0; i < 6; i++)
		if (memcmp(before + i * CL, now + i * CL, CL) &&
		    !strstr(bad, meta_name[i]))
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
				 "%s%s", bad[0] ? ", " : "", meta_name[i]);
	free(now);
	return bad[0] ? bad : NULL;
}

/* --- One case's run --- */

struct outcome {
	int ro_open, rw_open;
	char why[192]; /* the first refused open's message */
	int ro_read, rw_read, w[4], reread;
	bool readback_ok;   /* each guest cluster known reads as written */
	const char *damage; /* the regions the writes changed, or NULL */
	int chk, fix;
	struct qcow2_check_result res, fixed;
	char chk_why[160];
};

static const struct {
	uint64_t off, len;
	int pattern;
} wr[4] = {
	{ 4096, 4096, 0xa0 }, /* guest cluster 0, part of it */
	{ 0, CL, 0xb0 },      /* guest cluster 0, whole */
	{ 3 * CL, CL, 0xc0 }, /* guest cluster 3, new */
	{ 9 * CL, CL, 0xd0 }, /* guest cluster 9, new, second session */
};

static int write_one(struct blk_node *n, unsigned i, uint8_t *shadow,
		     bool *known)
{
	uint8_t *buf = malloc(wr[i].len);
	bool *k = &known[wr[i].off / CL];
	int r;

	memset(buf, wr[i].pattern, wr[i].len);
	r = blk_test_io(n, BLK_OP_WRITE, wr[i].off, buf, wr[i].len);
	if (!r)
		memcpy(shadow + wr[i].off, buf, wr[i].len);
	*k = !r && (wr[i].len == CL || *k); /* a failed write: who knows */
	free(buf);
	return r;
}

static void dump(const struct outcome *o)
{
	fprintf(stderr,
		"open ro %d rw %d [%s] read ro %d rw %d write %d %d %d %d "
		"reread %d ok %d damage %s | check %d c %lu l %lu | fix %d "
		"c %lu l %lu cf %lu lf %lu\n",
		o->ro_open, o->rw_open, o->why, o->ro_read, o->rw_read, o->w[0],
		o->w[1], o->w[2], o->w[3], o->reread, o->readback_ok,
		o->damage ? o->damage : "none", o->chk, o->res.corruptions,
		o->res.leaks, o->fix, o->fixed.corruptions, o->fixed.leaks,
		o->fixed.corruptions_fixed, o->fixed.leaks_fixed);
}

static struct outcome exercise(void)
{
	struct outcome o = { 0 };
	uint8_t *before = meta_read(), *shadow = malloc(DISK);
	uint8_t *got = malloc(DISK);
	bool known[16];
	struct blk_node n;

	o.chk = check(0, &o.res, o.chk_why);
	o.ro_open = open_node(&n, true, o.why);
	if (!o.ro_open) {
		o.ro_read = blk_test_io(&n, BLK_OP_READ, 0, got, DISK);
		blk_close(&n);
	}
	o.rw_open = open_node(&n, false, o.why);
	if (!o.rw_open) {
		o.rw_read = blk_test_io(&n, BLK_OP_READ, 0, shadow, DISK);
		memset(known, !o.rw_read, sizeof(known));
		for (unsigned i = 0; i < 3; i++)
			o.w[i] = write_one(&n, i, shadow, known);
		blk_close(&n);
		o.reread = open_node(&n, false, NULL);
		if (!o.reread) {
			o.w[3] = write_one(&n, 3, shadow, known);
			o.reread = blk_test_io(&n, BLK_OP_READ, 0, got, DISK);
			blk_close(&n);
		}
		o.readback_ok = !o.reread;
		for (unsigned c = 0; c < 16 && o.readback_ok; c++)
			if (known[c] &&
			    memcmp(got + c * CL, shadow + c * CL, CL))
				o.readback_ok = false;
	}
	o.damage = meta_damage(before);
	o.fix = check(FIX, &o.fixed, o.chk_why);
	if (getenv("QCOW2H_VERBOSE"))
		dump(&o);
	free(before);
	free(shadow);
	free(got);
	return o;
}

/* Asserts the reads and writes; ANY: not checked. */
#define ANY 1
static void expect_io(const struct outcome *o, int ro, int rw, int w0, int w1,
		      int w2, int w3)
{
	int want[6] = { ro, rw, w0, w1, w2, w3 };
	int got[6] = { o->ro_read, o->rw_read, o->w[0],
		       o->w[1],	   o->w[2],    o->w[3] };
	static const char *what[6] = { "read-only read", "read",
				       "partial write",	 "whole write",
				       "new cluster",	 "second session" };

	for (int i = 0; i < 6; i++)
		cr_expect(want[i] == ANY || got[i] == want[i], "%s: %d, not %d",
			  what[i], got[i], want[i]);
}

/* The image made, one big-endian field set (after make: L is known). */
#define CORRUPT(opts, off, v, bytes)                                           \
	make(opts);                                                            \
	poke(off, v, bytes);                                                   \
	struct outcome o = exercise()
#define INTACT() cr_expect_null(o.damage, "%s overwritten", o.damage)
#define CHECKED(corrupt, leak)                                                 \
	do {                                                                   \
		cr_expect_eq(o.chk, 0, "%s", o.chk_why);                       \
		cr_expect_eq(o.res.corruptions, corrupt);                      \
		cr_expect_eq(o.res.leaks, leak);                               \
	} while (0)
#define REFUSED(err, text)                                                     \
	do {                                                                   \
		cr_expect_eq(o.ro_open, err);                                  \
		cr_expect_eq(o.rw_open, err);                                  \
		cr_expect(strstr(o.why, text), "%s", o.why);                   \
		cr_expect_eq(o.chk, err);                                      \
		cr_expect(strstr(o.chk_why, text), "%s", o.chk_why);           \
	} while (0)
#define ARGS(...) __VA_ARGS__
/* A case: the field at off set to v; the reads' and writes' results (ro,
 * rw, w0..w3), whether the disk reads back as written, what the check
 * (no fixes) counts; no metadata overwritten. */
#define CASE_N(name, bytes, off, v, results, readback, corrupt, leak)          \
	Test(qcow2_hostile, name)                                              \
	{                                                                      \
		CORRUPT("", off, v, bytes);                                    \
		expect_io(&o, ARGS results);                                   \
		cr_expect(!(readback) || o.readback_ok, "reads back wrong");   \
		INTACT();                                                      \
		CHECKED(corrupt, leak);                                        \
	}
#define CASE(name, ...) CASE_N(name, 8, __VA_ARGS__)
#define E (-EIO)

TestSuite(qcow2_hostile, .init = setup, .fini = teardown, .timeout = 60);

/* --- L1 entries (qemu-img sets COPIED on them) --- */

/* Past the end: the L2 table counted; the old L2 table and data leak. */
CASE(l1_entry_past_eof, L.l1, QCOW2_COPIED | (L.end + 64 * CL),
     (E, E, E, E, E, E), false, 1, 2)
CASE(l1_entry_unaligned, L.l1, QCOW2_COPIED | (L.l2 + 512), (E, E, E, E, E, E),
     false, 1, 2)
/* Was: without COPIED, where reads fail, own_l2 copies the "L2 table" at
 * the unaligned offset into a new one and unrefs the two clusters it
 * straddles: the old L2 table is handed out again and overwritten. */
CASE(l1_entry_unaligned_not_copied, L.l1, L.l2 + 512, (E, E, E, E, E, E), false,
     1, 2)
/* Offset 0 is "no L2 table": reads see zeroes; COPIED on it contradicts
 * that and the writes under it fail. */
CASE(l1_entry_at_header, L.l1, QCOW2_COPIED, (0, 0, E, E, E, E), true, 0, 2)
/* The L1 table named as an L2 table: every read and write through it
 * fails with EIO, and nothing is stored into the L1 table (once an
 * allocating write stored its new L2 entry there). */
CASE(l1_entry_at_l1_table, L.l1, QCOW2_COPIED | L.l1, (E, E, E, E, E, ANY),
     false, 1, 2)
/* The refcount table named as an L2 table: the same (once a write
 * stored its new cluster into the refcount table and freed the refcount
 * block). */
CASE(l1_entry_at_refcount_table, L.l1, QCOW2_COPIED | L.rt,
     (E, E, E, E, E, ANY), false, 3, 2)

/* --- L2 entries (COPIED: writes go in place) --- */

/* Offset 0 is "unallocated": the header is only reachable unaligned. */
CASE(l2_entry_in_header_unaligned, L.l2, QCOW2_COPIED | 512, (E, E, E, E, 0, 0),
     false, 1, 1)
/* overlaps_metadata refuses these; the cluster is counted twice. */
CASE(l2_entry_at_l1_table, L.l2, QCOW2_COPIED | L.l1, (0, 0, E, E, 0, 0), true,
     1, 1)
CASE(l2_entry_at_refcount_table, L.l2, QCOW2_COPIED | L.rt, (0, 0, E, E, 0, 0),
     true, 1, 1)
/* Was: overlaps_metadata knows the header, the L1 table and the refcount
 * table, not the refcount blocks: the in-place writes go into the
 * refcount block (whose refcounts then read 0xb0b0). */
CASE(l2_entry_at_refcount_block, L.l2, QCOW2_COPIED | L.rb, (0, 0, E, E, 0, 0),
     true, 1, 1)
/* Was: nor the L2 tables (QEMU's overlap check covers the active ones):
 * the in-place writes overwrite the L2 table that maps them. */
CASE(l2_entry_at_own_l2_table, L.l2, QCOW2_COPIED | L.l2, (0, 0, E, E, 0, 0),
     true, 1, 1)

/* --- Compressed L2 entries: offset, then 8 bits of extra sectors --- */

/* Was: reads refuse the range in the header, but the whole-cluster write
 * that replaces it unrefs it: the header's cluster is then free, and the
 * next session's allocation writes guest data over the header. */
CASE(compressed_in_header, L.l2, COMPRESSED(512, 0), (E, E, E, ANY, ANY, ANY),
     false, 1, 1)
/* Was: 256 sectors over the zeroes of the refcount block's second half:
 * reads fail (no deflate stream), but the whole-cluster write unrefs the
 * refcount block, the L1 and the L2 table, and the next allocation puts
 * guest data over the refcount block. */
CASE(compressed_huge_sector_count, L.l2, COMPRESSED(L.rb + CL / 2, 255),
     (E, E, E, ANY, ANY, ANY), false, 3, 1)
/* Was (what valgrind, not ASan, saw): read_compressed clamps the span to
 * the file's end, here to 0, and inflate gets avail_in 0 - 100 (4 GiB)
 * from an empty buffer: an out-of-bounds read, reported by valgrind, not
 * ASan (zlib is not instrumented), before the garbage fails to inflate. */
CASE(compressed_just_past_eof, L.l2, COMPRESSED(L.end + 100, 0),
     (E, E, E, ANY, ANY, ANY), false, 1, 1)
/* Was: further on, the clamped span wraps to ~2^64: posix_memalign fails
 * (-ENOMEM), or under ASan aborts (allocation-size-too-big). */
CASE(compressed_far_past_eof, L.l2, COMPRESSED(L.end + 16 * CL, 0),
     (E, E, E, ANY, ANY, ANY), false, 1, 1)

/* --- Refcount table entries --- */

/* Allocation fails, in-place writes work; the check counts the block,
 * five clusters and two COPIED flags with refcount 0. */
CASE(refcount_table_entry_unaligned, L.rt, L.rb + 512, (0, 0, 0, 0, E, E), true,
     8, 0)
CASE(refcount_table_entry_past_eof, L.rt, L.end + 64 * CL, (0, 0, 0, 0, E, E),
     true, 8, 0)

static uint8_t l1_before[512];

static void l1_save(void)
{
	read_file(img, l1_before, sizeof(l1_before), L.l1);
}

static void expect_l1_kept(const char *by)
{
	uint8_t now[512];

	read_file(img, now, sizeof(now), L.l1);
	cr_expect_eq(memcmp(l1_before, now, sizeof(now)), 0,
		     "%s rewrote the L1 table: entry 0 %#llx", by,
		     (unsigned long long)get_be64(now));
}

/* Was: the L1 table as the refcount block: allocation reads L1 entries
 * as refcounts, hands out the refcount table's cluster (refcount "0")
 * and writes refcounts into the L1 table; check with fixes "repairs" by
 * writing refcounts over the L1 table (entry 0 becomes 0x1000100000002). */
Test(qcow2_hostile, refcount_table_entry_at_l1_table)
{
	make("");
	poke(L.rt, L.l1, 8);
	sh("cp %s %s.orig", img, img);
	struct outcome o = exercise();
	expect_io(&o, 0, 0, 0, 0, -EIO, ANY);
	INTACT();
	CHECKED(6, 2);
	sh("cp %s.orig %s", img, img);
	l1_save();
	cr_expect_eq(check(FIX, &o.fixed, o.chk_why), 0, "%s", o.chk_why);
	expect_l1_kept("check -r all");
	cr_expect_geq(o.fixed.corruptions, 1, "it cannot be repaired in place");
}

/* --- Refcount blocks that call a cluster in use free (allocating
 * writes have no overlap check) --- */

#define RC(cluster_off) (L.rb + (cluster_off) / CL * 2)
#define CASE16(name, off, ...) CASE_N(name, 2, off, 0, __VA_ARGS__)
/* Was: the header's cluster is handed out and guest data written over
 * the header. */
CASE16(refcount_says_header_free, RC(0), (0, 0, 0, 0, ANY, ANY), false, 1, 0)
/* The refcount block covers itself with refcount 0 (a loop): handing it
 * out would overwrite it (it once did), so allocation fails with EIO;
 * in-place writes go on. */
CASE16(refcount_block_covers_itself_free, RC(L.rb), (0, 0, 0, 0, E, E), true, 1,
       0)
/* A limit, shared with QEMU: guest cluster 0's data cluster, said free,
 * is handed out to guest cluster 3, whose data then reads back in guest
 * cluster 0. Telling live data from free space needs every L2 table
 * read, which only a check does; the check counts its refcount and its
 * COPIED flag. */
CASE16(refcount_says_live_data_free, RC(L.data), (0, 0, 0, 0, 0, 0), false, 2,
       0)

/* Was: a refcount table of 8 MiB (the limit), 1-bit refcounts, each of
 * its 2^20 entries naming the one refcount block: compare() reads that
 * block 2^20 times and walks its 2^19 refcounts each time, clusters past
 * the file's end included: 2^39 steps, it never ends (vmm img check, and
 * the repair at a read-write open if dirty). QEMU stops at the file's
 * last cluster. */
Test(qcow2_hostile, check_of_huge_refcount_table_finishes)
{
	uint64_t n = 128 * CL / 8, *rt = malloc(n * 8);
	struct qcow2_check_result res;
	char why[160];

	make("-o refcount_bits=1");
	for (uint64_t i = 0; i < n; i++)
		put_be64((uint8_t *)&rt[i], L.rb);
	write_file(img, rt, n * 8, 16 * CL); /* the table moved to 1 MiB */
	poke(48, 16 * CL, 8);
	poke(56, 128, 4);
	cr_expect_eq(check(0, &res, why), 0, "%s", why);
	cr_expect_geq(res.corruptions, 1); /* the block counted 2^20 times */
	free(rt);
}

/* --- Headers, snapshots, backing chains --- */

Test(qcow2_hostile, huge_l1_size)
{
	CORRUPT("", 36, 0x10000000, 4);
	REFUSED(-EINVAL, "L1 table of 268435456 entries");
}

Test(qcow2_hostile, unknown_incompatible_bit)
{
	CORRUPT("", 72, 1u << 5, 8);
	REFUSED(-ENOTSUP, "unknown incompatible features 0x20");
}

Test(qcow2_hostile, snapshot_table_past_eof)
{
	make("");
	poke(60, 0xffffffff, 4);
	poke(64, L.end + 64 * CL, 8);
	struct outcome o = exercise();
	REFUSED(-EINVAL, "snapshot table at");
}

/* A snapshot table that runs past the end of the file: the open is
 * refused naming it (as QEMU refuses it); the check reports it
 * truncated, reading 64 MiB of it at most, and leaves uncounted what it
 * could not read: the table's own cluster (a second snapshot that is not
 * there), or also the snapshot's tables and data (its own entry runs
 * past the end). */
#define BAD_SNAPSHOT(off, v, leaks)                                            \
	make("");                                                              \
	sh("qemu-img snapshot -c s1 %s", img);                                 \
	load_layout();                                                         \
	poke(off, v, 4);                                                       \
	struct outcome o = exercise();                                         \
	cr_expect_eq(o.ro_open, -EINVAL);                                      \
	cr_expect_eq(o.rw_open, -EINVAL);                                      \
	cr_expect(strstr(o.why, "snapshot table at"), "%s", o.why);            \
	INTACT();                                                              \
	CHECKED(1, leaks)

Test(qcow2_hostile, snapshot_count_huge)
{
	BAD_SNAPSHOT(60, 0xffffffff, 1);
}

Test(qcow2_hostile, snapshot_extra_data_huge)
{
	BAD_SNAPSHOT(peek64(64) + 36, 0xffffffff, 4);
}

Test(qcow2_hostile, backing_file_is_itself)
{
	make("");
	sh("cd %s && qemu-img rebase -u -b t.qcow2 -F qcow2 t.qcow2", dir);
	struct outcome o = exercise();
	cr_expect_eq(o.ro_open, -ELOOP);
	cr_expect_eq(o.rw_open, -ELOOP);
	cr_expect(strstr(o.why, "backing chain loops back to"), "%s", o.why);
	CHECKED(0, 0);
}

/* Was: 18 images, each backed by the next: refused, but each level wraps
 * the message in "disk PATH: backing file: " and the 192-byte why ends
 * four levels down, without the reason. */
Test(qcow2_hostile, backing_chain_deeper_than_16)
{
	struct blk_node n;
	char why[192] = "";

	sh("cd %s && qemu-img create -q -f qcow2 t17.qcow2 1M && for i in "
	   "$(seq 16 -1 1); do qemu-img create -q -f qcow2 -u -b "
	   "t$((i+1)).qcow2 -F qcow2 t$i.qcow2 1M || exit 1; done && "
	   "qemu-img create -q -f qcow2 -u -b t1.qcow2 -F qcow2 t.qcow2 1M",
	   dir);
	cr_expect_eq(open_node(&n, true, why), -ELOOP);
	cr_expect(strstr(why, "deeper than 16"), "%s", why);
}

/* --- Lazy refcounts, left dirty: the read-write open repairs --- */

/* A table entry past the end: the repair cannot fix it and refuses the
 * open, the image left dirty; read-only opens skip the repair and the
 * reads fail. */
#define DIRTY_PAST_EOF(entry)                                                  \
	make("-o lazy_refcounts=on");                                          \
	poke(entry, QCOW2_COPIED | (L.end + 64 * CL), 8);                      \
	poke(72, QCOW2_INCOMPAT_DIRTY, 8);                                     \
	struct outcome o = exercise();                                         \
	expect_io(&o, -EIO, 0, 0, 0, 0, 0);                                    \
	cr_expect_eq(o.rw_open, -EIO);                                         \
	cr_expect(strstr(o.why, "errors that could not be repaired"), "%s",    \
		  o.why);                                                      \
	cr_expect_eq(o.fixed.corruptions, 1);                                  \
	cr_expect_eq(peek64(72), QCOW2_INCOMPAT_DIRTY);                        \
	INTACT()

Test(qcow2_hostile, dirty_with_l2_entry_past_eof)
{
	DIRTY_PAST_EOF(L.l2);
	CHECKED(2, 1); /* the data cluster and its COPIED flag; a leak */
}

Test(qcow2_hostile, dirty_with_l1_entry_past_eof)
{
	DIRTY_PAST_EOF(L.l1);
	CHECKED(1, 2);
}

/* Was: as in refcount_table_entry_at_l1_table, the repair writes
 * refcounts over the L1 table, and the open then succeeds. */
Test(qcow2_hostile, dirty_with_refcount_table_entry_at_l1_table)
{
	struct blk_node n;
	int r;

	make("-o lazy_refcounts=on");
	poke(L.rt, L.l1, 8);
	poke(72, QCOW2_INCOMPAT_DIRTY, 8);
	l1_save();
	r = open_node(&n, false, NULL);
	if (!r)
		blk_close(&n);
	expect_l1_kept("the repair at open");
	cr_expect_eq(r, -EIO, "the open of a broken image");
}
