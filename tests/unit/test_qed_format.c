/* block/qed_format: qed_header_encode and qed_header_parse round-trip
 * every field; hostile headers, each a mutation of a valid one, are
 * refused with the exact error code and a reason naming that mutation
 * (so a refusal for another reason fails); 20000 seeded random mutations
 * and truncations never crash the parser, and whatever it accepts keeps
 * the invariants the QED driver relies on (bounded sizes, an aligned
 * in-file L1 table past the header, a clean backing name inside the
 * header); qed_max_image_size at its edges; qed_create writes what
 * qemu-img writes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qed_format.h"

#define CLUSTER 65536u
#define FILE_SIZE (5ull * CLUSTER) /* header, L1 of 4 clusters */

/* Byte offsets of the header's fields. */
enum {
	O_MAGIC = 0,
	O_CLUSTER = 4,
	O_TABLE = 8,
	O_HEADER_SIZE = 12,
	O_FEATURES = 16,
	O_COMPAT = 24,
	O_AUTOCLEAR = 32,
	O_L1 = 40,
	O_SIZE = 48,
	O_NAME_OFF = 56,
	O_NAME_SIZE = 60,
	O_NAME = 64,
};

static void valid_header(struct qed_header *h)
{
	memset(h, 0, sizeof(*h));
	h->cluster_size = CLUSTER;
	h->table_size = 4;
	h->header_size = 1;
	h->features = QED_F_BACKING_FILE | QED_F_BACKING_NO_PROBE;
	h->compat_features = 0x10;
	h->autoclear_features = 0x20;
	h->l1_offset = CLUSTER;
	h->image_size = 1ull << 30;
	h->backing_offset = O_NAME;
	strcpy(h->backing, "base.raw");
	h->backing_size = 8;
}

static void build(uint8_t *buf)
{
	struct qed_header h;

	valid_header(&h);
	memset(buf, 0, CLUSTER);
	cr_assert_eq(qed_header_encode(&h, buf, CLUSTER), 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Parses the first len bytes of buf (a CLUSTER-byte array) from a heap
 * copy of exactly len bytes when shorter, so that the sanitizers see any
 * read past len. */
static int parse(const uint8_t *buf, size_t len, uint64_t file_size,
		 struct qed_header *h, char *why, size_t why_len)
{
	uint8_t *copy;
	int r;

	why[0] = 0;
	if (len == CLUSTER)
		return qed_header_parse(buf, len, file_size, h, why, why_len);
	copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	r = qed_header_parse(copy, len, file_size, h, why, why_len);
	free(copy);
	return r;
}

#define SAME(f)                                                                \
	cr_assert_eq(got.f, want.f, #f ": %llu, want %llu",                    \
		     (unsigned long long)got.f, (unsigned long long)want.f)

Test(qed_format, round_trip)
{
	static uint8_t buf[CLUSTER];
	struct qed_header want, got;
	char why[160];
	int r;

	valid_header(&want);
	cr_assert_eq(qed_header_encode(&want, buf, sizeof(buf)), 0);
	cr_assert_eq(memcmp(buf, "QED\0", 4), 0);
	cr_assert_eq(memcmp(buf + O_NAME, "base.raw", 8), 0);
	r = parse(buf, sizeof(buf), FILE_SIZE, &got, why, sizeof(why));
	cr_assert_eq(r, 0, "%d (%s)", r, why);
	SAME(cluster_size);
	SAME(table_size);
	SAME(header_size);
	SAME(features);
	SAME(compat_features);
	SAME(autoclear_features);
	SAME(l1_offset);
	SAME(image_size);
	SAME(backing_offset);
	SAME(backing_size);
	cr_assert_str_eq(got.backing, want.backing);

	/* Without a backing file the name fields are not looked at. */
	want.features = QED_F_NEED_CHECK;
	want.backing_offset = 7;
	want.backing_size = 99999;
	cr_assert_eq(qed_header_encode(&want, buf, sizeof(buf)), 0);
	r = parse(buf, sizeof(buf), FILE_SIZE, &got, why, sizeof(why));
	cr_assert_eq(r, 0, "%d (%s)", r, why);
	SAME(features);
	cr_assert_str_eq(got.backing, "");
}

Test(qed_format, encode_refuses_what_does_not_fit)
{
	static uint8_t buf[CLUSTER];
	struct qed_header h;

	valid_header(&h);
	cr_assert_eq(qed_header_encode(&h, buf, 63), -EINVAL);
	cr_assert_eq(qed_header_encode(&h, buf, O_NAME + 7), -EINVAL);
	cr_assert_eq(qed_header_encode(&h, buf, O_NAME + 8), 0);
	h.backing_offset = 60; /* over the fields */
	cr_assert_eq(qed_header_encode(&h, buf, CLUSTER), -EINVAL);
	h.backing_offset = O_NAME;
	h.backing[0] = 0; /* a backing file without a name */
	cr_assert_eq(qed_header_encode(&h, buf, CLUSTER), -EINVAL);
}

struct patch {
	uint16_t off;
	uint8_t width; /* 1, 4 or 8 bytes; 0 ends the list */
	uint64_t val;
};

#define P1(o, v) ((struct patch){ (o), 1, (v) })
#define P4(o, v) ((struct patch){ (o), 4, (v) })
#define P8(o, v) ((struct patch){ (o), 8, (v) })
#define NONE P1(0, 'Q') /* the magic's first byte, as it is */

static uint8_t valid[CLUSTER];

/* The valid header with patches p applied, its first len bytes (0: the
 * cluster) parsed against a file of file_size (0: FILE_SIZE) bytes, is
 * refused with err and a reason that says want. */
static void refused(int line, size_t len, uint64_t file_size, int err,
		    const char *want, const struct patch *p)
{
	static uint8_t buf[CLUSTER];
	struct qed_header h;
	char why[200];
	int r;

	memcpy(buf, valid, CLUSTER);
	for (; p->width; p++)
		if (p->width == 1)
			buf[p->off] = (uint8_t)p->val;
		else if (p->width == 4)
			put_le32(buf + p->off, (uint32_t)p->val);
		else
			qed_put_le64(buf + p->off, p->val);
	r = parse(buf, len ? len : CLUSTER, file_size ? file_size : FILE_SIZE,
		  &h, why, sizeof(why));
	cr_expect_eq(r, err, "line %d: returned %d (%s), want %d", line, r, why,
		     err);
	cr_expect(strstr(why, want), "line %d: \"%s\" does not say \"%s\"",
		  line, why, want);
}

#define BAD(len, fs, err, want, ...)                                           \
	refused(__LINE__, (len), (fs), (err), (want),                          \
		(const struct patch[]){ __VA_ARGS__, { 0, 0, 0 } })

Test(qed_format, hostile_headers_refused_for_their_reason)
{
	build(valid);
	BAD(63, 0, -EINVAL, "not a QED image", NONE);
	BAD(0, 0, -EINVAL, "not a QED image", P1(O_MAGIC + 3, 1));
	BAD(0, 0, -EINVAL, "not a QED image", P1(O_MAGIC, 'q'));
	BAD(0, 0, -ENOTSUP, "unknown QED features 0x8", P8(O_FEATURES, 0xf));
	BAD(0, 0, -ENOTSUP, "unknown QED features 0x8000000000000000",
	    P8(O_FEATURES, 1ull << 63 | 1));
	/* Unknown features win over everything else wrong. */
	BAD(0, 0, -ENOTSUP, "unknown QED features 0x10", P8(O_FEATURES, 0x10),
	    P4(O_CLUSTER, 3));
	BAD(0, 0, -EINVAL, "cluster size 2048 is not a power of 2",
	    P4(O_CLUSTER, 2048));
	BAD(0, 0, -EINVAL, "cluster size 134217728 is not",
	    P4(O_CLUSTER, 128u << 20));
	BAD(0, 0, -EINVAL, "cluster size 65537 is not", P4(O_CLUSTER, 65537));
	BAD(0, 0, -EINVAL, "cluster size 0 is not", P4(O_CLUSTER, 0));
	BAD(0, 0, -EINVAL, "table size 0 is not a power of 2 from 1 to 16",
	    P4(O_TABLE, 0));
	BAD(0, 0, -EINVAL, "table size 3 is not", P4(O_TABLE, 3));
	BAD(0, 0, -EINVAL, "table size 32 is not", P4(O_TABLE, 32));
	BAD(0, 0, -ENOTSUP,
	    "tables of 134217728 bytes (cluster size 67108864 x table size 2)",
	    P4(O_CLUSTER, 64u << 20), P4(O_TABLE, 2));
	BAD(0, 0, -EINVAL, "header size of 0 clusters is out of range",
	    P4(O_HEADER_SIZE, 0));
	BAD(0, 0, -EINVAL, "header size of 65536 clusters is out of range",
	    P4(O_HEADER_SIZE, 65536));
	BAD(0, 0, -EINVAL, "image size 1073741825 is not a multiple of 512",
	    P8(O_SIZE, (1ull << 30) + 1));
	/* 64 KiB clusters, 4 per table: 32768 entries, 2^30 * 2^16 bytes. */
	BAD(0, 0, -EINVAL,
	    "image size 70368744178176 is larger than the 70368744177664",
	    P8(O_SIZE, (1ull << 46) + 512));
	BAD(0, 0, -EINVAL,
	    "L1 table at 0x10200 (262144 bytes) is unaligned, in the header "
	    "or past the end of the file",
	    P8(O_L1, CLUSTER + 512));
	BAD(0, 0, -EINVAL, "L1 table at 0 (262144 bytes)", P8(O_L1, 0));
	BAD(0, 0, -EINVAL, "L1 table at 0x10000 (262144 bytes)",
	    P4(O_HEADER_SIZE, 2));
	BAD(0, FILE_SIZE - 1, -EINVAL, "L1 table at 0x10000 (262144 bytes)",
	    NONE);
	BAD(0, UINT64_MAX, -EINVAL,
	    "L1 table at 0xffffffffffff0000 (262144 bytes)", /* wraps */
	    P8(O_L1, -(uint64_t)CLUSTER));
	BAD(0, 0, -EINVAL, "backing file name at 64 (0 bytes) is empty",
	    P4(O_NAME_SIZE, 0));
	BAD(0, 0, -EINVAL, "backing file name at 64 (1024 bytes) is empty",
	    P4(O_NAME_SIZE, 1024));
	BAD(0, 0, -EINVAL, "backing file name at 63 (8 bytes)",
	    P4(O_NAME_OFF, 63));
	BAD(0, 0, -EINVAL, "backing file name at 65530 (8 bytes)",
	    P4(O_NAME_OFF, CLUSTER - 6));
	BAD(0, 0, -EINVAL, "backing file name at 4294967295 (8 bytes)",
	    P4(O_NAME_OFF, UINT32_MAX));
	BAD(O_NAME + 7, 0, -EINVAL,
	    "backing file name at 64 (8 bytes) lies past the first 71 bytes",
	    NONE);
	BAD(0, 0, -EINVAL, "backing file name at 64 holds a NUL byte",
	    P1(O_NAME + 3, 0));
}

/* The edges just inside each limit are accepted. */
Test(qed_format, limits_accepted)
{
	static uint8_t buf[CLUSTER];
	struct qed_header h;
	char why[200];
	int r;

	/* An L1 table ending at the file's end; a partial cluster after
	 * it is not part of the image but does no harm. */
	build(buf);
	r = parse(buf, CLUSTER, FILE_SIZE, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	r = parse(buf, CLUSTER, FILE_SIZE + 4095, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	/* The largest image the tables map; a name of 1023 bytes ending at
	 * the end of the header; the known features; 4 KiB clusters. */
	qed_put_le64(buf + O_SIZE, 1ull << 46);
	put_le32(buf + O_NAME_SIZE, 1023);
	put_le32(buf + O_NAME_OFF, CLUSTER - 1023);
	memset(buf + CLUSTER - 1023, 'n', 1023);
	qed_put_le64(buf + O_FEATURES, QED_F_KNOWN);
	r = parse(buf, CLUSTER, FILE_SIZE, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	cr_assert_eq(strlen(h.backing), 1023);
	build(buf);
	put_le32(buf + O_CLUSTER, 4096);
	put_le32(buf + O_TABLE, 16);
	qed_put_le64(buf + O_L1, 4096);
	qed_put_le64(buf + O_SIZE, 0);
	r = parse(buf, CLUSTER, 17 * 4096, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	/* 64 MiB clusters, tables of one cluster: at vmm's table limit. */
	build(buf);
	put_le32(buf + O_CLUSTER, 64u << 20);
	put_le32(buf + O_TABLE, 1);
	qed_put_le64(buf + O_L1, 64u << 20);
	r = parse(buf, CLUSTER, 128u << 20, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	/* A header of two clusters holding the name in the second. */
	build(buf);
	put_le32(buf + O_CLUSTER, 4096);
	put_le32(buf + O_TABLE, 1);
	put_le32(buf + O_HEADER_SIZE, 2);
	qed_put_le64(buf + O_L1, 8192);
	put_le32(buf + O_NAME_OFF, 5000);
	memcpy(buf + 5000, "far.img", 8);
	put_le32(buf + O_NAME_SIZE, 7);
	qed_put_le64(buf + O_SIZE, 1 << 20);
	r = parse(buf, CLUSTER, 12288, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	cr_assert_str_eq(h.backing, "far.img");
}

Test(qed_format, max_image_size_edges)
{
	cr_assert_eq(qed_max_image_size(4096, 1), 1ull << 30);
	cr_assert_eq(qed_max_image_size(65536, 4), 1ull << 46);
	cr_assert_eq(qed_max_image_size(64u << 20, 16), UINT64_MAX);
	cr_assert_eq(qed_max_image_size(1u << 22, 1), 1ull << 60);
	cr_assert_eq(qed_max_image_size(1u << 22, 2), 1ull << 62);
	cr_assert_eq(qed_max_image_size(1u << 22, 4), UINT64_MAX);
	cr_assert_eq(qed_max_image_size(2048, 1), 0);
	cr_assert_eq(qed_max_image_size(4096, 3), 0);
}

#define INV(cond) cr_assert(cond, "mutation %d accepted with !(%s)", i, #cond)

static void check_accepted(const struct qed_header *h, const uint8_t *buf,
			   size_t len, uint64_t fs, int i)
{
	uint64_t cs = h->cluster_size, tb, hb, in_file;

	INV(!(h->features & ~QED_F_KNOWN));
	INV(cs >= 4096 && cs <= (64u << 20) && !(cs & (cs - 1)));
	INV(h->table_size >= 1 && h->table_size <= 16 &&
	    !(h->table_size & (h->table_size - 1)));
	tb = cs * h->table_size;
	INV(tb <= QED_MAX_TABLE_BYTES);
	hb = (uint64_t)h->header_size * cs;
	INV(h->header_size >= 1 && hb <= UINT32_MAX);
	INV(h->image_size % 512 == 0);
	INV(h->image_size <=
	    qed_max_image_size(h->cluster_size, h->table_size));
	in_file = fs & ~(cs - 1);
	INV(h->l1_offset % cs == 0 && h->l1_offset >= hb);
	INV(h->l1_offset <= in_file && tb <= in_file - h->l1_offset);
	if (h->features & QED_F_BACKING_FILE) {
		INV(h->backing_size >= 1 &&
		    h->backing_size <= QED_MAX_BACKING_NAME);
		INV(h->backing_offset >= QED_HEADER_LEN);
		INV((uint64_t)h->backing_offset + h->backing_size <= hb);
		INV((uint64_t)h->backing_offset + h->backing_size <= len);
		INV(strlen(h->backing) == h->backing_size);
		INV(!memcmp(h->backing, buf + h->backing_offset,
			    h->backing_size));
	} else {
		INV(!h->backing[0]);
	}
}

Test(qed_format, random_mutations_keep_invariants)
{
	static uint8_t base[CLUSTER], buf[CLUSTER];
	struct qed_header h;
	char why[200];
	int accepted = 0;

	build(base);
	memcpy(buf, base, CLUSTER); /* zeroes past 128 */
	srand(1);
	for (int i = 0; i < 20000; i++) {
		size_t len = CLUSTER;
		uint64_t fs = FILE_SIZE;
		int n = 1 + rand() % 6, r;

		memcpy(buf, base, 128);
		for (int k = 0; k < n; k++)
			buf[rand() % 80] ^= (uint8_t)(1 << rand() % 8);
		if (rand() % 4 == 0)
			len = rand() % 4 ? (size_t)(rand() % 129)
					 : (size_t)(rand() % (CLUSTER + 1));
		if (rand() % 8 == 0)
			fs = (uint64_t)rand() % (8ull * CLUSTER);
		r = parse(buf, len, fs, &h, why, sizeof(why));
		cr_assert(r == 0 || r == -EINVAL || r == -ENOTSUP,
			  "mutation %d: returned %d", i, r);
		if (r) {
			cr_assert(why[0], "mutation %d: no reason", i);
			continue;
		}
		accepted++;
		check_accepted(&h, buf, len, fs, i);
	}
	/* Many mutations miss what matters: the accept path was exercised. */
	cr_assert_gt(accepted, 1000);
}

static char dir[] = "/tmp/vmm-qedfmt-XXXXXX";

static void sh(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Byte for byte what qemu-img create -f qed writes, with and without a
 * raw backing file. */
Test(qed_format, create_matches_qemu_img)
{
	const char *cases[][4] = {
		{ "65536", "4", NULL, NULL },
		{ "4096", "1", "base.raw", "raw" },
		{ "1048576", "16", "sub/base.qcow2", "qcow2" },
	};
	char cmd[512], mine[80], theirs[80], why[160];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(mine, sizeof(mine), "%s/mine.qed", dir);
	snprintf(theirs, sizeof(theirs), "%s/theirs.qed", dir);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char **c = cases[i];
		int fd = open(mine, O_RDWR | O_CREAT | O_TRUNC, 0644);

		cr_assert_geq(fd, 0);
		cr_assert_eq(qed_create(fd, 3 * 1048576 + 100,
					(uint32_t)atoi(c[0]),
					(uint32_t)atoi(c[1]), c[2], c[3], why,
					sizeof(why)),
			     0, "%s", why);
		close(fd);
		snprintf(cmd, sizeof(cmd),
			 "qemu-img create -q -f qed -o cluster_size=%s,"
			 "table_size=%s%s%s%s%s -u %s 3145828",
			 c[0], c[1], c[2] ? " -b " : "", c[2] ? c[2] : "",
			 c[3] ? " -F " : "", c[3] ? c[3] : "", theirs);
		sh(cmd);
		snprintf(cmd, sizeof(cmd), "cmp %s %s", mine, theirs);
		sh(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	sh(cmd);
}

Test(qed_format, create_refuses_bad_options)
{
	char why[160];

	cr_assert_eq(
		qed_create(-1, 1 << 20, 2048, 4, NULL, NULL, why, sizeof(why)),
		-EINVAL);
	cr_assert(strstr(why, "cluster size 2048"), "%s", why);
	cr_assert_eq(
		qed_create(-1, 1 << 20, 65536, 5, NULL, NULL, why, sizeof(why)),
		-EINVAL);
	cr_assert(strstr(why, "table size 5"), "%s", why);
	cr_assert_eq(qed_create(-1, (1ull << 30) + 512, 4096, 1, NULL, NULL,
				why, sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "larger than the 1073741824 bytes"), "%s", why);
	cr_assert_eq(qed_create(-1, UINT64_MAX, 65536, 4, NULL, NULL, why,
				sizeof(why)),
		     -EINVAL);
}
