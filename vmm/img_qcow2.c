/* A qcow2 image edited in place by `vmm img` (resize, convert -c) with
 * plain preads and pwrites: the L1 and refcount tables in memory, L2
 * tables and refcount blocks in a small write-back cache, refcounts
 * changed one cluster at a time, clusters allocated from the end of the
 * file (with the refcount blocks their ranges lack right after them, a
 * full refcount table grown into the space past what it covers, as
 * block/qcow2_meta.c grows it). Only for an image nothing else has
 * open: the caller orders its own flushes (img_qcow2_flush) where a crash
 * must leave the image consistent. Main thread only; all state is in the
 * caller's struct img_qcow2. Offsets read from the file are checked
 * before they are followed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "img_priv.h"
#include "lib/bytes.h"
#include "lib/checked.h"

#define HEADER_READ (2u << 20)

int img_qcow2_pread(struct img_qcow2 *q, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(q->fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += (size_t)n;
	}
	memset((uint8_t *)buf + done, 0, len - done); /* past the end */
	return 0;
}

int img_qcow2_pwrite(struct img_qcow2 *q, const void *buf, size_t len,
		     uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(q->fd, (const uint8_t *)buf + done,
				   len - done, (off_t)(off + done));

		if (n < 0)
			return -errno;
		if (!n)
			return -EIO;
		done += (size_t)n;
	}
	if (off + len > q->file_size)
		q->file_size = off + len;
	return 0;
}

void img_qcow2_close(struct img_qcow2 *q)
{
	for (unsigned i = 0; i < IMG_QCOW2_CACHE; i++)
		free(q->cache[i].data);
	free(q->l1);
	free(q->rt);
	if (q->fd >= 0)
		close(q->fd);
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

int img_qcow2_open(struct img_qcow2 *q, const char *path, char *why,
		   size_t why_len)
{
	uint8_t *buf = NULL;
	uint64_t rt_bytes;
	struct stat st;
	size_t len;
	int r;

	memset(q, 0, sizeof(*q));
	q->path = path;
	q->fd = open(path, O_RDWR | O_CLOEXEC);
	if (q->fd < 0 || fstat(q->fd, &st)) {
		r = -errno;
		snprintf(why, why_len, "%s", strerror(errno));
		return r;
	}
	q->file_size = (uint64_t)st.st_size;
	len = (size_t)(q->file_size < HEADER_READ ? q->file_size : HEADER_READ);
	buf = malloc(len ? len : 1);
	if (!buf)
		goto nomem;
	r = img_qcow2_pread(q, buf, len, 0);
	if (r) {
		snprintf(why, why_len, "reading the header: %s", strerror(-r));
		free(buf);
		return r;
	}
	r = qcow2_header_parse(buf, len, q->file_size, &q->h, why, why_len);
	free(buf);
	if (r)
		return r;
	q->cluster_bits = q->h.cluster_bits;
	q->cluster = 1ull << q->cluster_bits;
	q->rb_bits = q->cluster_bits + 3 - q->h.refcount_order;
	q->rc_max = qcow2_rc_max(q->h.refcount_order);
	rt_bytes = (uint64_t)q->h.reftable_clusters << q->cluster_bits;
	q->rt_entries = rt_bytes / 8;
	q->l1 = malloc(q->h.l1_size ? (size_t)q->h.l1_size * 8 : 1);
	q->rt = malloc(rt_bytes);
	if (!q->l1 || !q->rt)
		goto nomem;
	r = img_qcow2_pread(q, q->l1, (size_t)q->h.l1_size * 8, q->h.l1_offset);
	if (!r)
		r = img_qcow2_pread(q, q->rt, rt_bytes, q->h.reftable_offset);
	if (r) {
		snprintf(why, why_len, "reading the tables: %s", strerror(-r));
		return r;
	}
	q->hint = align_up(q->file_size, q->cluster) >> q->cluster_bits;
	return 0;
nomem:
	snprintf(why, why_len, "out of memory");
	return -ENOMEM;
}

/* --- The table cache --- */

static int write_back(struct img_qcow2 *q, struct img_qcow2_table *t)
{
	int r = 0;

	if (t->off && t->dirty)
		r = img_qcow2_pwrite(q, t->data, q->cluster, t->off);
	if (!r)
		t->dirty = false;
	return r;
}

int img_qcow2_table(struct img_qcow2 *q, uint64_t off, bool fresh,
		    uint8_t **data)
{
	struct img_qcow2_table *t = NULL;
	int r;

	if (!off || off & (q->cluster - 1))
		return -EIO;
	for (unsigned i = 0; i < IMG_QCOW2_CACHE; i++) {
		struct img_qcow2_table *s = &q->cache[i];

		if (s->off == off) {
			s->used = ++q->tick;
			if (fresh) {
				memset(s->data, 0, q->cluster);
				s->dirty = true;
			}
			*data = s->data;
			return 0;
		}
		if (!t || !s->off || (t->off && s->used < t->used))
			t = s;
	}
	r = write_back(q, t);
	if (r)
		return r;
	t->off = 0;
	if (!t->data && !(t->data = malloc(q->cluster)))
		return -ENOMEM;
	if (fresh)
		memset(t->data, 0, q->cluster);
	else if (off >= q->file_size)
		return -EIO; /* corrupt: a table past the end of the file */
	else if ((r = img_qcow2_pread(q, t->data, q->cluster, off)))
		return r;
	t->off = off;
	t->dirty = fresh;
	t->used = ++q->tick;
	*data = t->data;
	return 0;
}

void img_qcow2_table_dirty(struct img_qcow2 *q, uint64_t off)
{
	for (unsigned i = 0; i < IMG_QCOW2_CACHE; i++)
		if (q->cache[i].off == off)
			q->cache[i].dirty = true;
}

int img_qcow2_flush(struct img_qcow2 *q)
{
	int r = 0;

	for (unsigned i = 0; i < IMG_QCOW2_CACHE && !r; i++)
		r = write_back(q, &q->cache[i]);
	if (!r && q->rt_dirty)
		r = img_qcow2_pwrite(q, q->rt, q->rt_entries * 8,
				     q->h.reftable_offset);
	if (!r)
		q->rt_dirty = false;
	if (!r && q->l1_dirty)
		r = img_qcow2_pwrite(q, q->l1, (size_t)q->h.l1_size * 8,
				     q->h.l1_offset);
	if (!r)
		q->l1_dirty = false;
	if (!r && fsync(q->fd))
		r = -errno;
	return r;
}

/* --- Refcounts --- */

/* The refcount table grows into the clusters past the range it covers,
 * all free: [new table][the refcount blocks covering it and
 * themselves]. Written and synced (with everything cached), then the
 * header points at it, then the old table is freed. */
static int grow_reftable(struct img_qcow2 *q, uint64_t need)
{
	uint64_t per_rb = 1ull << q->rb_bits, old_n = q->rt_entries;
	uint64_t p = old_n << q->rb_bits; /* the first uncovered cluster */
	uint64_t old_bytes = old_n * 8, old_off = q->h.reftable_offset;
	uint64_t clusters = align_up(old_bytes, q->cluster) / q->cluster * 2;
	uint64_t k = 0, last;
	uint8_t *table, *rb, hdr[12];
	int r = 0;

	for (;;) {
		uint64_t entries = clusters * q->cluster / 8, k2;

		last = (p + clusters + k - 1) >> q->rb_bits;
		k2 = last - (p >> q->rb_bits) + 1;
		if (entries <= need || entries <= last) {
			clusters *= 2;
			continue;
		}
		if (k2 == k)
			break;
		k = k2;
	}
	if (clusters * q->cluster > QCOW2_MAX_REFTABLE_BYTES)
		return -EFBIG;
	table = calloc(1, clusters * q->cluster);
	rb = malloc(q->cluster);
	if (!table || !rb) {
		free(table);
		free(rb);
		return -ENOMEM;
	}
	memcpy(table, q->rt, old_bytes);
	for (uint64_t j = 0; j < k && !r; j++) {
		uint64_t rt = (p >> q->rb_bits) + j, first = rt << q->rb_bits;
		uint64_t rb_off = (p + clusters + j) << q->cluster_bits;

		memset(rb, 0, q->cluster);
		for (uint64_t c = p; c < p + clusters + k; c++)
			if (c >= first && c < first + per_rb)
				qcow2_rc_set(rb, c - first, q->h.refcount_order,
					     1);
		put_be64(table + rt * 8, rb_off);
		r = img_qcow2_pwrite(q, rb, q->cluster, rb_off);
	}
	if (!r)
		r = img_qcow2_pwrite(q, table, clusters * q->cluster,
				     p << q->cluster_bits);
	if (!r)
		r = img_qcow2_flush(q);
	if (r)
		goto out;
	put_be64(hdr, p << q->cluster_bits);
	put_be32(hdr + 8, (uint32_t)clusters);
	r = img_qcow2_pwrite(q, hdr, sizeof(hdr), 48);
	if (!r && fsync(q->fd))
		r = -errno;
	if (r)
		goto out;
	free(q->rt);
	q->rt = table;
	table = NULL;
	q->rt_entries = clusters * q->cluster / 8;
	q->h.reftable_offset = p << q->cluster_bits;
	q->h.reftable_clusters = (uint32_t)clusters;
	for (uint64_t c = 0; !r && c < align_up(old_bytes, q->cluster);
	     c += q->cluster)
		r = img_qcow2_rc_add(q, (old_off + c) >> q->cluster_bits, -1);
out:
	free(table);
	free(rb);
	return r;
}

/* The refcount block covering cluster c (*data NULL when there is
 * none: every refcount of its range is 0). */
static int refblock(struct img_qcow2 *q, uint64_t c, uint8_t **data)
{
	uint64_t rt = c >> q->rb_bits, off;

	*data = NULL;
	if (rt >= q->rt_entries)
		return 0;
	off = get_be64(q->rt + rt * 8) & QCOW2_OFFSET_MASK;
	return off ? img_qcow2_table(q, off, false, data) : 0;
}

int img_qcow2_rc_get(struct img_qcow2 *q, uint64_t c, uint64_t *v)
{
	uint8_t *rb;
	int r = refblock(q, c, &rb);

	*v = !r && rb ? qcow2_rc_get(rb, c & ((1ull << q->rb_bits) - 1),
				     q->h.refcount_order)
		      : 0;
	return r;
}

int img_qcow2_rc_add(struct img_qcow2 *q, uint64_t c, int d)
{
	uint64_t i = c & ((1ull << q->rb_bits) - 1), v;
	uint8_t *rb;
	int r = refblock(q, c, &rb);

	if (r)
		return r;
	if (!rb)
		return -ERANGE;
	v = qcow2_rc_get(rb, i, q->h.refcount_order);
	if ((d > 0 && v == q->rc_max) || (d < 0 && !v))
		return -ERANGE;
	v = d > 0 ? v + 1 : v - 1;
	qcow2_rc_set(rb, i, q->h.refcount_order, v);
	/* rb may have moved in the cache: mark by its offset. */
	img_qcow2_table_dirty(q, get_be64(q->rt + (c >> q->rb_bits) * 8) &
					 QCOW2_OFFSET_MASK);
	if (!v && c < q->hint)
		q->hint = c;
	return 0;
}

/* The refcount table indexes of [c, end) (cluster indexes) that have no
 * refcount block. */
static uint64_t missing_blocks(struct img_qcow2 *q, uint64_t c, uint64_t end)
{
	uint64_t k = 0;

	for (uint64_t rt = c >> q->rb_bits; rt <= (end - 1) >> q->rb_bits; rt++)
		k += !(get_be64(q->rt + rt * 8) & QCOW2_OFFSET_MASK);
	return k;
}

/* n free clusters at c, and right after them k more for the refcount
 * blocks missing in the ranges all of them touch (a block describes its
 * own cluster when it lies in its range). */
int img_qcow2_alloc(struct img_qcow2 *q, uint64_t n, bool ref, uint64_t *off)
{
	uint64_t c = q->hint, k, v, j = 0;
	int r;

	for (;;) {
		uint64_t end, bad = 0;
		bool grew = false;

		for (k = 0;;) {
			uint64_t k2;

			end = c + n + k;
			if (end > (QCOW2_OFFSET_MASK >> q->cluster_bits))
				return -EFBIG;
			if ((end - 1) >> q->rb_bits >= q->rt_entries) {
				r = grow_reftable(q, (end - 1) >> q->rb_bits);
				if (r)
					return r;
				grew = true;
				break;
			}
			k2 = missing_blocks(q, c, end);
			if (k2 == k)
				break;
			k = k2;
		}
		if (grew)
			continue; /* its clusters are in use now */
		for (uint64_t i = c; i < end && !bad; i++) {
			r = img_qcow2_rc_get(q, i, &v);
			if (r)
				return r;
			if (v)
				bad = i + 1;
		}
		if (!bad)
			break;
		c = bad;
	}
	for (uint64_t rt = c >> q->rb_bits;
	     k && rt <= (c + n + k - 1) >> q->rb_bits; rt++) {
		uint64_t b = (c + n + j) << q->cluster_bits;
		uint8_t *data;

		if (get_be64(q->rt + rt * 8) & QCOW2_OFFSET_MASK)
			continue;
		r = img_qcow2_table(q, b, true, &data);
		if (r)
			return r;
		put_be64(q->rt + rt * 8, b);
		q->rt_dirty = true;
		j++;
	}
	for (uint64_t i = 0; i < k; i++) {
		r = img_qcow2_rc_add(q, c + n + i, 1);
		if (r)
			return r;
	}
	q->hint = c + n + k;
	for (uint64_t i = 0; ref && i < n; i++) {
		r = img_qcow2_rc_add(q, c + i, 1);
		if (r)
			return r;
	}
	*off = c << q->cluster_bits;
	return 0;
}
