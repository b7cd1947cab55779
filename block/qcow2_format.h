/* The qcow2 on-disk format (docs/interop/qcow2.rst in QEMU): the header,
 * its checks, and the table entry bits. Pure functions on bytes, shared
 * by the qcow2 driver and `vmm img`; no state, any thread. */
#ifndef BLOCK_QCOW2_FORMAT_H
#define BLOCK_QCOW2_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
/* QEMU's limits, so that every image it writes opens and no header can
 * make us allocate more. */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_MAX_BACKING_NAME 1023

#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_NAMES 0x6803f857u

/* Table entries: a cluster offset in bits 9..55. */
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_COPIED (1ull << 63)     /* refcount exactly 1 */
#define QCOW2_COMPRESSED (1ull << 62) /* L2 */
#define QCOW2_ZERO 1ull		      /* L2, version 3: reads as zeroes */

struct qcow2_header {
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t size; /* virtual disk bytes */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t reftable_offset;
	uint32_t reftable_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible, compatible, autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint64_t backing_offset;
	uint32_t backing_size;
	char backing[QCOW2_MAX_BACKING_NAME + 1];
	char backing_format[32];
};

/* Parses and checks the header in buf (the file's first len bytes, at
 * least one cluster or the whole file) against a file of file_size
 * bytes. 0, or -EINVAL / -ENOTSUP with why filled in. */
int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size,
		       struct qcow2_header *h, char *why, size_t why_len);

/* L1 entries a disk of size bytes needs. */
uint64_t qcow2_l1_entries(uint64_t size, uint32_t cluster_bits);

/* Encodes h (version 2 or 3) into buf (one cluster, zeroed first), with
 * a backing format extension when h->backing_format is set and the
 * backing name after the extensions. -EINVAL when it does not fit. */
int qcow2_header_write(const struct qcow2_header *h, uint8_t *buf, size_t len);

/* One entry of the snapshot table. */
struct qcow2_snapshot {
	uint64_t l1_offset;
	uint32_t l1_size;
	char id[128], name[256]; /* cut to fit, NUL-terminated */
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint32_t vm_state_size;
};

/* Parses the snapshot table entry at *pos of buf (len bytes read from
 * the table's offset) and moves *pos past it (its padding may lie past
 * len, at the end of the file). 0, or -EINVAL when it runs past len. */
int qcow2_snapshot_parse(const uint8_t *buf, size_t len, size_t *pos,
			 struct qcow2_snapshot *out);

#endif
