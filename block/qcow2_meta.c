/* qcow2 metadata: cached tables written back a granule at a time,
 * refcounts of any width, cluster allocation with batched reservation,
 * and growth of the refcount table. Runs in request coroutines on any
 * ctx's thread, under the image's mu (dropped around every I/O); every
 * refcount change also holds the allocation lock (alloc_busy). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "lib/bytes.h"
#include "lib/checked.h"
#include "qcow2.h"

#define ALIGN 4096

uint64_t qcow2_rc_get(const uint8_t *rb, uint64_t i, unsigned order)
{
	unsigned bits;

	switch (order) {
	case 3: return rb[i];
	case 4: return get_be16(rb + 2 * i);
	case 5: return get_be32(rb + 4 * i);
	case 6: return get_be64(rb + 8 * i);
	}
	/* Narrower than a byte: the lowest index in the lowest bits. */
	bits = 1u << order;
	return (rb[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
}

void qcow2_rc_set(uint8_t *rb, uint64_t i, unsigned order, uint64_t v)
{
	unsigned bits, shift;
	uint8_t mask;

	switch (order) {
	case 3: rb[i] = (uint8_t)v; return;
	case 4: put_be16(rb + 2 * i, (uint16_t)v); return;
	case 5: put_be32(rb + 4 * i, (uint32_t)v); return;
	case 6: put_be64(rb + 8 * i, v); return;
	}
	bits = 1u << order;
	shift = i * bits % 8;
	mask = (uint8_t)(((1u << bits) - 1) << shift);
	rb[i * bits / 8] =
		(uint8_t)((rb[i * bits / 8] & ~mask) | ((v << shift) & mask));
}

uint64_t qcow2_file_end(const struct blk_node *node)
{
	return __atomic_load_n(&node->file->size, __ATOMIC_RELAXED);
}

void qcow2_file_grew(struct blk_node *node, uint64_t end)
{
	uint64_t cur = qcow2_file_end(node);

	while (end > cur &&
	       !__atomic_compare_exchange_n(&node->file->size, &cur, end, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static uint64_t rc_max(unsigned order)
{
	return order == 6 ? UINT64_MAX : (1ull << (1u << order)) - 1;
}

int qcow2_cache_init(struct qcow2_cache *c, unsigned n, size_t size)
{
	memset(c, 0, sizeof(*c));
	c->t = calloc(n, sizeof(*c->t));
	if (!c->t)
		return -ENOMEM;
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		if (posix_memalign((void **)&c->t[i].data, ALIGN, size))
			return -ENOMEM;
		c->t[i].size = size;
	}
	return 0;
}

void qcow2_cache_free(struct qcow2_cache *c)
{
	for (unsigned i = 0; c->t && i < c->n; i++)
		free(c->t[i].data);
	free(c->t);
	c->t = NULL;
}

static struct qcow2_table *find(struct qcow2_cache *c, uint64_t offset)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->t[i].offset == offset)
			return &c->t[i];
	return NULL;
}

/* The least recently used unpinned slot, or NULL. */
static struct qcow2_table *victim(struct qcow2_cache *c)
{
	struct qcow2_table *v = NULL;

	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_table *t = &c->t[i];

		if (t->users || t->loading || t->writing ||
		    qcow2_table_dirty(t))
			continue;
		if (!v || t->used < v->used)
			v = t;
	}
	return v;
}

static int write_back(struct blk_co *co, struct blk_node *node,
		      struct qcow2_table *t, uint64_t mine, enum blk_event ev);

/* The least recently used unpinned dirty table, or NULL. */
static struct qcow2_table *dirty_victim(struct qcow2_cache *c)
{
	struct qcow2_table *v = NULL;

	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_table *t = &c->t[i];

		if (t->users || t->loading || t->writing ||
		    !qcow2_table_dirty(t))
			continue;
		if (!v || t->used < v->used)
			v = t;
	}
	return v;
}

/* A slot for offset, pinned, its contents left to the caller (fresh
 * tables) or read (fill). */
static int slot_for(struct blk_co *co, struct blk_node *node,
		    struct qcow2_cache *c, uint64_t offset, bool fill,
		    struct qcow2_table **out)
{
	struct qcow2 *s = node->priv;
	struct qcow2_table *t;
	int r;

	for (;;) {
		t = find(c, offset);
		if (t && t->loading) {
			blk_co_wait(co, &t->wq, &s->mu);
			continue;
		}
		if (t) {
			t->users++;
			t->used = ++c->tick;
			*out = t;
			return 0;
		}
		t = victim(c);
		if (t)
			break;
		/* Every unpinned table is dirty: write the oldest back. */
		t = dirty_victim(c);
		if (t) {
			t->users++;
			r = write_back(co, node, t, t->gen, BLK_EV_L2_UPDATE);
			t->users--;
			blk_co_wake_all(co, &c->wq);
			if (r)
				return r;
			continue;
		}
		blk_co_wait(co, &c->wq, &s->mu);
	}
	t->offset = offset;
	t->users = 1;
	t->used = ++c->tick;
	t->gen = t->written_gen = t->failed_gen = 0;
	t->dirty_lo = t->dirty_hi = 0;
	if (!fill) {
		*out = t;
		return 0;
	}
	t->loading = true;
	pthread_mutex_unlock(&s->mu);
	r = c == &s->l2 ? blk_co_event(co, node->file, BLK_EV_L2_LOAD) : 0;
	if (!r)
		r = blk_co_pread(co, node->file, offset, t->data, t->size);
	pthread_mutex_lock(&s->mu);
	t->loading = false;
	blk_co_wake_all(co, &t->wq);
	if (r) {
		t->offset = 0;
		t->users = 0;
		blk_co_wake_all(co, &c->wq);
		return r;
	}
	*out = t;
	return 0;
}

int qcow2_table_get(struct blk_co *co, struct blk_node *node,
		    struct qcow2_cache *c, uint64_t offset,
		    struct qcow2_table **out)
{
	return slot_for(co, node, c, offset, true, out);
}

int qcow2_table_new(struct blk_co *co, struct blk_node *node,
		    struct qcow2_cache *c, uint64_t offset,
		    struct qcow2_table **out)
{
	return slot_for(co, node, c, offset, false, out);
}

struct qcow2_table *qcow2_table_cached(struct qcow2_cache *c, uint64_t offset)
{
	struct qcow2_table *t = find(c, offset);

	if (!t || t->loading)
		return NULL;
	t->used = ++c->tick;
	return t;
}

void qcow2_table_put(struct blk_co *co, struct qcow2_cache *c,
		     struct qcow2_table *t)
{
	if (!--t->users)
		blk_co_wake_all(co, &c->wq);
}

/* Records a change of [start, start + len) of t (mu held); returns its
 * number, for qcow2_table_write_back. */
static uint64_t mark_dirty(struct qcow2_table *t, size_t start, size_t len)
{
	if (t->dirty_hi <= t->dirty_lo) {
		t->dirty_lo = start;
		t->dirty_hi = start + len;
	} else {
		t->dirty_lo = start < t->dirty_lo ? start : t->dirty_lo;
		t->dirty_hi =
			start + len > t->dirty_hi ? start + len : t->dirty_hi;
	}
	return ++t->gen;
}

/* Returns once a write holding change number mine of t has completed.
 * One write per table at a time, so a later change never lands before
 * an earlier one; a change made while a write is in flight joins the
 * next write, which covers every range changed since (concurrent
 * updates of one table take one write, not one each). */
static int flush_file(struct blk_co *co, struct blk_node *node);

/* L1 and L2 tables point to clusters whose refcounts must be on disk
 * first; the refcount structure itself has no such dependency. */
static bool points_to_clusters(const struct qcow2 *s,
			       const struct qcow2_table *t)
{
	return t != &s->reftable && !(t >= s->rb.t && t < s->rb.t + s->rb.n);
}

/* Makes every refcount written so far durable (one flush for all the
 * writers that need it; QEMU's refcount-before-L2 cache dependency).
 * mu held, dropped around the flush. */
static int refcounts_durable(struct blk_co *co, struct blk_node *node)
{
	struct qcow2 *s = node->priv;

	while (s->rc_gen > s->rc_flushed_gen) {
		uint64_t gen = s->rc_gen;
		int r;

		if (s->rc_flushing) {
			blk_co_wait(co, &s->rc_wq, &s->mu);
			continue;
		}
		s->rc_flushing = true;
		r = flush_file(co, node);
		s->rc_flushing = false;
		if (!r && gen > s->rc_flushed_gen)
			s->rc_flushed_gen = gen;
		blk_co_wake_all(co, &s->rc_wq);
		if (r)
			return r;
	}
	return 0;
}

static int write_back(struct blk_co *co, struct blk_node *node,
		      struct qcow2_table *t, uint64_t mine, enum blk_event ev)
{
	struct qcow2 *s = node->priv;
	int r;

	for (;;) {
		size_t lo, hi;
		uint64_t gen;
		uint8_t *buf;

		if (t->written_gen >= mine)
			return 0;
		if (t->failed_gen >= mine)
			return t->error;
		if (points_to_clusters(s, t) && s->rc_gen > s->rc_flushed_gen) {
			r = refcounts_durable(co, node);
			if (r)
				return r;
			continue;
		}
		if (t->writing) {
			blk_co_wait(co, &t->wq, &s->mu);
			continue;
		}
		lo = t->dirty_lo;
		hi = t->dirty_hi;
		if (posix_memalign((void **)&buf, ALIGN, hi - lo))
			return -ENOMEM;
		gen = t->gen;
		t->dirty_lo = t->dirty_hi = 0;
		t->writing = true;
		memcpy(buf, t->data + lo, hi - lo);
		pthread_mutex_unlock(&s->mu);
		/* The step's event just before its I/O; a request held here
		 * holds the table's write turn, as its I/O would. */
		r = blk_co_event(co, node->file, ev);
		if (!r)
			r = blk_co_pwrite(co, node->file, t->offset + lo, buf,
					  hi - lo);
		pthread_mutex_lock(&s->mu);
		free(buf);
		t->writing = false;
		if (r) {
			/* The bytes stay dirty for the next write. */
			mark_dirty(t, lo, hi - lo);
			t->failed_gen = gen;
			t->error = r;
		} else {
			t->written_gen = gen;
		}
		blk_co_wake_all(co, &t->wq);
	}
}

static int store_range(struct blk_co *co, struct blk_node *node,
		       struct qcow2_table *t, size_t start, size_t len,
		       enum blk_event ev)
{
	return write_back(co, node, t, mark_dirty(t, start, len), ev);
}

void qcow2_table_mark(struct blk_node *node, struct qcow2_table *t, size_t pos)
{
	struct qcow2 *s = node->priv;

	mark_dirty(t, pos & ~((size_t)s->granule - 1), s->granule);
}

bool qcow2_table_dirty(const struct qcow2_table *t)
{
	return t->gen > t->written_gen;
}

int qcow2_table_write_back(struct blk_co *co, struct blk_node *node,
			   struct qcow2_table *t, enum blk_event ev)
{
	return write_back(co, node, t, t->gen, ev);
}

int qcow2_table_store(struct blk_co *co, struct blk_node *node,
		      struct qcow2_table *t, size_t pos, enum blk_event ev)
{
	struct qcow2 *s = node->priv;
	size_t start = pos & ~((size_t)s->granule - 1);

	return store_range(co, node, t, start, s->granule, ev);
}

static void alloc_lock(struct blk_co *co, struct qcow2 *s)
{
	while (s->alloc_busy)
		blk_co_wait(co, &s->alloc_wq, &s->mu);
	s->alloc_busy = true;
}

static void alloc_unlock(struct blk_co *co, struct qcow2 *s)
{
	s->alloc_busy = false;
	blk_co_wake_all(co, &s->alloc_wq);
}

static uint64_t reftable_entries(const struct qcow2 *s)
{
	return s->reftable.size / 8;
}

/* Writes a whole new cluster's bytes (not yet referenced by anything). */
static int write_new(struct blk_co *co, struct blk_node *node, uint64_t off,
		     const void *buf, size_t len, enum blk_event ev)
{
	struct qcow2 *s = node->priv;
	int r;

	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, ev);
	if (!r)
		r = blk_co_pwrite(co, node->file, off, buf, len);
	pthread_mutex_lock(&s->mu);
	return r;
}

static int flush_file(struct blk_co *co, struct blk_node *node)
{
	struct qcow2 *s = node->priv;
	int r;

	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, BLK_EV_FLUSH);
	if (!r)
		r = blk_co_range(co, node->file, BLK_OP_FLUSH, 0, 0);
	pthread_mutex_lock(&s->mu);
	return r;
}

/* The refcount table grows into the uncovered space past its last
 * block's range, where every cluster is free: [new table][the refcount
 * blocks that cover the table and themselves]. Written and flushed, then
 * the header points to it, then the old table is freed. */
static int unref_locked(struct blk_co *co, struct blk_node *node,
			uint64_t offset, uint64_t len);

static int grow_reftable(struct blk_co *co, struct blk_node *node,
			 uint64_t need)
{
	struct qcow2 *s = node->priv;
	uint64_t per_rb = 1ull << s->rb_bits, old_n = reftable_entries(s);
	uint64_t p = old_n << s->rb_bits; /* first uncovered cluster */
	uint64_t clusters = s->reftable.size / s->cluster * 2, k = 0, last;
	uint64_t old_off = s->reftable.offset, old_size = s->reftable.size;
	uint8_t *table = NULL, *rb = NULL, hdr[12];
	int r;

	for (;;) {
		uint64_t entries = clusters * s->cluster / 8, k2;

		last = (p + clusters + k - 1) >> s->rb_bits;
		k2 = last - (p >> s->rb_bits) + 1;
		if (entries <= need || entries <= last) {
			clusters *= 2;
			continue;
		}
		if (k2 == k)
			break;
		k = k2;
	}
	if (clusters * s->cluster > QCOW2_MAX_REFTABLE_BYTES)
		return -EFBIG;
	if (posix_memalign((void **)&table, ALIGN, clusters * s->cluster) ||
	    posix_memalign((void **)&rb, ALIGN, s->cluster)) {
		free(table);
		return -ENOMEM;
	}
	memset(table, 0, clusters * s->cluster);
	memcpy(table, s->reftable.data, old_size);
	for (uint64_t j = 0; j < k; j++) {
		uint64_t rt = (p >> s->rb_bits) + j, first = rt << s->rb_bits;
		uint64_t rb_off = (p + clusters + j) << s->cluster_bits;

		memset(rb, 0, s->cluster);
		for (uint64_t c = p; c < p + clusters + k; c++)
			if (c >= first && c < first + per_rb)
				qcow2_rc_set(rb, c - first, s->h.refcount_order,
					     1);
		put_be64(table + rt * 8, rb_off);
		r = offset_set_add(&s->others, rb_off);
		if (r)
			goto out;
		r = write_new(co, node, rb_off, rb, s->cluster,
			      BLK_EV_REFTABLE_GROW);
		if (r)
			goto out;
	}
	qcow2_file_grew(node, (p + clusters + k) << s->cluster_bits);
	r = write_new(co, node, p << s->cluster_bits, table,
		      clusters * s->cluster, BLK_EV_REFTABLE_GROW);
	if (!r)
		r = flush_file(co, node);
	if (r)
		goto out;
	/* The header's refcount table offset and size, in one granule. */
	put_be64(hdr, p << s->cluster_bits);
	put_be32(hdr + 8, (uint32_t)clusters);
	memcpy(s->header + 48, hdr, 12);
	r = write_new(co, node, 0, s->header, s->granule, BLK_EV_HEADER_UPDATE);
	if (!r)
		r = flush_file(co, node);
	if (r)
		goto out;
	free(s->reftable.data);
	s->reftable.data = table;
	s->reftable.size = clusters * s->cluster;
	s->reftable.offset = p << s->cluster_bits;
	s->h.reftable_offset = s->reftable.offset;
	s->h.reftable_clusters = (uint32_t)clusters;
	table = NULL;
	r = unref_locked(co, node, old_off, old_size);
out:
	free(table);
	free(rb);
	return r;
}

/* The refcount block of table entry rt, pinned; with create, a missing
 * one is made at the first cluster of its range (free, as the whole
 * range is: it had no block). *out NULL when missing and !create. */
static int get_rb(struct blk_co *co, struct blk_node *node, uint64_t rt,
		  bool create, struct qcow2_table **out)
{
	struct qcow2 *s = node->priv;
	uint64_t off = get_be64(s->reftable.data + rt * 8) & QCOW2_OFFSET_MASK;
	struct qcow2_table *t;
	int r;

	*out = NULL;
	if (off) {
		if (off & (s->cluster - 1) || off >= qcow2_file_end(node) ||
		    qcow2_is_metadata(s, off, s->cluster, QCOW2_META_OTHER))
			return -EIO; /* corrupt: unaligned, or other metadata */
		return qcow2_table_get(co, node, &s->rb, off, out);
	}
	if (!create)
		return 0;
	off = rt << s->rb_bits << s->cluster_bits;
	qcow2_file_grew(node, off + s->cluster);
	/* Free by the refcounts (no block covered it), yet metadata:
	 * corrupt refcounts. */
	if (qcow2_is_metadata(s, off, s->cluster, 0))
		return -EIO;
	r = offset_set_add(&s->others, off);
	if (r)
		return r;
	r = slot_for(co, node, &s->rb, off, false, &t);
	if (r)
		return r;
	memset(t->data, 0, t->size);
	qcow2_rc_set(t->data, 0, s->h.refcount_order, 1);
	t->writing = true; /* nobody reads it from disk before it is there */
	r = write_new(co, node, off, t->data, t->size, BLK_EV_REFBLOCK_ALLOC);
	t->writing = false;
	blk_co_wake_all(co, &t->wq);
	if (!r) {
		put_be64(s->reftable.data + rt * 8, off);
		r = qcow2_table_store(co, node, &s->reftable, rt * 8,
				      BLK_EV_REFBLOCK_ALLOC);
	}
	if (r) {
		t->offset = 0;
		qcow2_table_put(co, &s->rb, t);
		return r;
	}
	*out = t;
	return 0;
}

/* Stores the granules of t that [first, last] (refcount indexes)
 * touch. */
static int store_entries(struct blk_co *co, struct blk_node *node,
			 struct qcow2_table *t, uint64_t first, uint64_t last)
{
	struct qcow2 *s = node->priv;
	size_t g = s->granule, a, b;
	unsigned bits = 1u << s->h.refcount_order;

	a = (size_t)(first * bits / 8) & ~(g - 1);
	b = ((size_t)(last * bits / 8) & ~(g - 1)) + g;
	return store_range(co, node, t, a, b - a, BLK_EV_REFCOUNT_UPDATE);
}

/* Reserves a batch of free clusters: refcount 1 written and flushed. */
static int reserve(struct blk_co *co, struct blk_node *node)
{
	struct qcow2 *s = node->priv;
	uint64_t per_rb = 1ull << s->rb_bits, c = s->free_hint;
	unsigned order = s->h.refcount_order;
	int r;

	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, BLK_EV_CLUSTER_ALLOC);
	pthread_mutex_lock(&s->mu);
	if (r)
		return r;
	while (s->nreserved < s->reserve_batch) {
		uint64_t rt = c >> s->rb_bits, i, first = UINT64_MAX, last = 0;
		struct qcow2_table *t;

		if (rt >= reftable_entries(s)) {
			r = grow_reftable(co, node, rt);
			if (r)
				return r;
			continue;
		}
		r = get_rb(co, node, rt, true, &t);
		if (r)
			return r;
		for (i = c & (per_rb - 1);
		     i < per_rb && s->nreserved < s->reserve_batch; i++, c++) {
			if (qcow2_rc_get(t->data, i, order))
				continue;
			/* A refcount of 0 on metadata: the refcounts are
			 * corrupt, and handing it out would overwrite it. */
			if (qcow2_is_metadata(s, c << s->cluster_bits,
					      s->cluster, 0)) {
				qcow2_table_put(co, &s->rb, t);
				return -EIO;
			}
			qcow2_rc_set(t->data, i, order, 1);
			s->reserved[s->nreserved++] = c << s->cluster_bits;
			first = first < i ? first : i;
			last = i;
		}
		r = first == UINT64_MAX
			    ? 0
			    : store_entries(co, node, t, first, last);
		qcow2_table_put(co, &s->rb, t);
		if (r)
			return r;
	}
	s->free_hint = c;
	s->reserved_next = 0;
	/* Durable before the first L1 or L2 write that uses them
	 * (refcounts_durable), not now: one flush then serves every
	 * reservation since. Lazy refcounts: no ordering needed, the open
	 * repairs a crash. */
	if (!s->lazy)
		s->rc_gen++;
	return 0;
}

/* Grows the file ahead of the clusters handed out, a step at a time,
 * so that writes of new clusters land inside the file instead of
 * extending it: filesystems serialise extending O_DIRECT writes (ext4
 * takes the inode lock for each), and 64 KiB allocating writes at depth
 * 8 ran at half the speed of writes into allocated space. Failing (no
 * space, no fallocate) only ends it: the writes extend the file again.
 * Allocation lock and mu held (mu dropped for the I/O). */
#define PREALLOC_STEP (16ull << 20) /* a multiple of every cluster size */

static void prealloc(struct blk_co *co, struct blk_node *node, uint64_t off)
{
	struct qcow2 *s = node->priv;
	uint64_t from = off > s->prealloc_end ? off : s->prealloc_end;
	uint64_t to = align_up(off + s->cluster, PREALLOC_STEP);
	int r;

	if (s->prealloc_error || off + s->cluster <= s->prealloc_end)
		return;
	pthread_mutex_unlock(&s->mu);
	r = blk_co_range(co, node->file, BLK_OP_PREALLOCATE, from, to - from);
	pthread_mutex_lock(&s->mu);
	if (r)
		s->prealloc_error = r;
	else
		s->prealloc_end = to;
}

int qcow2_alloc_cluster(struct blk_co *co, struct blk_node *node,
			uint64_t *offset)
{
	struct qcow2 *s = node->priv;
	int r = 0;

	alloc_lock(co, s);
	if (s->reserved_next == s->nreserved) {
		s->nreserved = s->reserved_next = 0;
		r = reserve(co, node);
		/* Refcounts written but maybe not durable: never hand those
		 * clusters out (they leak, which a check repairs). */
		if (r)
			s->nreserved = 0;
	}
	if (!r) {
		*offset = s->reserved[s->reserved_next++];
		qcow2_file_grew(node, *offset + s->cluster);
		prealloc(co, node, *offset);
	}
	alloc_unlock(co, s);
	return r;
}

static int unref_locked(struct blk_co *co, struct blk_node *node,
			uint64_t offset, uint64_t len)
{
	struct qcow2 *s = node->priv;
	uint64_t c = offset >> s->cluster_bits;
	uint64_t end = (offset + len + s->cluster - 1) >> s->cluster_bits;
	unsigned order = s->h.refcount_order;

	for (; c < end; c++) {
		uint64_t rt = c >> s->rb_bits,
			 i = c & ((1ull << s->rb_bits) - 1);
		struct qcow2_table *t;
		uint64_t v;
		int r;

		if (rt >= reftable_entries(s))
			return -EIO;
		r = get_rb(co, node, rt, false, &t);
		if (r || !t)
			return r ? r : -EIO;
		v = qcow2_rc_get(t->data, i, order);
		if (!v) {
			qcow2_table_put(co, &s->rb, t);
			return -EIO; /* corrupt: it would go below zero */
		}
		qcow2_rc_set(t->data, i, order, v - 1);
		r = store_entries(co, node, t, i, i);
		qcow2_table_put(co, &s->rb, t);
		if (r)
			return r;
		if (v == 1 && c < s->free_hint)
			s->free_hint = c;
	}
	return 0;
}

int qcow2_unref(struct blk_co *co, struct blk_node *node, uint64_t offset,
		uint64_t len)
{
	struct qcow2 *s = node->priv;
	int r;

	alloc_lock(co, s);
	r = unref_locked(co, node, offset, len);
	alloc_unlock(co, s);
	return r;
}

int qcow2_release_reserved(struct blk_node *node)
{
	struct qcow2 *s = node->priv;
	size_t g = s->granule;
	unsigned bits = 1u << s->h.refcount_order;
	uint64_t cur = UINT64_MAX; /* file offset of the granule in buf */
	uint8_t *buf;
	int fd = node->file->fd, r = 0;

	if (s->reserved_next == s->nreserved)
		return 0;
	if (posix_memalign((void **)&buf, ALIGN, g))
		return -ENOMEM;
	/* Reserved clusters run in order: one read and one write per
	 * granule of refcounts, not per cluster. */
	for (unsigned j = s->reserved_next; j < s->nreserved && !r; j++) {
		uint64_t c = s->reserved[j] >> s->cluster_bits;
		uint64_t rt = c >> s->rb_bits,
			 i = c & ((1ull << s->rb_bits) - 1);
		uint64_t rb =
			get_be64(s->reftable.data + rt * 8) & QCOW2_OFFSET_MASK;
		size_t at = (size_t)(i * bits / 8) & ~(g - 1);

		if (rb + at != cur) {
			if (cur != UINT64_MAX &&
			    pwrite(fd, buf, g, (off_t)cur) != (ssize_t)g)
				r = -EIO;
			cur = rb + at;
			if (!r && pread(fd, buf, g, (off_t)cur) != (ssize_t)g)
				r = -EIO;
		}
		if (!r)
			qcow2_rc_set(buf, i - at * 8 / bits,
				     s->h.refcount_order, 0);
	}
	if (!r && cur != UINT64_MAX &&
	    pwrite(fd, buf, g, (off_t)cur) != (ssize_t)g)
		r = -EIO;
	free(buf);
	s->nreserved = s->reserved_next = 0;
	if (!r && fdatasync(fd))
		r = -errno;
	return r;
}

uint64_t qcow2_rc_max(unsigned order)
{
	return rc_max(order);
}
