/* The QED on-disk format (docs/interop/qed_spec.rst in QEMU): the header,
 * its checks, its encoding, and creating an empty image. Pure functions
 * on bytes (qed_create: plain writes on the caller's fd), shared by the
 * QED driver and `vmm img`; no state, any thread, no lock. */
#ifndef BLOCK_QED_FORMAT_H
#define BLOCK_QED_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QED_MAGIC 0x00444551u /* "QED\0", little-endian */
#define QED_HEADER_LEN 64     /* the fields; the backing name follows */

#define QED_F_BACKING_FILE 0x1ull
#define QED_F_NEED_CHECK 0x2ull
#define QED_F_BACKING_NO_PROBE 0x4ull /* the backing file is raw */
#define QED_F_KNOWN                                                            \
	(QED_F_BACKING_FILE | QED_F_NEED_CHECK | QED_F_BACKING_NO_PROBE)

#define QED_MIN_CLUSTER (4u << 10)
#define QED_MAX_CLUSTER (64u << 20)
#define QED_MAX_TABLE_SIZE 16 /* clusters per table */
/* vmm's limit, below the spec's 1 GiB (64 MiB clusters, 16 per table):
 * the L1 table and every cached L2 table are this big in memory. */
#define QED_MAX_TABLE_BYTES (64u << 20)
#define QED_MAX_BACKING_NAME 1023

/* L2 entries: 0 unallocated (backing file or zeroes), 1 a zero cluster,
 * else the data cluster's offset in the file. */
#define QED_UNALLOCATED 0ull
#define QED_ZERO_CLUSTER 1ull

struct qed_header {
	uint32_t cluster_size; /* bytes */
	uint32_t table_size;   /* clusters per L1 or L2 table */
	uint32_t header_size;  /* clusters */
	uint64_t features, compat_features, autoclear_features;
	uint64_t l1_offset;			/* bytes */
	uint64_t image_size;			/* virtual disk bytes */
	uint32_t backing_offset, backing_size;	/* with QED_F_BACKING_FILE */
	char backing[QED_MAX_BACKING_NAME + 1]; /* "" without */
};

static inline uint64_t qed_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void qed_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The largest image_size tables of that shape map (saturating). */
uint64_t qed_max_image_size(uint32_t cluster_size, uint32_t table_size);

/* Parses and checks the header in buf (the file's first len bytes: at
 * least QED_HEADER_LEN, or the whole file) against a file of file_size
 * bytes: sizes in range, the L1 table aligned, past the header and inside
 * the file, the backing name inside the header clusters and inside buf.
 * 0, or -EINVAL / -ENOTSUP (unknown features) with why filled in. */
int qed_header_parse(const uint8_t *buf, size_t len, uint64_t file_size,
		     struct qed_header *h, char *why, size_t why_len);

/* Encodes h's fields into buf's first QED_HEADER_LEN bytes and, with
 * QED_F_BACKING_FILE, h->backing at h->backing_offset (backing_size set
 * from it); nothing else of buf changes. -EINVAL when it does not fit
 * in len. */
int qed_header_encode(struct qed_header *h, uint8_t *buf, size_t len);

/* Writes an empty image into fd (truncated first) as qemu-img lays it
 * out: the header cluster (with the backing name after the fields), then
 * a zeroed L1 table. size is rounded up to 512 bytes; backing_fmt "raw"
 * sets QED_F_BACKING_NO_PROBE (QED records no other format). Syncs fd.
 * 0, or -errno with why filled in. */
int qed_create(int fd, uint64_t size, uint32_t cluster_size,
	       uint32_t table_size, const char *backing,
	       const char *backing_fmt, char *why, size_t why_len);

#endif
