/* block/qcow2_format: qcow2_header_write and qcow2_header_parse round-trip
 * every field of a v2 and a v3 header; hostile headers, each a mutation
 * of a valid one, is refused with the exact error code and a
 * reason naming that mutation (so a refusal for another reason fails);
 * 20000 seeded random mutations and truncations never crash the parser,
 * and whatever it accepts keeps the invariants the qcow2 driver relies on
 * (bounded, aligned, in-file, non-overlapping tables, a clean backing
 * name); and qcow2_l1_entries at its edges. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/qcow2_format.h"
#include "lib/bytes.h"

#define CLUSTER 65536u
#define FILE_SIZE (4ull * CLUSTER) /* header, reftable, snapshots, L1 */

/* Byte offsets of the header's fields. */
enum {
	O_MAGIC = 0,
	O_VERSION = 4,
	O_BACKING_OFF = 8,
	O_BACKING_SIZE = 16,
	O_CLUSTER_BITS = 20,
	O_SIZE = 24,
	O_CRYPT = 32,
	O_L1_SIZE = 36,
	O_L1_OFF = 40,
	O_RT_OFF = 48,
	O_RT_CLUSTERS = 56,
	O_NB_SNAP = 60,
	O_SNAP_OFF = 64,
	O_INCOMPAT = 72,
	O_REFCOUNT_ORDER = 96,
	O_HEADER_LEN = 100,
	O_COMPRESSION = 104,
	/* In the v3 header below: the backing format extension at 104
	 * (type, length, "raw" padded to 8), the end one at 120, then the
	 * backing name "base.raw" at 128. */
	O_EXT_LEN = 108,
	O_BACKING = 128,
};

static void valid_header(struct qcow2_header *h, uint32_t version)
{
	memset(h, 0, sizeof(*h));
	h->version = version;
	h->cluster_bits = 16;
	h->size = 1ull << 30;
	h->l1_size = 2; /* each L2 table maps 512 MiB */
	h->l1_offset = 3 * CLUSTER;
	h->reftable_offset = CLUSTER;
	h->reftable_clusters = 1;
	h->nb_snapshots = 1;
	h->snapshots_offset = 2 * CLUSTER;
	h->refcount_order = 4;
	h->header_length =
		version == 2 ? QCOW2_V2_HEADER_LEN : QCOW2_V3_HEADER_LEN;
	if (version == 3) {
		h->incompatible = QCOW2_INCOMPAT_DIRTY;
		h->compatible = QCOW2_COMPAT_LAZY_REFCOUNTS;
		h->autoclear = 1;
	}
	strcpy(h->backing, "base.raw");
	strcpy(h->backing_format, "raw");
	h->backing_size = 8;
	/* After the 16-byte format extension and the 8-byte end one. */
	h->backing_offset = h->header_length + 16 + 8;
}

static void build(uint8_t *buf, uint32_t version)
{
	struct qcow2_header h;

	valid_header(&h, version);
	cr_assert_eq(qcow2_header_write(&h, buf, CLUSTER), 0);
}

/* Parses the first len bytes of buf (a CLUSTER-byte array) from a heap
 * copy of exactly len bytes when shorter, so that the sanitizers see any
 * read past len (and past the array's end, by its redzone, otherwise). */
static int parse(const uint8_t *buf, size_t len, uint64_t file_size,
		 struct qcow2_header *h, char *why, size_t why_len)
{
	uint8_t *copy;
	int r;

	why[0] = 0;
	if (len == CLUSTER)
		return qcow2_header_parse(buf, len, file_size, h, why, why_len);
	copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	r = qcow2_header_parse(copy, len, file_size, h, why, why_len);
	free(copy);
	return r;
}

#define SAME(f)                                                                \
	cr_assert_eq(got->f, want->f, #f ": %llu, want %llu",                  \
		     (unsigned long long)got->f, (unsigned long long)want->f)

static void assert_same(const struct qcow2_header *got,
			const struct qcow2_header *want)
{
	SAME(version);
	SAME(cluster_bits);
	SAME(size);
	SAME(l1_size);
	SAME(l1_offset);
	SAME(reftable_offset);
	SAME(reftable_clusters);
	SAME(nb_snapshots);
	SAME(snapshots_offset);
	SAME(incompatible);
	SAME(compatible);
	SAME(autoclear);
	SAME(refcount_order);
	SAME(header_length);
	SAME(backing_offset);
	SAME(backing_size);
	cr_assert_str_eq(got->backing, want->backing);
	cr_assert_str_eq(got->backing_format, want->backing_format);
}

static void round_trip(uint32_t version)
{
	static uint8_t buf[CLUSTER];
	struct qcow2_header want, got;
	char why[160];
	int r;

	valid_header(&want, version);
	cr_assert_eq(qcow2_header_write(&want, buf, sizeof(buf)), 0);
	r = parse(buf, sizeof(buf), FILE_SIZE, &got, why, sizeof(why));
	cr_assert_eq(r, 0, "v%u: %d (%s)", version, r, why);
	assert_same(&got, &want);
}

Test(qcow2_format, v3_round_trip)
{
	round_trip(3);
}

Test(qcow2_format, v2_round_trip)
{
	round_trip(2);
}

Test(qcow2_format, write_refuses_a_buffer_too_small)
{
	static uint8_t buf[CLUSTER];
	struct qcow2_header h;

	valid_header(&h, 3);
	cr_assert_eq(qcow2_header_write(&h, buf, 104 + 48 + 7), -EINVAL);
	cr_assert_eq(qcow2_header_write(&h, buf, 104 + 48 + 8), 0);
}

struct patch {
	uint16_t off;
	uint8_t width; /* 1, 4 or 8 bytes; 0 ends the list */
	uint64_t val;
};

#define P1(o, v) ((struct patch){ (o), 1, (v) })
#define P4(o, v) ((struct patch){ (o), 4, (v) })
#define P8(o, v) ((struct patch){ (o), 8, (v) })
#define NONE P1(0, 0x51) /* the magic's first byte, as it is */
#define NO_BACKING P8(O_BACKING_OFF, 0)

static uint8_t valid[CLUSTER];

/* The valid v3 header with patches p applied, its first len bytes (0:
 * the cluster) parsed against a file of file_size (0: FILE_SIZE) bytes,
 * is refused with err and a reason that says want. */
static void refused(int line, size_t len, uint64_t file_size, int err,
		    const char *want, const struct patch *p)
{
	static uint8_t buf[CLUSTER];
	struct qcow2_header h;
	char why[160];
	int r;

	memcpy(buf, valid, CLUSTER);
	for (; p->width; p++)
		if (p->width == 1)
			buf[p->off] = (uint8_t)p->val;
		else if (p->width == 4)
			put_be32(buf + p->off, (uint32_t)p->val);
		else
			put_be64(buf + p->off, p->val);
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

Test(qcow2_format, hostile_headers_refused_for_their_reason)
{
	build(valid, 3);
	BAD(71, 0, -EINVAL, "not a qcow2 image", NONE);
	BAD(71, 0, -EINVAL, "not a qcow2 image", P4(O_VERSION, 2));
	BAD(0, 0, -EINVAL, "not a qcow2 image", P4(O_MAGIC, 0x514649fa));
	BAD(0, 0, -ENOTSUP, "qcow2 version 1 is not", P4(O_VERSION, 1));
	BAD(0, 0, -ENOTSUP, "qcow2 version 4 is not", P4(O_VERSION, 4));
	BAD(0, 0, -EINVAL, "cluster size 2^8 is not", P4(O_CLUSTER_BITS, 8));
	BAD(0, 0, -EINVAL, "cluster size 2^22 is not", P4(O_CLUSTER_BITS, 22));
	BAD(0, 0, -ENOTSUP, "encrypted images are not", P4(O_CRYPT, 1));
	BAD(103, 0, -EINVAL, "truncated header", NONE);
	BAD(0, 0, -EINVAL, "bad header length 100", P4(O_HEADER_LEN, 100));
	BAD(0, 0, -EINVAL, "bad header length 105", P4(O_HEADER_LEN, 105));
	/* Larger than its 512 B cluster; larger than len. */
	BAD(0, 0, -EINVAL, "header length 520 does not fit its cluster",
	    P4(O_CLUSTER_BITS, 9), P4(O_HEADER_LEN, 520), P1(O_COMPRESSION, 0));
	BAD(110, 0, -EINVAL, "truncated header: 110 of 112 bytes",
	    P4(O_HEADER_LEN, 112), P1(O_COMPRESSION, 0));
	BAD(0, 0, -EINVAL, "refcount order 7 > 6", P4(O_REFCOUNT_ORDER, 7));
	BAD(0, 0, -EINVAL, "virtual size 4611686018427387904",
	    P8(O_SIZE, 1ull << 62));
	BAD(0, 0, -EINVAL, "L1 table of 1 entries for a 1073741824 byte disk",
	    P4(O_L1_SIZE, 1));
	BAD(0, 1ull << 40, -EINVAL, "L1 table of 4194305 entries",
	    P4(O_L1_SIZE, (32u << 20) / 8 + 1));
	BAD(0, 0, -EINVAL, "L1 table at 0x30008 (16 bytes) is unaligned",
	    P8(O_L1_OFF, 3 * CLUSTER + 8));
	BAD(0, 0, -EINVAL, "L1 table at 0 (16 bytes)", P8(O_L1_OFF, 0));
	BAD(0, 3 * CLUSTER + 8, -EINVAL, "L1 table at 0x30000 (16 bytes)",
	    NONE);
	BAD(0, UINT64_MAX, -EINVAL,
	    "L1 table at 0xffffffffffff0000 (65544 bytes)", /* wraps */
	    P8(O_L1_OFF, -(uint64_t)CLUSTER), P4(O_L1_SIZE, CLUSTER / 8 + 1));
	BAD(0, 0, -EINVAL, "refcount table at 0x10000 (0 clusters)",
	    P4(O_RT_CLUSTERS, 0));
	BAD(0, 1ull << 40, -EINVAL, "refcount table at 0x10000 (129 clusters)",
	    P4(O_RT_CLUSTERS, 129));
	BAD(0, 0, -EINVAL, "refcount table at 0x10200 (1 clusters)",
	    P8(O_RT_OFF, CLUSTER + 512));
	BAD(0, 0, -EINVAL, "refcount table at 0 (1 clusters)", P8(O_RT_OFF, 0));
	BAD(0, 0, -EINVAL, "refcount table at 0x40000 (1 clusters)",
	    P8(O_RT_OFF, 4 * CLUSTER));
	BAD(0, 0, -EINVAL, "L1 table and refcount table overlap",
	    P4(O_RT_CLUSTERS, 3));
	BAD(0, 0, -EINVAL, "snapshot table at 0x20100",
	    P8(O_SNAP_OFF, 2 * CLUSTER + 256));
	BAD(0, 0, -EINVAL, "snapshot table at 0 is", P8(O_SNAP_OFF, 0));
	BAD(0, 0, -EINVAL, "snapshot table at 0x40000",
	    P8(O_SNAP_OFF, 4 * CLUSTER));
	BAD(0, 0, -EINVAL, "backing file name at 128 (0 bytes)",
	    P4(O_BACKING_SIZE, 0));
	BAD(0, 0, -EINVAL, "backing file name at 128 (1024 bytes)",
	    P4(O_BACKING_SIZE, 1024));
	BAD(0, 0, -EINVAL, "backing file name at 65530 (8 bytes)",
	    P8(O_BACKING_OFF, CLUSTER - 6));
	BAD(O_BACKING + 7, 0, -EINVAL, "backing file name at 128 (8 bytes)",
	    NONE);
	BAD(0, 0, -EINVAL, "backing file name at 16 (8 bytes)",
	    P8(O_BACKING_OFF, 16));
	/* Read as v2: a 72-byte header (incompatible's top half, 0, ends
	 * the extensions). */
	BAD(0, 0, -EINVAL, "backing file name at 64 (8 bytes)",
	    P4(O_VERSION, 2), P8(O_BACKING_OFF, 64));
	BAD(0, 0, -EINVAL, "backing file name holds a NUL byte",
	    P1(O_BACKING + 3, 0));
	/* Past the backing name that ends the extensions; past the cluster. */
	BAD(0, 0, -EINVAL,
	    "header extension 0xe2792aca at 104: length 17 runs past",
	    P4(O_EXT_LEN, 17));
	BAD(0, 0, -EINVAL,
	    "header extension 0xe2792aca at 104: length 65425 runs past",
	    NO_BACKING, P4(O_EXT_LEN, CLUSTER - 112 + 1));
	BAD(0, 0, -EINVAL, "backing format name of 40 bytes is too long",
	    NO_BACKING, P4(O_EXT_LEN, 40));
	BAD(0, 0, -EINVAL, "backing format name of 32 bytes is too long",
	    NO_BACKING, P4(O_EXT_LEN, 32));
	BAD(0, 0, -ENOTSUP, "unknown incompatible features 0x20",
	    P8(O_INCOMPAT, 1ull << 5));
	BAD(0, 0, -ENOTSUP, "unknown incompatible features 0x8000000000000000",
	    P8(O_INCOMPAT, 1ull << 63));
	BAD(0, 0, -ENOTSUP, "external data files are not supported",
	    P8(O_INCOMPAT, QCOW2_INCOMPAT_DATA_FILE));
	BAD(0, 0, -ENOTSUP, "compression types other than zlib",
	    P8(O_INCOMPAT, QCOW2_INCOMPAT_COMPRESSION));
	BAD(0, 0, -ENOTSUP, "extended L2 entries (subclusters) are not",
	    P8(O_INCOMPAT, QCOW2_INCOMPAT_EXTL2));
	BAD(0, 0, -ENOTSUP, "compression type 1 is not supported",
	    P4(O_HEADER_LEN, 112), P1(O_COMPRESSION, 1));
}

/* The edges just inside each limit are accepted. */
Test(qcow2_format, limits_accepted)
{
	static uint8_t buf[CLUSTER];
	struct qcow2_header h;
	char why[160];
	int r;

	build(buf, 3);
	/* L1 ending at the file's end; no snapshots, so their offset is not
	 * looked at; refcount order 6. */
	put_be32(buf + O_NB_SNAP, 0);
	put_be64(buf + O_SNAP_OFF, 3);
	put_be32(buf + O_REFCOUNT_ORDER, 6);
	r = parse(buf, CLUSTER, 3 * CLUSTER + 16, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	r = parse(buf, CLUSTER, 3 * CLUSTER + 15, &h, why, sizeof(why));
	cr_assert_eq(r, -EINVAL);
	cr_assert(strstr(why, "L1 table at 0x30000"), "%s", why);
	/* A reftable of 128 clusters (8 MiB) at the file's end. */
	put_be64(buf + O_RT_OFF, 4 * CLUSTER);
	put_be32(buf + O_RT_CLUSTERS, 128);
	r = parse(buf, CLUSTER, 132 * CLUSTER, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);

	/* An unknown extension ending exactly at the cluster's end; a
	 * backing format of 31 bytes. */
	build(buf, 3);
	put_be64(buf + O_BACKING_OFF, 0);
	put_be32(buf + 104, 0x12345678);
	put_be32(buf + O_EXT_LEN, CLUSTER - 112);
	r = parse(buf, CLUSTER, FILE_SIZE, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	build(buf, 3);
	put_be64(buf + O_BACKING_OFF, 0);
	put_be32(buf + O_EXT_LEN, 31);
	memset(buf + 112, 'f', 31);
	r = parse(buf, CLUSTER, FILE_SIZE, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	cr_assert_eq(strlen(h.backing_format), 31);

	/* A header_length of 112 with compression type 0 (zlib). */
	build(buf, 3);
	put_be64(buf + O_BACKING_OFF, 0);
	put_be32(buf + O_HEADER_LEN, 112);
	memset(buf + 104, 0, 24);
	r = parse(buf, CLUSTER, FILE_SIZE, &h, why, sizeof(why));
	cr_assert_eq(r, 0, "%s", why);
	cr_assert_eq(h.header_length, 112);
}

/* A regression found by this file: with version 3, len 104 and a
 * header_length of 112, the parser once read the compression type at
 * buf[104], one byte past len, and answered by it. The right answer is
 * -EINVAL for the truncated header whatever lies past len; the buffer
 * here holds a 1 at buf[104] just past len to show it. */
Test(qcow2_format, header_length_past_len_reads_nothing_past_len)
{
	static uint8_t full[CLUSTER];
	struct qcow2_header h;
	char why[160] = "";
	uint8_t *buf = malloc(105);
	int r;

	cr_assert_not_null(buf);
	build(full, 3);
	put_be32(full + O_HEADER_LEN, 112);
	memcpy(buf, full, 104);
	buf[104] = 1; /* not part of the header handed over */
	r = qcow2_header_parse(buf, 104, FILE_SIZE, &h, why, sizeof(why));
	free(buf);
	cr_expect_eq(r, -EINVAL, "returned %d (%s), want -EINVAL", r, why);
	cr_expect(strstr(why, "header length 112") || strstr(why, "truncated"),
		  "\"%s\" does not say the header is truncated", why);
}

#define INV(cond) cr_assert(cond, "mutation %d accepted with !(%s)", i, #cond)

static void check_accepted(const struct qcow2_header *h, const uint8_t *buf,
			   size_t len, uint64_t fs, int i)
{
	uint64_t cluster, l1_bytes, rt_bytes;

	INV(h->version == 2 || h->version == 3);
	INV(h->cluster_bits >= 9 && h->cluster_bits <= 21);
	cluster = 1ull << h->cluster_bits;
	l1_bytes = (uint64_t)h->l1_size * 8;
	rt_bytes = (uint64_t)h->reftable_clusters << h->cluster_bits;
	INV(h->size < 1ull << 62);
	INV(l1_bytes <= QCOW2_MAX_L1_BYTES);
	INV(h->l1_size >= qcow2_l1_entries(h->size, h->cluster_bits));
	INV(h->reftable_clusters && rt_bytes <= QCOW2_MAX_REFTABLE_BYTES);
	INV(h->reftable_offset % cluster == 0 && h->reftable_offset >= cluster);
	INV(h->reftable_offset <= fs && rt_bytes <= fs - h->reftable_offset);
	if (h->l1_size) {
		INV(h->l1_offset % cluster == 0 && h->l1_offset >= cluster);
		INV(h->l1_offset <= fs && l1_bytes <= fs - h->l1_offset);
		INV(h->l1_offset + l1_bytes <= h->reftable_offset ||
		    h->reftable_offset + rt_bytes <= h->l1_offset);
	}
	INV(h->refcount_order <= 6);
	INV(h->header_length <= cluster && h->header_length <= len);
	if (h->version == 3) {
		INV(!(h->incompatible &
		      ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)));
		INV(h->header_length <= 104 || buf[104] == 0);
	}
	if (h->nb_snapshots)
		INV(h->snapshots_offset % cluster == 0 &&
		    h->snapshots_offset >= cluster && h->snapshots_offset < fs);
	if (h->backing_offset) {
		INV(h->backing_size >= 1 &&
		    h->backing_size <= QCOW2_MAX_BACKING_NAME);
		INV(h->backing_offset >= h->header_length);
		INV(h->backing_offset <= len && h->backing_offset <= cluster);
		INV(h->backing_size <= len - h->backing_offset &&
		    h->backing_size <= cluster - h->backing_offset);
		INV(strlen(h->backing) == h->backing_size);
		INV(!memcmp(h->backing, buf + h->backing_offset,
			    h->backing_size));
	}
	INV(memchr(h->backing_format, 0, sizeof(h->backing_format)));
}

Test(qcow2_format, random_mutations_keep_invariants)
{
	static uint8_t base[2][CLUSTER], buf[CLUSTER];
	struct qcow2_header h;
	char why[160];
	int accepted = 0;

	build(base[0], 3);
	build(base[1], 2);
	memcpy(buf, base[0], CLUSTER); /* both are zeroes past 512 */
	srand(1);
	for (int i = 0; i < 20000; i++) {
		size_t len = CLUSTER;
		uint64_t fs = FILE_SIZE;
		int n = 1 + rand() % 8, r;

		memcpy(buf, base[i & 1], 512);
		for (int k = 0; k < n; k++)
			buf[rand() % 512] ^= (uint8_t)(1 + rand() % 255);
		if (rand() % 4 == 0)
			len = rand() % 4 ? (size_t)(rand() % 513)
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
	/* Most mutations miss the fields: the accept path was exercised. */
	cr_assert_gt(accepted, 1000);
}

Test(qcow2_format, l1_entries_edges)
{
	/* One L2 table of 2^(bits-3) entries maps 2^(2*bits-3) bytes. */
	cr_assert_eq(qcow2_l1_entries(0, 16), 0);
	cr_assert_eq(qcow2_l1_entries(1, 16), 1);
	cr_assert_eq(qcow2_l1_entries(1ull << 29, 16), 1);
	cr_assert_eq(qcow2_l1_entries((1ull << 29) + 1, 16), 2);
	cr_assert_eq(qcow2_l1_entries(0, 9), 0);
	cr_assert_eq(qcow2_l1_entries(1ull << 15, 9), 1);
	cr_assert_eq(qcow2_l1_entries((1ull << 15) + 1, 9), 2);
	cr_assert_eq(qcow2_l1_entries(1ull << 39, 21), 1);
	cr_assert_eq(qcow2_l1_entries((1ull << 39) + 1, 21), 2);
	/* The largest size the parser takes does not overflow. */
	cr_assert_eq(qcow2_l1_entries((1ull << 62) - 1, 21), 1ull << 23);
	cr_assert_eq(qcow2_l1_entries((1ull << 62) - 1, 9), 1ull << 47);
}

/* valid (v3) without its backing file, incompatible bits incompat set,
 * and a feature name table of n entries {type, bit, name} at 104 whose
 * declared length is ext_len (0: the entries' own). */
struct feature {
	uint8_t type, bit;
	const char *name;
};

static int parse_named(uint64_t incompat, const struct feature *f, unsigned n,
		       uint32_t ext_len, char *why, size_t why_len)
{
	static uint8_t buf[CLUSTER];
	struct qcow2_header h;
	size_t off = 104 + 8;

	memcpy(buf, valid, CLUSTER);
	put_be64(buf + O_BACKING_OFF, 0);
	put_be64(buf + O_INCOMPAT, incompat);
	memset(buf + 104, 0, CLUSTER - 104);
	put_be32(buf + 104, 0x6803f857);
	put_be32(buf + 108, ext_len ? ext_len : n * 48);
	for (unsigned i = 0; i < n; i++, off += 48) {
		buf[off] = f[i].type;
		buf[off + 1] = f[i].bit;
		memcpy(buf + off + 2, f[i].name,
		       strlen(f[i].name) < 46 ? strlen(f[i].name) : 46);
	}
	return parse(buf, CLUSTER, FILE_SIZE, &h, why, why_len);
}

/* Unknown incompatible bits are named from the image's feature name
 * table, as QEMU names them: only incompatible entries for those bits,
 * unprintable bytes shown as '?', a 46-byte name without its NUL kept
 * whole; a table that runs past the header names nothing. */
Test(qcow2_format, unknown_features_named_from_the_table)
{
	static const struct feature f[] = {
		{ 0, 5, "future-feature" },
		{ 1, 5, "a compatible bit" },
		{ 0, 6, "bad\001name" },
		{ 0, 0, "dirty bit" },
		{ 0, 9, "0123456789012345678901234567890123456789abcdefXYZ" },
	};
	char why[160];

	build(valid, 3);
	cr_assert_eq(parse_named(1ull << 5 | 1ull << 6 | 1ull << 9, f, 5, 0,
				 why, sizeof(why)),
		     -ENOTSUP);
	cr_assert_str_eq(why,
			 "unknown incompatible features 0x260 (bit 5: "
			 "future-feature, bit 6: bad?name, bit 9: "
			 "0123456789012345678901234567890123456789abcdef)");
	cr_assert_eq(parse_named(1ull << 5, f, 1, 0, why, sizeof(why)),
		     -ENOTSUP);
	cr_assert_str_eq(why, "unknown incompatible features 0x20 (bit 5: "
			      "future-feature)");
	cr_assert_eq(parse_named(1ull << 7, f, 5, 0, why, sizeof(why)),
		     -ENOTSUP);
	cr_assert_str_eq(why, "unknown incompatible features 0x80");
	cr_assert_eq(parse_named(1ull << 5, f, 1, CLUSTER, why, sizeof(why)),
		     -ENOTSUP);
	cr_assert_str_eq(why, "unknown incompatible features 0x20");
}
