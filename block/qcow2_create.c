/* Creating an empty qcow2 image (vmm img create): header, refcount
 * table, the refcount blocks that cover the metadata, and an empty L1
 * table, laid out as qemu-img lays them out. Main thread, plain writes;
 * no state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "lib/checked.h"
#include "qcow2.h"
#include "qcow2_create.h"

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(fd, buf, len, (off_t)off);

	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

int qcow2_create(int fd, const struct qcow2_create_opts *c, char *why,
		 size_t why_len)
{
	struct qcow2_header h = { 0 };
	uint64_t cluster = 1ull << c->cluster_bits, l1c, rtc = 1, rbc = 1, m;
	uint64_t per_rb, total;
	unsigned order = c->version == 2 ? 4 : c->refcount_order;
	uint8_t *buf;
	int r;

	if (c->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    c->cluster_bits > QCOW2_MAX_CLUSTER_BITS || order > 6 ||
	    (c->version != 2 && c->version != 3) ||
	    (c->lazy_refcounts && c->version == 2) || c->size >> 62) {
		snprintf(why, why_len, "invalid options");
		return -EINVAL;
	}
	h.version = c->version;
	h.cluster_bits = c->cluster_bits;
	h.size = c->size;
	h.refcount_order = order;
	h.compatible = c->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0;
	h.l1_size = (uint32_t)qcow2_l1_entries(c->size, c->cluster_bits);
	if ((uint64_t)h.l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		snprintf(why, why_len, "image too large for %llu byte clusters",
			 (unsigned long long)cluster);
		return -EFBIG;
	}
	snprintf(h.backing, sizeof(h.backing), "%s",
		 c->backing ? c->backing : "");
	snprintf(h.backing_format, sizeof(h.backing_format), "%s",
		 c->backing_format ? c->backing_format : "");
	l1c = h.l1_size ? align_up((uint64_t)h.l1_size * 8, cluster) / cluster
			: 1;
	per_rb = 1ull << (c->cluster_bits + 3 - order);
	/* header, refcount table, refcount blocks, L1: enough blocks and
	 * table for all of them. */
	for (;;) {
		uint64_t rb2, rt2;

		m = 1 + rtc + rbc + l1c;
		rb2 = (m + per_rb - 1) / per_rb;
		rt2 = align_up(rb2 * 8, cluster) / cluster;
		if (rb2 == rbc && rt2 == rtc)
			break;
		rbc = rb2;
		rtc = rt2;
	}
	h.reftable_offset = cluster;
	h.reftable_clusters = (uint32_t)rtc;
	h.l1_offset = (1 + rtc + rbc) * cluster;
	total = m * cluster;
	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	r = qcow2_header_write(&h, buf, cluster);
	if (r) {
		snprintf(why, why_len,
			 "backing file name too long for the "
			 "header cluster");
		free(buf);
		return r;
	}
	for (uint64_t i = 0; i < rbc; i++)
		put_be64(buf + cluster + i * 8, (1 + rtc + i) * cluster);
	for (uint64_t i = 0; i < m; i++)
		qcow2_rc_set(buf + (1 + rtc + i / per_rb) * cluster, i % per_rb,
			     order, 1);
	r = ftruncate(fd, 0) ? -errno : write_all(fd, buf, total, 0);
	if (!r && fsync(fd))
		r = -errno;
	if (r)
		snprintf(why, why_len, "writing: %s", strerror(-r));
	free(buf);
	return r;
}
