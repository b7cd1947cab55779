/* Creating a qcow2 image (vmm img create): header, refcount table, the
 * refcount blocks that cover the image, the L1 table, as qemu-img lays
 * them out; with preallocation, every L2 table and data cluster too
 * (metadata, falloc, full). One cluster in memory at a time, whatever
 * the size. Main thread, plain writes; no state. */
#include <errno.h>
#include <fcntl.h>
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

/* Where everything goes, in clusters. */
struct layout {
	uint64_t cluster, rtc, rbc, l1c, l2c, data; /* counts */
	uint64_t l2_at, data_at, total;		    /* cluster indexes */
	uint64_t per_rb, per_l2;
};

static void plan(const struct qcow2_create_opts *c, unsigned order,
		 uint32_t l1_size, struct layout *l)
{
	l->cluster = 1ull << c->cluster_bits;
	l->per_rb = 1ull << (c->cluster_bits + 3 - order);
	l->per_l2 = l->cluster / 8;
	l->l1c = l1_size ? align_up((uint64_t)l1_size * 8, l->cluster) /
				   l->cluster
			 : 1;
	l->data = c->prealloc ? (c->size + l->cluster - 1) / l->cluster : 0;
	l->l2c = (l->data + l->per_l2 - 1) / l->per_l2;
	l->rtc = l->rbc = 1;
	/* Enough refcount blocks, and table for them, to cover every
	 * cluster including themselves. */
	for (;;) {
		uint64_t n = 1 + l->rtc + l->rbc + l->l1c + l->l2c + l->data;
		uint64_t rb2 = (n + l->per_rb - 1) / l->per_rb;
		uint64_t rt2 = align_up(rb2 * 8, l->cluster) / l->cluster;

		if (rb2 == l->rbc && rt2 == l->rtc) {
			l->total = n;
			break;
		}
		l->rbc = rb2;
		l->rtc = rt2;
	}
	l->l2_at = 1 + l->rtc + l->rbc + l->l1c;
	l->data_at = l->l2_at + l->l2c;
}

/* Cluster i of the metadata (below data_at) into buf. */
static void fill_cluster(const struct layout *l, unsigned order, uint64_t i,
			 uint8_t *buf)
{
	uint64_t k, n;

	memset(buf, 0, l->cluster);
	if (i >= 1 && i < 1 + l->rtc) { /* refcount table */
		for (k = (i - 1) * l->per_l2, n = 0;
		     n < l->per_l2 && k < l->rbc; k++, n++)
			put_be64(buf + n * 8, (1 + l->rtc + k) * l->cluster);
	} else if (i >= 1 + l->rtc && i < 1 + l->rtc + l->rbc) {
		uint64_t first = (i - 1 - l->rtc) * l->per_rb;

		for (k = 0; k < l->per_rb && first + k < l->total; k++)
			qcow2_rc_set(buf, k, order, 1);
	} else if (i >= l->l2_at - l->l1c && i < l->l2_at) { /* L1 */
		for (k = (i - (l->l2_at - l->l1c)) * l->per_l2, n = 0;
		     n < l->per_l2 && k < l->l2c; k++, n++)
			put_be64(buf + n * 8,
				 (l->l2_at + k) * l->cluster | QCOW2_COPIED);
	} else if (i >= l->l2_at) { /* an L2 table */
		for (k = (i - l->l2_at) * l->per_l2, n = 0;
		     n < l->per_l2 && k < l->data; k++, n++)
			put_be64(buf + n * 8,
				 (l->data_at + k) * l->cluster | QCOW2_COPIED);
	}
}

/* The data clusters, as prealloc asks. */
static int fill_data(int fd, const struct layout *l, enum qcow2_prealloc p,
		     uint8_t *zero, size_t zero_len)
{
	uint64_t at = l->data_at * l->cluster, end = l->total * l->cluster;

	if (p == QCOW2_PREALLOC_FALLOC)
		return fallocate(fd, 0, (off_t)at, (off_t)(end - at)) ? -errno
								      : 0;
	if (p == QCOW2_PREALLOC_FULL)
		for (; at < end; at += zero_len) {
			size_t n = end - at < zero_len ? end - at : zero_len;
			int r = write_all(fd, zero, n, at);

			if (r)
				return r;
		}
	return ftruncate(fd, (off_t)end) ? -errno : 0;
}

int qcow2_create(int fd, const struct qcow2_create_opts *c, char *why,
		 size_t why_len)
{
	struct qcow2_header h = { 0 };
	unsigned order = c->version == 2 ? 4 : c->refcount_order;
	const size_t zero_len = 1u << 20;
	struct layout l;
	uint8_t *buf;
	int r;

	if (c->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    c->cluster_bits > QCOW2_MAX_CLUSTER_BITS || order > 6 ||
	    (c->version != 2 && c->version != 3) ||
	    (c->lazy_refcounts && c->version == 2) || c->size >> 62) {
		snprintf(why, why_len, "invalid options");
		return -EINVAL;
	}
	if (c->prealloc && c->backing) {
		snprintf(why, why_len,
			 "preallocation and a backing file cannot be used "
			 "together");
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
			 (unsigned long long)(1ull << c->cluster_bits));
		return -EFBIG;
	}
	snprintf(h.backing, sizeof(h.backing), "%s",
		 c->backing ? c->backing : "");
	snprintf(h.backing_format, sizeof(h.backing_format), "%s",
		 c->backing_format ? c->backing_format : "");
	plan(c, order, h.l1_size, &l);
	h.reftable_offset = l.cluster;
	h.reftable_clusters = (uint32_t)l.rtc;
	h.l1_offset = (l.l2_at - l.l1c) * l.cluster;
	buf = calloc(1, l.cluster > zero_len ? l.cluster : zero_len);
	if (!buf)
		return -ENOMEM;
	r = qcow2_header_write(&h, buf, l.cluster);
	if (r) {
		snprintf(why, why_len,
			 "backing file name too long for the "
			 "header cluster");
		free(buf);
		return r;
	}
	r = ftruncate(fd, 0) ? -errno : write_all(fd, buf, l.cluster, 0);
	for (uint64_t i = 1; !r && i < l.data_at; i++) {
		fill_cluster(&l, order, i, buf);
		r = write_all(fd, buf, l.cluster, i * l.cluster);
	}
	if (!r && c->prealloc) {
		memset(buf, 0, zero_len);
		r = fill_data(fd, &l, c->prealloc, buf, zero_len);
	}
	if (!r && fsync(fd))
		r = -errno;
	if (r)
		snprintf(why, why_len, "writing: %s", strerror(-r));
	free(buf);
	return r;
}
