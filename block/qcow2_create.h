/* Creating an empty qcow2 image (block/qcow2_create.c). */
#ifndef BLOCK_QCOW2_CREATE_H
#define BLOCK_QCOW2_CREATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct qcow2_create_opts {
	uint64_t size;		    /* virtual bytes */
	unsigned version;	    /* 2 or 3 */
	unsigned cluster_bits;	    /* 9..21 */
	unsigned refcount_order;    /* 0..6 (version 3; 2 uses 4) */
	bool lazy_refcounts;	    /* version 3 */
	const char *backing;	    /* name as stored, or NULL */
	const char *backing_format; /* or NULL */
	enum qcow2_prealloc {
		QCOW2_PREALLOC_OFF,
		QCOW2_PREALLOC_METADATA, /* every L2 table and data cluster
					  * allocated, the data a hole */
		QCOW2_PREALLOC_FALLOC,	 /* ... and fallocated */
		QCOW2_PREALLOC_FULL,	 /* ... and written with zeroes */
	} prealloc; /* not with a backing file (as qemu-img) */
};

/* Writes the image into fd (truncated first) and syncs it: header,
 * refcount table, refcount blocks, L1 table, then (preallocated) every L2
 * table and the data clusters in guest order. 0, or -errno with why
 * filled in. */
int qcow2_create(int fd, const struct qcow2_create_opts *c, char *why,
		 size_t why_len);

#endif
