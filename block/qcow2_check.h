/* Checking and repairing a qcow2 image's refcounts (vmm img check, and
 * the driver's open of an image left dirty by lazy refcounts): every
 * reference from the active L1/L2 tables, the internal snapshots' tables,
 * the refcount structure and the header is counted and compared with the
 * refcount on disk, as `qemu-img check` does. Synchronous, main thread;
 * no state. */
#ifndef BLOCK_QCOW2_CHECK_H
#define BLOCK_QCOW2_CHECK_H

#include <stdint.h>
#include <stdio.h>

#define QCOW2_FIX_LEAKS 1
#define QCOW2_FIX_ERRORS 2

struct qcow2_check_result {
	uint64_t corruptions, leaks; /* still there */
	uint64_t corruptions_fixed, leaks_fixed;
	uint64_t allocated, total, compressed, fragmented; /* clusters */
	uint64_t image_end; /* bytes: past the last cluster in use */
};

/* Checks the image in fd (read-write when fix is not 0), printing one
 * line per problem to report (NULL: none). 0 when the check ran (the
 * result says what it found), or -errno with why filled in when the
 * image could not be checked at all. */
int qcow2_check(int fd, int fix, FILE *report, struct qcow2_check_result *res,
		char *why, size_t why_len);

#endif
