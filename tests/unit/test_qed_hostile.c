/* Hostile QED images against the QED driver (block/qed.c) and its header
 * parser (block/qed_format.c), through the block layer. qemu-img makes a
 * 16 MiB image of 4 KiB clusters and tables of 2 clusters (1024 entries,
 * an L2 table maps 4 MiB) and qemu-io writes guest clusters 0, 1 and
 * 1024, which gives
 *   header 0 | L1 4K-12K | data 12K, 16K | L2 #0 20K-28K | data 28K |
 *   L2 #1 32K-40K
 * (read back from the file, not assumed); pwrite then breaks one field.
 *
 * What it asserts:
 * - refused opens, read-only and read-write, with the whole message: a
 *   header cut short or of a bad size, the L1 table's offset (past the
 *   end, straddling it, 0, in the header, unaligned, wrapping), cluster
 *   and table sizes out of range or making tables over vmm's 64 MiB,
 *   image sizes over what the tables map, the backing file name's place;
 * - exercise() for bad L1 and L2 entries (unaligned, in the header, at
 *   the L1 table, at an L2 table, past the end of the file): four probe
 *   clusters (0: data, 2: unallocated, 1024: through L1 entry 1, 2048:
 *   no L2 table yet) read read-only, then read-write, written in part,
 *   read and written whole in a second read-write session, read again
 *   read-only: each request's result (0, or -EIO for the ones through
 *   the bad entry, and only those), what reads back, and that no byte of
 *   the header, the L1 table or the L2 tables changed but an empty entry
 *   given a new cluster;
 * - entries past the end of the file, which clusters appended later
 *   fill: still -EIO all session, and the need-check bit left set, so
 *   that the next read-write open's check repairs them or refuses what
 *   the file grew into (two references to a cluster);
 * - two L1 entries naming one or overlapping L2 tables: refused
 *   read-write, read as they are read-only;
 * - the largest tables (64 MiB) with the largest image size (2^64 - 512)
 *   in a child under an address-space limit;
 * - a need-check image with an L1 entry past the end opened read-only:
 *   no repair, no change, only that range's reads fail.
 * "Was:" names what the driver did before the case was fixed. Not here
 * (tests/unit/test_qed.c): the need-check repairs proper, clusters
 * referenced twice, unknown features, table_size 1, backing chains that
 * loop, L1 or L2 entries naming the L1 table's first cluster. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "block/block.h"
#include "block/qed_format.h"
#include "tests/unit/blk_test.h"

#define CL 4096ull	   /* the image's cluster size */
#define TB (2 * CL)	   /* its table size in bytes */
#define DISK (16ull << 20) /* the virtual disk */
#define NOT_RUN 0x7fffffff /* its open failed */
#define NP 4		   /* probe clusters */
#define E (-EIO)
#define MiB (1ull << 20)

static char dir[] = "/tmp/vmm-qedh-XXXXXX";
static char img[96];

/* Where qemu-img put things (file offsets); end: the file's end. */
static struct {
	uint64_t end, header, l1, l2[2], data[2];
} L;

/* The metadata regions no write may change (but empty entries). */
static struct region {
	const char *name;
	uint64_t off, len;
	bool header; /* compared byte for byte, the need-check bit aside */
} meta[4];

/* Guest clusters: data, unallocated, through L1 entry 1, no L2 table. */
static const uint64_t probe[NP] = { 0, 2, 1024, 2048 };

/* Short reads past the end of the file read zeroes. */
static void file_io(bool write, uint64_t off, void *buf, size_t len)
{
	int fd;
	ssize_t n;

	if (write) {
		write_file(img, buf, len, off);
		return;
	}
	fd = open(img, O_RDONLY);
	cr_assert_geq(fd, 0, "%s", img);
	memset(buf, 0, len);
	n = pread(fd, buf, len, (off_t)off);
	cr_assert_geq(n, 0);
	close(fd);
}

static uint64_t peek64(uint64_t off)
{
	uint8_t b[8];

	file_io(false, off, b, 8);
	return qed_get_le64(b);
}

static uint32_t peek32(uint64_t off)
{
	return (uint32_t)peek64(off);
}

static void poke64(uint64_t off, uint64_t v)
{
	uint8_t b[8];

	qed_put_le64(b, v);
	file_io(true, off, b, 8);
}

static void poke32(uint64_t off, uint32_t v)
{
	uint8_t b[8];

	qed_put_le64(b, v);
	file_io(true, off, b, 4);
}

static void cut(uint64_t size)
{
	cr_assert_eq(truncate(img, (off_t)size), 0);
}

static void set_meta(void)
{
	meta[0] = (struct region){ "header", 0, L.header, true };
	meta[1] = (struct region){ "L1 table", L.l1, TB, false };
	meta[2] = (struct region){ "L2 table 0", L.l2[0], TB, false };
	meta[3] = (struct region){ "L2 table 1", L.l2[1], TB, false };
}

static void load_layout(void)
{
	L.end = file_size(img);
	L.header = peek32(12) * CL;
	L.l1 = peek64(40);
	L.l2[0] = peek64(L.l1);
	L.l2[1] = peek64(L.l1 + 8);
	L.data[0] = peek64(L.l2[0]);
	L.data[1] = peek64(L.l2[1]);
	cr_assert_eq(peek32(4), CL);
	cr_assert_eq(peek32(8), TB / CL);
	cr_assert_eq(L.end % CL, 0);
	cr_assert(L.l1 && L.l2[0] && L.l2[1] && L.data[0] && L.data[1]);
	cr_assert_eq(L.l2[1] + TB, L.end, "L2 table 1 is last");
	set_meta();
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/t.qed", dir);
}

static void teardown(void)
{
	sh("rm -rf %s", dir);
}

static void make(void)
{
	sh("qemu-img create -q -f qed -o cluster_size=4k,table_size=2 %s 16M "
	   "&& qemu-io -f qed -c 'write -P 0x11 0 8k' -c 'write -P 0x22 4M 4k' "
	   "%s >/dev/null",
	   img, img);
	load_layout();
}

/* The header made `clusters` clusters long: the L1 table copied past it
 * (or to the end of the file) and the header pointed at the copy. */
static void grow_header(uint32_t clusters)
{
	uint64_t to = clusters * CL > L.end ? clusters * CL : L.end;
	uint8_t t[TB];

	file_io(false, L.l1, t, TB);
	file_io(true, to, t, TB);
	poke64(40, to);
	poke32(12, clusters);
	L.l1 = to;
	L.header = clusters * CL;
	L.end = to + TB;
	set_meta();
}

/* An L2 entry: guest cluster gc's, in L2 table i. */
static uint64_t l2e(int i, uint64_t gc)
{
	return L.l2[i] + gc % (TB / 8) * 8;
}

/* --- The block layer, one request at a time on the test thread --- */

/* blk_test_io, but a ctx that cannot be made is -ENOMEM, not a failed
 * assertion (bounded_child's address-space limit). */
static int io(struct blk_node *n, enum blk_op op, uint64_t off, void *buf,
	      uint64_t len)
{
	struct blk_ctx ctx;
	int r;

	if (blk_ctx_init(&ctx, 64))
		return -ENOMEM;
	r = blk_test_try(n, &ctx, op, off, buf, len);
	blk_ctx_destroy(&ctx);
	return r;
}

static int open_node(struct blk_node *n, bool ro, char *why)
{
	return blk_test_open(n, img, "qed", ro, NULL, why, 256);
}

/* --- Metadata --- */

static uint8_t *meta_read(void)
{
	uint8_t *b = calloc(4, 32 * CL);

	for (int i = 0; i < 4; i++) {
		cr_assert_leq(meta[i].len, 32 * CL);
		file_io(false, meta[i].off, b + i * 32 * CL, meta[i].len);
	}
	return b;
}

/* The file offset of an entry the need-check repair may clear, or 0. */
static uint64_t repairable;

/* A table entry may only go from empty (0, or 1: a zero cluster; or the
 * one repaired, cleared) to a zero cluster or a cluster past the old
 * end of the file. */
static bool entry_ok(uint64_t at, uint64_t was, uint64_t now, uint64_t old_end,
		     uint64_t new_end)
{
	if (now == was || !now)
		return now == was || at == repairable;
	if (was > QED_ZERO_CLUSTER && at != repairable)
		return false;
	return now == QED_ZERO_CLUSTER ||
	       (!(now % CL) && now >= old_end && now < new_end);
}

/* The regions changed otherwise since before (read at old_end), or
 * NULL. */
static const char *meta_damage(const uint8_t *before, uint64_t old_end)
{
	static char bad[128];
	uint8_t *now = meta_read();
	uint64_t new_end = file_size(img);

	bad[0] = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *a = before + i * 32 * CL, *b = now + i * 32 * CL;
		bool ok = true;

		if (meta[i].header) {
			ok = !memcmp(a, b, 16) &&
			     !memcmp(a + 24, b + 24, meta[i].len - 24) &&
			     ((qed_get_le64(a + 16) ^ qed_get_le64(b + 16)) &
			      ~QED_F_NEED_CHECK) == 0;
		} else {
			for (uint64_t j = 0; j < meta[i].len && ok; j += 8)
				ok = entry_ok(
					meta[i].off + j, qed_get_le64(a + j),
					qed_get_le64(b + j), old_end, new_end);
		}
		if (!ok)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
				 "%s%s", bad[0] ? ", " : "", meta[i].name);
	}
	free(now);
	return bad[0] ? bad : NULL;
}

/* --- One case's run --- */

struct outcome {
	int ro_open, rw_open, reopen;
	char ro_why[256], rw_why[256], re_why[256];
	/* Per probe: read-only reads, read-write reads, partial writes,
	 * second-session reads and whole writes, read-only reads again. */
	int r[6][NP];
	char got[6 * (NP + 1)];	 /* the results, as EXPECT spells them */
	uint8_t ro_data[NP][CL]; /* what the read-only reads read */
	bool readback_ok;	 /* what reads back is what was written */
	const char *damage;	 /* the regions changed, or NULL */
};

static int write_pattern(struct blk_node *n, unsigned p, uint64_t in,
			 uint64_t len, int pattern, uint8_t *shadow,
			 bool *known)
{
	uint8_t *buf = malloc(len);
	int r;

	memset(buf, pattern, len);
	r = io(n, BLK_OP_WRITE, probe[p] * CL + in, buf, len);
	if (!r)
		memcpy(shadow + in, buf, len);
	/* A failed write: who knows what the cluster holds. */
	*known = !r && (*known || len == CL);
	free(buf);
	return r;
}

static void reads(struct blk_node *n, int *res, uint8_t (*data)[CL])
{
	for (unsigned p = 0; p < NP; p++)
		res[p] = io(n, BLK_OP_READ, probe[p] * CL, data[p], CL);
}

/* The probes read back as known (shadow), where they read. */
static bool matches(const int *res, uint8_t (*data)[CL], uint8_t (*shadow)[CL],
		    const bool *known)
{
	for (unsigned p = 0; p < NP; p++)
		if (!res[p] && known[p] && memcmp(data[p], shadow[p], CL))
			return false;
	return true;
}

static char code(int r)
{
	return r == 0 ? '0' : r == E ? 'E' : r == NOT_RUN ? '-' : '?';
}

static struct outcome *exercise(void)
{
	struct outcome *o = calloc(1, sizeof(*o));
	uint8_t *before = meta_read(), (*data)[CL] = malloc(NP * CL);
	uint8_t(*shadow)[CL] = calloc(NP, CL);
	uint64_t old_end = file_size(img) / CL * CL; /* whole clusters */
	bool known[NP] = { 0 };
	struct blk_node n;
	char *p = o->got;

	for (int i = 0; i < 6; i++)
		for (unsigned j = 0; j < NP; j++)
			o->r[i][j] = NOT_RUN;
	o->ro_open = open_node(&n, true, o->ro_why);
	if (!o->ro_open) {
		reads(&n, o->r[0], o->ro_data);
		blk_close(&n);
	}
	o->rw_open = open_node(&n, false, o->rw_why);
	o->readback_ok = true;
	if (!o->rw_open) {
		reads(&n, o->r[1], shadow);
		for (unsigned i = 0; i < NP; i++)
			known[i] = !o->r[1][i];
		for (unsigned i = 0; i < NP; i++)
			o->r[2][i] = write_pattern(&n, i, 1024, 512, 0xa0 + i,
						   shadow[i], &known[i]);
		blk_close(&n);
		o->reopen = open_node(&n, false, o->re_why);
		if (!o->reopen) {
			reads(&n, o->r[3], data);
			o->readback_ok = matches(o->r[3], data, shadow, known);
			for (unsigned i = 0; i < NP; i++)
				o->r[4][i] =
					write_pattern(&n, i, 0, CL, 0xb0 + i,
						      shadow[i], &known[i]);
			blk_close(&n);
		}
		if (!open_node(&n, true, NULL)) {
			reads(&n, o->r[5], data);
			o->readback_ok &= matches(o->r[5], data, shadow, known);
			blk_close(&n);
		}
	}
	o->damage = meta_damage(before, old_end);
	for (int i = 0; i < 6; i++) {
		for (unsigned j = 0; j < NP; j++)
			*p++ = code(o->r[i][j]);
		*p++ = i < 5 ? ' ' : 0;
	}
	if (getenv("QEDH_VERBOSE"))
		fprintf(stderr,
			"open ro %d rw %d reopen %d [%s] [%s] [%s] %s "
			"ok %d damage %s\n",
			o->ro_open, o->rw_open, o->reopen, o->ro_why, o->rw_why,
			o->re_why, o->got, o->readback_ok,
			o->damage ? o->damage : "none");
	free(before);
	free(data);
	free(shadow);
	return o;
}

/* The whole "disk PATH: reason" message. */
static const char *msg(const char *fmt, ...)
{
	static char m[256];
	va_list ap;
	int n = snprintf(m, sizeof(m), "disk %s: ", img);

	va_start(ap, fmt);
	vsnprintf(m + n, sizeof(m) - (size_t)n, fmt, ap);
	va_end(ap);
	return m;
}

/* Both opens refused with err and the message fmt... */
#define REFUSED(err, ...)                                                      \
	do {                                                                   \
		struct blk_node n_;                                            \
		char why_[256];                                                \
		const char *want_ = msg(__VA_ARGS__);                          \
		for (int ro_ = 0; ro_ < 2; ro_++) {                            \
			int r_ = open_node(&n_, ro_, why_);                    \
			if (!r_)                                               \
				blk_close(&n_);                                \
			cr_expect_eq(r_, err, "%s open: %d",                   \
				     ro_ ? "read-only" : "read-write", r_);    \
			cr_expect_str_eq(why_, want_);                         \
		}                                                              \
	} while (0)

/* Results of exercise(), per phase a letter per probe (0: success, E:
 * -EIO, -: not run); the reads read back what was written; no
 * metadata changed. */
#define EXPECT(o, results)                                                     \
	do {                                                                   \
		cr_expect_str_eq((o)->got, results);                           \
		cr_expect((o)->readback_ok, "reads back other data");          \
		cr_expect_null((o)->damage, "%s changed", (o)->damage);        \
	} while (0)

/* exercise() on the image as made and patched: both opens work, the
 * results are as expected. The second session's open then works too
 * and its close clears the need-check bit (twice 0); or the first
 * session met an entry naming space past the end of the file, which its
 * appended clusters may have filled, and left the bit set: the second
 * session's open refuses, `twice` clusters referenced twice, and the
 * bit stays set. */
static void check_case(const char *results, int twice)
{
	struct outcome *o = exercise();

	cr_expect_eq(o->ro_open, 0, "%s", o->ro_why);
	cr_expect_eq(o->rw_open, 0, "%s", o->rw_why);
	if (twice) {
		cr_expect_eq(o->reopen, -EIO);
		cr_expect_str_eq(o->re_why,
				 msg("the image needs a consistency check and "
				     "%d of its clusters are referenced more "
				     "than once, which cannot be repaired; "
				     "open it read-only",
				     twice));
		cr_expect(peek64(16) & QED_F_NEED_CHECK, "need-check cleared");
	} else {
		cr_expect_eq(o->reopen, 0, "%s", o->re_why);
		cr_expect_not(peek64(16) & QED_F_NEED_CHECK,
			      "need-check left set");
	}
	EXPECT(o, results);
	free(o);
}

#define CASE(name, patch, results)                                             \
	Test(qed_hostile, name)                                                \
	{                                                                      \
		make();                                                        \
		patch;                                                         \
		check_case(results, 0);                                        \
	}

/* The first session left the need-check bit set; the second's open
 * repaired the entry at file offset `entry`: cleared it (the second
 * session's writes may then have given it a new cluster). */
#define CASE_REPAIRED(name, patch, entry, results)                             \
	Test(qed_hostile, name)                                                \
	{                                                                      \
		make();                                                        \
		patch;                                                         \
		repairable = entry;                                            \
		uint64_t bad_ = peek64(entry);                                 \
		check_case(results, 0);                                        \
		cr_expect_neq(peek64(entry), bad_, "not repaired");            \
	}

#define CASE_REFUSED_AFTER(name, patch, twice, results)                        \
	Test(qed_hostile, name)                                                \
	{                                                                      \
		make();                                                        \
		patch;                                                         \
		check_case(results, twice);                                    \
	}

/* Every request works; the ones to probe 1024 (through L1 entry 1), or
 * to probe 2 (L2 table 0's entry 2), fail in every phase. */
#define ALL_OK "0000 0000 0000 0000 0000 0000"
#define P1024_FAILS "00E0 00E0 00E0 00E0 00E0 00E0"
#define P2_FAILS "0E00 0E00 0E00 0E00 0E00 0E00"

TestSuite(qed_hostile, .init = setup, .fini = teardown, .timeout = 60);

/* The harness on the image as qemu-io left it: everything works. */
CASE(intact_image, (void)0, ALL_OK)

/* --- 1. The header cut short --- */

Test(qed_hostile, empty_file)
{
	make();
	cut(0);
	REFUSED(-EINVAL, "not a QED image");
}

/* The magic, but not all the fields. */
Test(qed_hostile, file_shorter_than_the_fields)
{
	make();
	cut(40);
	REFUSED(-EINVAL, "not a QED image");
}

/* The fields, not the rest of the header cluster (nor the L1 table). */
Test(qed_hostile, file_shorter_than_header_size)
{
	make();
	cut(2048);
	REFUSED(-EINVAL, "L1 table at 0x1000 (8192 bytes) is unaligned, in the "
			 "header or past the end of the file");
}

Test(qed_hostile, file_cut_inside_the_l1_table)
{
	make();
	cut(L.l1 + CL + 100);
	REFUSED(-EINVAL, "L1 table at 0x1000 (8192 bytes) is unaligned, in the "
			 "header or past the end of the file");
}

/* header_size 1000 clusters: the L1 table at 4 KiB is inside it. */
Test(qed_hostile, header_size_larger_than_the_file)
{
	make();
	poke32(12, 1000);
	REFUSED(-EINVAL, "L1 table at 0x1000 (8192 bytes) is unaligned, in the "
			 "header or past the end of the file");
}

Test(qed_hostile, header_size_zero)
{
	make();
	poke32(12, 0);
	REFUSED(-EINVAL, "header size of 0 clusters is out of range");
}

/* 2^20 clusters of 4 KiB: 4 GiB, past the 32-bit header fields. */
Test(qed_hostile, header_size_past_32_bits)
{
	make();
	poke32(12, 1u << 20);
	REFUSED(-EINVAL, "header size of 1048576 clusters is out of range");
}

/* --- 2. The L1 table's offset --- */

#define L1_REFUSED(fmt, ...)                                                   \
	REFUSED(-EINVAL,                                                       \
		"L1 table at " fmt                                             \
		" (8192 bytes) is unaligned, in the header "                   \
		"or past the end of the file",                                 \
		__VA_ARGS__)

Test(qed_hostile, l1_table_past_eof)
{
	make();
	poke64(40, L.end + 16 * CL);
	L1_REFUSED("%#llx", (unsigned long long)(L.end + 16 * CL));
}

/* Its first cluster in the file, its second past the end. */
Test(qed_hostile, l1_table_straddles_eof)
{
	make();
	poke64(40, L.end - CL);
	L1_REFUSED("%#llx", (unsigned long long)(L.end - CL));
}

Test(qed_hostile, l1_table_at_zero)
{
	make();
	poke64(40, 0);
	L1_REFUSED("%s", "0");
}

Test(qed_hostile, l1_table_in_the_header)
{
	make();
	poke32(12, 2); /* the header is 8 KiB, the L1 table at 4 KiB */
	L1_REFUSED("%s", "0x1000");
}

Test(qed_hostile, l1_table_unaligned)
{
	make();
	poke64(40, L.l1 + 512);
	L1_REFUSED("%#llx", (unsigned long long)(L.l1 + 512));
}

/* 2^64 - 4096: the end of the table wraps. */
Test(qed_hostile, l1_table_offset_wraps)
{
	make();
	poke64(40, -CL);
	L1_REFUSED("%s", "0xfffffffffffff000");
}

/* --- 3. L1 entries (entry 1: guest clusters 1024 to 2047). Every
 * request through a bad one fails, the others work. --- */

CASE(l1_entry_unaligned, poke64(L.l1 + 8, L.l2[0] + 512), P1024_FAILS)
/* Offset 0 is "no L2 table"; the header cluster is only reachable
 * unaligned, or with a header of two clusters. */
CASE(l1_entry_in_the_header_unaligned, poke64(L.l1 + 8, 2048), P1024_FAILS)
CASE(l1_entry_in_a_two_cluster_header, (grow_header(2), poke64(L.l1 + 8, CL)),
     P1024_FAILS)
/* The L1 table's second cluster (its first: test_qed.c). */
CASE(l1_entry_at_the_l1_table, poke64(L.l1 + 8, L.l1 + CL), P1024_FAILS)

/* Past the end of the file: the same in the first session, which then
 * leaves the need-check bit set (bad_entry in block/qed.c): the second
 * session's open repairs the entry (clears it) as QEMU's check does, and
 * guest clusters 1024 on read as zeroes. */
CASE_REPAIRED(l1_entry_far_past_eof, poke64(L.l1 + 8, 1ull << 40), L.l1 + 8,
	      "00E0 00E0 00E0 0000 0000 0000")

/* Where the first session's appended clusters go: probe 2's data cluster
 * at the old end, probe 2048's new L2 table after it. The entry stays an
 * error all session (it was bad at open); then the L2 table it names
 * holds probe 2's data cluster and the first half of the new table, the
 * check counts 2 clusters twice and refuses the open read-write; read-
 * only, probe 2's data cluster lies in an L2 table (-EIO) and probe
 * 1024's entry is its first 8 bytes (0: zeroes). Was: the second
 * session opened as the first, read probe 1024 through that table and
 * its whole write put a new cluster's offset into probe 2's data. */
CASE_REFUSED_AFTER(l1_entry_at_eof, poke64(L.l1 + 8, L.end), 2,
		   "00E0 00E0 00E0 ---- ---- 0E00")
/* Straddling the end: L2 table 1's second cluster and the next, which
 * becomes probe 2's data cluster (counted twice). Was: from probe 2's
 * write on, probe 1024 read entry 512 of L2 table 1 (zeroes) and was
 * written. */
CASE_REFUSED_AFTER(l1_entry_straddles_eof, poke64(L.l1 + 8, L.end - CL), 1,
		   "00E0 00E0 00E0 ---- ---- 0E00")

/* The guest forging the entry: probe 2's data (at the old end of the
 * file, where L1 entry 1 points) says "guest cluster 1024 is at L2
 * table 0", and probe 2048's new L2 table makes the file long enough.
 * Was: the write to guest cluster 1024 went over L2 table 0. */
Test(qed_hostile, l1_entry_at_eof_forged_by_the_guest)
{
	uint8_t *buf = calloc(1, CL), *l2_before = malloc(TB),
		*l2_now = malloc(TB);
	struct blk_node n;
	char why[256];

	make();
	poke64(L.l1 + 8, L.end);
	file_io(false, L.l2[0], l2_before, TB);
	cr_assert_eq(open_node(&n, false, why), 0, "%s", why);
	qed_put_le64(buf, L.l2[0]);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 2 * CL, buf, CL), 0);
	memset(buf, 0x33, CL);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 2048 * CL, buf, CL), 0);
	cr_expect_geq(file_size(img), L.end + 2 * CL + TB, "the file grew");
	memset(buf, 0xcc, CL);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 1024 * CL, buf, CL), E);
	cr_expect_eq(io(&n, BLK_OP_READ, 1024 * CL, buf, CL), E);
	blk_close(&n);
	cr_expect_eq(peek64(l2e(0, 2)), L.end, "probe 2's data at the end");
	file_io(false, L.l2[0], l2_now, TB);
	/* Probe 2's entry is the only change. */
	qed_put_le64(l2_before + 16, L.end);
	cr_expect_eq(memcmp(l2_before, l2_now, TB), 0,
		     "L2 table 0 overwritten: entry 0 %#llx",
		     (unsigned long long)qed_get_le64(l2_now));
	cr_expect(peek64(16) & QED_F_NEED_CHECK, "need-check cleared");
	free(buf);
	free(l2_before);
	free(l2_now);
}

/* --- 4. L2 entries: probe 2's (unallocated) made to name metadata. The
 * requests to guest cluster 2 fail; nothing is written there. --- */

CASE(l2_entry_in_the_header_unaligned, poke64(l2e(0, 2), 2048), P2_FAILS)
CASE(l2_entry_in_a_two_cluster_header, (grow_header(2), poke64(l2e(0, 2), CL)),
     P2_FAILS)
/* The L1 table's second cluster. */
CASE(l2_entry_at_the_l1_table, poke64(l2e(0, 2), L.l1 + CL), P2_FAILS)
/* Was: data_ok knew the header and the L1 table, not the L2 tables:
 * probe 2's reads read the L2 table and its writes went in place over
 * it (L2 table 1: probe 1024's entry then read 0xa2a2...; its own L2
 * table: entries 128 to 191 then named 0xa1a1...). */
CASE(l2_entry_at_another_l2_table, poke64(l2e(0, 2), L.l2[1]), P2_FAILS)
CASE(l2_entry_at_another_l2_tables_second_cluster,
     poke64(l2e(0, 2), L.l2[1] + CL), P2_FAILS)
CASE(l2_entry_at_its_own_l2_table, poke64(l2e(0, 2), L.l2[0]), P2_FAILS)
CASE(l2_entry_unaligned, poke64(l2e(0, 2), L.data[0] + 512), P2_FAILS)
/* Past the end: repaired by the second session's open, as above. */
CASE_REPAIRED(l2_entry_far_past_eof, poke64(l2e(0, 2), 1ull << 40), l2e(0, 2),
	      "0E00 0E00 0E00 0000 0000 0000")
/* Just past the end, where probe 2048's new L2 table goes (probe 2's
 * own write fails first): then the check counts that cluster twice.
 * Was: the second session read the new table as probe 2's data and its
 * whole write went over it (probe 2048 then failed to read). */
CASE_REFUSED_AFTER(l2_entry_at_eof, poke64(l2e(0, 2), L.end), 1,
		   "0E00 0E00 0E00 ---- ---- 0E00")

/* The same in one session: an L2 table made this open is as much an L2
 * table as the others. Was: the writes to guest cluster 2 went over the
 * new table, and guest cluster 2048 read back zeroes. */
Test(qed_hostile, l2_entry_names_an_l2_table_made_this_open)
{
	uint8_t *buf = malloc(CL), *got = malloc(CL);
	struct blk_node n;
	char why[256];

	make();
	poke64(l2e(0, 2), L.end);
	cr_assert_eq(open_node(&n, false, why), 0, "%s", why);
	memset(buf, 0x66, CL);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 2048 * CL, buf, CL), 0);
	cr_expect_eq(peek64(L.l1 + 16), L.end, "the new table at the end");
	cr_expect_eq(io(&n, BLK_OP_READ, 2 * CL, got, CL), E);
	memset(got, 0x77, CL);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 2 * CL, got, CL), E);
	cr_expect_eq(io(&n, BLK_OP_READ, 2048 * CL, got, CL), 0);
	cr_expect_eq(memcmp(got, buf, CL), 0, "guest cluster 2048 changed");
	blk_close(&n);
	cr_expect_eq(peek64(L.end), L.end + TB, "the new table overwritten");
	free(buf);
	free(got);
}

/* A limit, shared with QEMU: an entry past the end of the file that a
 * later data cluster makes valid names that cluster. Here L2 table 1's
 * entry for guest cluster 1025 names the old end, where probe 2's new
 * data cluster goes: guest clusters 2 and 1025 then share it for the
 * rest of the session (telling the entry from a valid one needs to know
 * which entries this open wrote). Guest data is all it reaches, no
 * metadata; the entry was seen past the end, so the need-check bit stays
 * set and the next read-write open's check refuses the shared cluster. */
Test(qed_hostile, l2_entry_at_eof_aliases_a_later_data_cluster)
{
	uint8_t *buf = malloc(CL), *got = malloc(CL);
	struct blk_node n;
	char why[256];

	make();
	poke64(l2e(1, 1025), L.end);
	cr_assert_eq(open_node(&n, false, why), 0, "%s", why);
	cr_expect_eq(io(&n, BLK_OP_READ, 1025 * CL, got, CL), E);
	memset(buf, 0x5a, CL);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 2 * CL, buf, CL), 0);
	cr_expect_eq(io(&n, BLK_OP_READ, 1025 * CL, got, CL), 0);
	cr_expect_eq(memcmp(got, buf, CL), 0, "guest cluster 1025 aliases 2");
	blk_close(&n);
	cr_expect_eq(peek64(l2e(0, 2)), L.end);
	cr_expect(peek64(16) & QED_F_NEED_CHECK, "need-check cleared");
	cr_expect_eq(open_node(&n, false, why), -EIO);
	cr_expect_str_eq(why, msg("the image needs a consistency check and 1 "
				  "of its clusters are referenced more than "
				  "once, which cannot be repaired; open it "
				  "read-only"));
	free(buf);
	free(got);
}

/* --- 5. Two L1 entries naming one L2 table (or overlapping ones): a
 * write through one would change what the other maps. Read-write they
 * are refused (as the need-check repair refuses clusters referenced
 * twice); read-only they read what the file says. Was: opened, and the
 * writes to guest cluster 1024 and 0 went to one cluster. --- */

/* L1 entry 1 made L2 table 0 + skip; the read-only reads' results and
 * what guest cluster 1024 reads (every byte `pattern`), unless -1. */
static void shared(int64_t skip, const char *ro, int pattern)
{
	struct outcome *o;
	char want[32];
	uint64_t i;

	make();
	poke64(L.l1 + 8, L.l2[0] + (uint64_t)skip);
	o = exercise();
	cr_expect_eq(o->ro_open, 0, "%s", o->ro_why);
	cr_expect_eq(o->rw_open, -EIO);
	cr_expect_str_eq(o->rw_why,
			 msg("L1 entries 0 and 1 name overlapping L2 tables "
			     "(at %#llx and %#llx), which cannot be repaired; "
			     "open it read-only",
			     (unsigned long long)L.l2[0],
			     (unsigned long long)(L.l2[0] + (uint64_t)skip)));
	snprintf(want, sizeof(want), "%s ---- ---- ---- ---- ----", ro);
	EXPECT(o, want);
	for (i = 0; pattern >= 0 && i < CL && o->ro_data[2][i] == pattern; i++)
		;
	cr_expect(pattern < 0 || i == CL, "guest cluster 1024 byte %llu: %#x",
		  (unsigned long long)i, o->ro_data[2][i % CL]);
	free(o);
}

/* Guest cluster 1024 reads guest cluster 0's data. */
Test(qed_hostile, l1_entries_share_an_l2_table)
{
	shared(0, "0000", 0x11);
}

/* Entry 1's table starts at entry 0's second cluster: guest cluster
 * 1024 is entry 512 of L2 table 0, unallocated. */
Test(qed_hostile, l1_entries_name_overlapping_l2_tables)
{
	shared(CL, "0000", 0);
}

/* Entry 1's table ends in the middle of entry 0's, and lies lower (the
 * message names them in L1 order): its first cluster is guest cluster
 * 1's data, whose bytes (0x11...) make no valid entry for guest cluster
 * 1024. */
Test(qed_hostile, l1_entries_name_overlapping_l2_tables_lower_first)
{
	shared(-(int64_t)CL, "00E0", -1);
}

/* --- 6. Sizes: tables larger than vmm allows are refused; the largest
 * it allows (64 MiB) open in bounded memory --- */

Test(qed_hostile, tables_of_one_gib)
{
	make();
	poke32(4, 64 << 20);
	poke32(8, 16);
	REFUSED(-ENOTSUP, "tables of 1073741824 bytes (cluster size 67108864 x "
			  "table size 16) are larger than vmm's limit of "
			  "64 MiB");
}

Test(qed_hostile, cluster_size_2_gib)
{
	make();
	poke32(4, 1u << 31);
	REFUSED(-EINVAL, "cluster size 2147483648 is not a power of 2 from "
			 "4 KiB to 64 MiB");
}

Test(qed_hostile, cluster_size_zero)
{
	make();
	poke32(4, 0);
	REFUSED(-EINVAL,
		"cluster size 0 is not a power of 2 from 4 KiB to 64 MiB");
}

Test(qed_hostile, table_size_2_g)
{
	make();
	poke32(8, 1u << 31);
	REFUSED(-EINVAL,
		"table size 2147483648 is not a power of 2 from 1 to 16");
}

Test(qed_hostile, table_size_zero)
{
	make();
	poke32(8, 0);
	REFUSED(-EINVAL, "table size 0 is not a power of 2 from 1 to 16");
}

static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb << 10;
}

/* In a child whose address space may grow by `cap` bytes at most (not
 * under ASan, whose shadow needs terabytes): opens the image read-write
 * (or read-only), reads guest cluster 0 (pattern 0x44) and the last
 * sector (zeroes), writes the last sector and reads it back. The steps
 * done, or 10 + the failed step. */
static int bounded_child(uint64_t cap, bool ro, uint64_t size)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (!pid) {
		struct blk_node n;
		uint8_t *buf = aligned_alloc(4096, 4096);
		int step = 0;
		struct rlimit rl = { vm_size() + cap, vm_size() + cap };

#ifndef __SANITIZE_ADDRESS__
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(9);
#endif
		(void)rl;
		if (open_node(&n, ro, NULL))
			_exit(10);
		step++;
		if (io(&n, BLK_OP_READ, 0, buf, 4096) || buf[0] != 0x44 ||
		    buf[4095] != 0x44)
			_exit(11);
		step++;
		if (io(&n, BLK_OP_READ, size - 512, buf, 512) || buf[0] ||
		    buf[511])
			_exit(12);
		step++;
		if (!ro) {
			memset(buf, 0x45, 512);
			if (io(&n, BLK_OP_WRITE, size - 512, buf, 512))
				_exit(13);
			memset(buf, 0, 512);
			if (io(&n, BLK_OP_READ, size - 512, buf, 512) ||
			    buf[0] != 0x45 || buf[511] != 0x45)
				_exit(14);
			step += 2;
		}
		blk_close(&n);
		_exit(step);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "status %#x", status);
	return WEXITSTATUS(status);
}

/* 64 MiB clusters, tables of 1 (64 MiB, the limit), image size 2^64 -
 * 512 (what tables that large can map saturates): the L1 table at
 * 64 MiB, L2 table 0 at 128 MiB, guest cluster 0 at 192 MiB, a sparse
 * file. The L1 table, two cached L2 tables and a cluster buffer: about
 * 256 MiB, under a cap of 384 MiB; read-only, under 192 MiB. */
Test(qed_hostile, largest_tables_and_image_in_bounded_memory)
{
	const uint64_t c = 64 * MiB, size = -512ull;
	uint8_t *buf = malloc(4096);
	int r;

	sh(": > %s", img);
	cut(3 * c);
	poke32(0, QED_MAGIC);
	poke32(4, (uint32_t)c);
	poke32(8, 1);
	poke32(12, 1);
	poke64(40, c);
	poke64(48, size);
	poke64(c, 2 * c);     /* L1 entry 0 */
	poke64(2 * c, 3 * c); /* L2 entry 0 */
	memset(buf, 0x44, 4096);
	file_io(true, 3 * c, buf, 4096);
	cut(4 * c);
	r = bounded_child(192 * MiB, true, size);
	cr_expect_eq(r, 3, "read-only: exit %d", r);
	r = bounded_child(384 * MiB, false, size);
	cr_expect_eq(r, 5, "read-write: exit %d", r);
	/* The new L2 table and data cluster were appended. */
	cr_expect_eq(file_size(img), 6 * c);
	cr_expect_eq(peek64(c + 8 * ((size - 1) / c / (c / 8))), 4 * c);
	cr_expect_eq(peek64(4 * c + 8 * ((size - 1) / c % (c / 8))), 5 * c);
	free(buf);
}

/* --- 7. The image size --- */

#define TOO_BIG(v)                                                             \
	do {                                                                   \
		make();                                                        \
		poke64(48, v);                                                 \
		REFUSED(-EINVAL,                                               \
			"image size %llu is larger than the 4294967296 bytes " \
			"its tables can map",                                  \
			(unsigned long long)(v));                              \
	} while (0)

/* 4 KiB clusters, tables of 2: 1024 x 1024 clusters, 4 GiB. */
Test(qed_hostile, image_size_near_2_63)
{
	TOO_BIG((1ull << 63) - 512);
}

Test(qed_hostile, image_size_near_2_64)
{
	TOO_BIG(-512ull);
}

Test(qed_hostile, image_size_one_sector_too_big)
{
	TOO_BIG((4ull << 30) + 512);
}

Test(qed_hostile, image_size_not_in_sectors)
{
	make();
	poke64(48, DISK + 100);
	REFUSED(-EINVAL, "image size 16777316 is not a multiple of 512");
}

/* Exactly 4 GiB: its last sector is L1 entry 1023's, the L1 table's
 * last; written, it reads back. */
Test(qed_hostile, image_size_as_large_as_the_tables_map)
{
	const uint64_t size = 4ull << 30;
	uint8_t buf[512];
	struct blk_node n;
	char why[256];

	make();
	poke64(48, size);
	cr_assert_eq(open_node(&n, false, why), 0, "%s", why);
	cr_expect_eq(n.size, size);
	cr_expect_eq(io(&n, BLK_OP_READ, size - 512, buf, 512), 0);
	cr_expect_eq(buf[0], 0);
	memset(buf, 0x77, 512);
	cr_expect_eq(io(&n, BLK_OP_WRITE, size - 512, buf, 512), 0);
	cr_expect_eq(io(&n, BLK_OP_READ, size, buf, 512), -EINVAL);
	blk_close(&n);
	cr_expect_eq(peek64(L.l1 + 1023 * 8), L.end);
	sh("qemu-io -f qed -r -c 'read -P 0x77 4294966784 512' %s | grep -q "
	   "'^read 512/512'",
	   img);
}

/* --- 8. The backing file name --- */

static void backing(uint32_t off, uint32_t size)
{
	char name[] = "base.raw";

	make();
	file_io(true, 64, name, 8);
	poke64(16, QED_F_BACKING_FILE);
	poke32(56, off);
	poke32(60, size);
}

#define NAME_REFUSED(off, size)                                                \
	do {                                                                   \
		backing(off, size);                                            \
		REFUSED(-EINVAL,                                               \
			"backing file name at %u (%u bytes) is empty, too "    \
			"long or outside the header",                          \
			(unsigned)(off), (unsigned)(size));                    \
	} while (0)

/* Over the header's fields. */
Test(qed_hostile, backing_name_over_the_fields)
{
	NAME_REFUSED(16, 8);
}

Test(qed_hostile, backing_name_past_the_header_cluster)
{
	NAME_REFUSED(4090, 100);
}

/* offset + size wraps 32 bits. */
Test(qed_hostile, backing_name_offset_wraps)
{
	NAME_REFUSED(0xfffffff0u, 0x20);
}

Test(qed_hostile, backing_name_past_eof)
{
	NAME_REFUSED(1u << 30, 8);
}

Test(qed_hostile, backing_name_empty)
{
	NAME_REFUSED(64, 0);
}

Test(qed_hostile, backing_name_too_long)
{
	NAME_REFUSED(64, 1024);
}

Test(qed_hostile, backing_name_holds_a_nul)
{
	backing(64, 12);
	REFUSED(-EINVAL, "backing file name at 64 holds a NUL byte");
}

/* A header of 32 clusters (128 KiB): the name inside it, past the
 * 64 KiB the driver reads of it. */
Test(qed_hostile, backing_name_past_the_header_read)
{
	backing(100000, 8);
	grow_header(32);
	REFUSED(-EINVAL, "backing file name at 100000 (8 bytes) lies past the "
			 "first 65536 bytes of the file");
}

Test(qed_hostile, backing_file_missing)
{
	backing(64, 8);
	REFUSED(-ENOENT, "backing file %s/base.raw: No such file or directory",
		dir);
}

/* The name is read, not assumed: with the file there, the image opens
 * and reads through it. */
Test(qed_hostile, backing_file_present)
{
	backing(64, 8);
	sh("head -c 16M /dev/zero | tr '\\0' '\\125' > %s/base.raw", dir);
	struct outcome *o = exercise();
	cr_expect_eq(o->ro_open, 0, "%s", o->ro_why);
	cr_expect_eq(o->rw_open, 0, "%s", o->rw_why);
	cr_expect_eq(o->reopen, 0, "%s", o->re_why);
	EXPECT(o, ALL_OK);
	cr_expect_eq(o->ro_data[1][0], 0x55, "guest cluster 2: the backing");
	free(o);
}

/* --- 9. The file cut inside L2 table 1: requests through it fail
 * (-EIO, not zeroes), the others work; the first session's appended
 * clusters then fill the table out again, and (its entry named space
 * past the end) the second session's open refuses: the check counts
 * probe 2's data cluster (and, cut in its first cluster, probe 2048's
 * new L2 table) twice. Was: probe 1024 came back within the first
 * session, from probe 2's write on (its write in place). --- */

static void cut_l2(uint64_t at)
{
	/* A partial last cluster is not part of the image. */
	cut(at);
	meta[3].len = (at - L.l2[1]) / CL * CL;
}

CASE_REFUSED_AFTER(file_cut_inside_an_l2_table, cut_l2(L.l2[1] + CL), 1,
		   "00E0 00E0 00E0 ---- ---- 0E00")
CASE_REFUSED_AFTER(file_cut_inside_an_l2_tables_first_cluster,
		   cut_l2(L.l2[1] + 100), 2, "00E0 00E0 00E0 ---- ---- 0E00")

/* --- 10. The need-check bit with an L1 entry past the end, read-only:
 * no repair, the image unchanged, only its requests fail --- */

Test(qed_hostile, need_check_read_only_l1_entry_past_eof)
{
	uint8_t *buf = malloc(CL);
	struct blk_node n;
	char why[256];

	make();
	poke64(L.l1 + 8, L.end + 64 * CL);
	poke64(16, QED_F_NEED_CHECK);
	sh("cp %s %s.orig", img, img);
	cr_assert_eq(open_node(&n, true, why), 0, "%s", why);
	cr_expect(n.readonly);
	cr_expect_eq(io(&n, BLK_OP_READ, 1024 * CL, buf, CL), E);
	cr_expect_eq(io(&n, BLK_OP_READ, 1025 * CL, buf, CL), E);
	cr_expect_eq(io(&n, BLK_OP_READ, 0, buf, CL), 0);
	cr_expect_eq(buf[0], 0x11);
	cr_expect_eq(io(&n, BLK_OP_READ, 2048 * CL, buf, CL), 0);
	cr_expect_eq(buf[0], 0);
	cr_expect_eq(io(&n, BLK_OP_WRITE, 0, buf, CL), -EROFS);
	blk_close(&n);
	sh("cmp %s %s.orig", img, img);
	free(buf);
}
