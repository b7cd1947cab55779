/* The QED format driver over its file child, with an optional backing
 * node of any format. Open and close run on the main thread with plain
 * reads and writes (the consistency check of an image left with its
 * need-check bit set runs there too); requests run as coroutines
 * (block/co.h) on the ctx's thread, one cluster at a time: a read maps
 * the cluster through the L1 table and a cached L2 table and reads the
 * file, the backing node or zeroes; a write to an allocated cluster goes
 * in place, any other write appends a cluster at the end of the file,
 * fills the rest of it from the old contents (copy-on-write), writes it
 * (and flushes, over a backing file) and only then points the L2 entry
 * at it. Before the first table change of an open the need-check bit is
 * set and flushed; a clean close clears it (unless a bad entry named
 * space past the end of the file: bad_entry). Offsets from the file are
 * checked before use: the L2 tables' at open (index_l1: a bad L1 entry
 * stays an error however the file grows; overlapping tables refuse a
 * read-write open), a data cluster's at each use (not in the header, the
 * L1 table or any L2 table); a bad one fails the request with -EIO.
 *
 * Shared state: struct qed (node->priv), used by the coroutines of every
 * ctx the node is attached to, under its mu; mu is never held across
 * I/O (a coroutine that must wait drops it in blk_co_wait). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "co.h"
#include "driver.h"
#include "format.h"
#include "lib/bytes.h"
#include "lib/checked.h"
#include "lib/log.h"
#include "offset_set.h"
#include "qcow2_format.h"
#include "qed_format.h"

#define ALIGN 4096
#define HEADER_READ (64u << 10)
#define L2_CACHE_BYTES (8u << 20)
/* Past this the file offsets of new clusters are refused. */
#define MAX_FILE_END (1ull << 62)
/* The consistency check's bitmap of used clusters, at most. */
#define CHECK_BITMAP_MAX (64u << 20)

/* One table in memory: the L1 table, or an L2 table in the cache. Its
 * bytes are as on disk (little-endian). A change is written back a
 * granule at a time, one write per table at a time. */
struct qed_table {
	uint64_t offset; /* in the file; 0: a free cache slot */
	uint8_t *data;	 /* table_bytes, aligned; NULL until first used */
	unsigned users;	 /* pins: not evicted while > 0 */
	uint64_t used;	 /* LRU tick */
	bool loading, writing;
	struct blk_waitq wq; /* loading or writing finished */
};

/* A guest cluster whose L2 entry is being changed: later writes to it
 * wait (two writes to one unallocated cluster must not both allocate). */
struct qed_inflight {
	uint64_t gc;
	struct blk_waitq wq;
	struct qed_inflight *next;
};

enum need_check { CLEAN, MARKING, DIRTY };

struct qed {
	/* Set at open, read-only after. */
	struct qed_header h;
	uint64_t cluster, table_bytes, header_bytes;
	unsigned cluster_bits, l2_bits; /* log2 entries per table */
	uint32_t granule;		/* smallest metadata write */
	bool writable;
	/* A bit per L1 entry that named no valid L2 table at open: it stays
	 * an error when the file grows over the offset it names. */
	uint8_t *l1_bad;
	pthread_mutex_t mu;
	/* Below: mu. */
	struct qed_table l1;
	/* The L2 tables' offsets: no data cluster may lie in one. */
	struct offset_set tables;
	struct qed_table *l2; /* the cache */
	unsigned nl2;
	uint64_t tick;
	struct blk_waitq l2_wq; /* a cached table was unpinned */
	struct qed_inflight *inflight;
	/* A new L2 table is made one coroutine at a time. */
	bool l2_busy;
	struct blk_waitq l2_busy_wq;
	uint64_t file_end; /* where the next cluster goes */
	enum need_check need_check;
	/* A bad table entry named space past the end of the file (an L1
	 * entry at open, an L2 entry when used): the need-check bit, once
	 * set, stays set at close. */
	bool past_end;
	struct blk_waitq need_check_wq;
	uint8_t *header; /* the file's first granule as on disk */
};

/* --- Offsets --- */

/* An L2 table at off: aligned, past the header, inside the file, not
 * the L1 table. */
static bool table_ok(const struct qed *s, uint64_t off)
{
	return !(off & (s->cluster - 1)) && off >= s->header_bytes &&
	       range_within(off, s->table_bytes, s->file_end) &&
	       !ranges_overlap(off, s->table_bytes, s->l1.offset,
			       s->table_bytes);
}

/* A data cluster at off: the same, one cluster, and no L2 table's (mu
 * held). */
static bool data_ok(const struct qed *s, uint64_t off)
{
	return !(off & (s->cluster - 1)) && off >= s->header_bytes &&
	       range_within(off, s->cluster, s->file_end) &&
	       !ranges_overlap(off, s->cluster, s->l1.offset, s->table_bytes) &&
	       !offset_set_overlaps(&s->tables, off, s->cluster,
				    s->table_bytes);
}

static uint64_t l1_index(const struct qed *s, uint64_t g)
{
	return g >> (s->cluster_bits + s->l2_bits);
}

static size_t l2_pos(const struct qed *s, uint64_t g)
{
	return (size_t)((g >> s->cluster_bits) & ((1ull << s->l2_bits) - 1)) *
	       8;
}

/* --- The L2 cache and table writes (mu held throughout) --- */

static struct qed_table *cache_find(struct qed *s, uint64_t off)
{
	for (unsigned i = 0; i < s->nl2; i++)
		if (s->l2[i].offset == off)
			return &s->l2[i];
	return NULL;
}

/* The least recently used unpinned slot, or NULL. */
static struct qed_table *cache_victim(struct qed *s)
{
	struct qed_table *v = NULL;

	for (unsigned i = 0; i < s->nl2; i++) {
		struct qed_table *t = &s->l2[i];

		if (t->users || t->loading || t->writing)
			continue;
		if (!v || t->used < v->used)
			v = t;
	}
	return v;
}

/* Pins the L2 table at off, reading it on a miss (fill), or a slot for
 * a new one whose bytes are the caller's to set (!fill). */
static int table_get(struct blk_co *co, struct blk_node *node, uint64_t off,
		     bool fill, struct qed_table **out)
{
	struct qed *s = node->priv;
	struct qed_table *t;
	int r;

	for (;;) {
		t = cache_find(s, off);
		if (t && t->loading) {
			blk_co_wait(co, &t->wq, &s->mu);
			continue;
		}
		if (t) {
			t->users++;
			t->used = ++s->tick;
			*out = t;
			return 0;
		}
		t = cache_victim(s);
		if (t)
			break;
		blk_co_wait(co, &s->l2_wq, &s->mu);
	}
	if (!t->data &&
	    posix_memalign((void **)&t->data, ALIGN, s->table_bytes)) {
		t->data = NULL;
		return -ENOMEM;
	}
	t->offset = off;
	t->users = 1;
	t->used = ++s->tick;
	if (!fill) {
		*out = t;
		return 0;
	}
	t->loading = true;
	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, BLK_EV_L2_LOAD);
	if (!r)
		r = blk_co_pread(co, node->file, off, t->data, s->table_bytes);
	pthread_mutex_lock(&s->mu);
	t->loading = false;
	blk_co_wake_all(co, &t->wq);
	if (r) {
		t->offset = 0;
		t->users = 0;
		blk_co_wake_all(co, &s->l2_wq);
		return r;
	}
	*out = t;
	return 0;
}

static void table_put(struct blk_co *co, struct qed *s, struct qed_table *t)
{
	if (!--t->users)
		blk_co_wake_all(co, &s->l2_wq);
}

/* Writes the granule of t holding byte pos as it is now, as step ev;
 * one write per table at a time, so that a later change never lands
 * before an earlier one. */
static int table_store(struct blk_co *co, struct blk_node *node,
		       struct qed_table *t, size_t pos, enum blk_event ev)
{
	struct qed *s = node->priv;
	size_t start = pos & ~((size_t)s->granule - 1);
	uint8_t *buf;
	int r;

	/* Before the table's write turn: a request held at this step holds
	 * up no other update of the table. */
	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, ev);
	pthread_mutex_lock(&s->mu);
	if (r)
		return r;
	while (t->writing)
		blk_co_wait(co, &t->wq, &s->mu);
	if (posix_memalign((void **)&buf, ALIGN, s->granule))
		return -ENOMEM;
	t->writing = true;
	memcpy(buf, t->data + start, s->granule);
	pthread_mutex_unlock(&s->mu);
	r = blk_co_pwrite(co, node->file, t->offset + start, buf, s->granule);
	pthread_mutex_lock(&s->mu);
	t->writing = false;
	blk_co_wake_all(co, &t->wq);
	free(buf);
	return r;
}

/* Sets the need-check bit, durably, before the first table change of
 * this open (QEMU's rule: an image may be inconsistent while it is set,
 * its next read-write open checks it). */
static int mark_need_check(struct blk_co *co, struct blk_node *node)
{
	struct qed *s = node->priv;
	int r;

	while (s->need_check == MARKING)
		blk_co_wait(co, &s->need_check_wq, &s->mu);
	if (s->need_check == DIRTY)
		return 0;
	s->need_check = MARKING;
	s->h.features |= QED_F_NEED_CHECK;
	qed_put_le64(s->header + 16, s->h.features);
	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, BLK_EV_HEADER_UPDATE);
	if (!r)
		r = blk_co_pwrite(co, node->file, 0, s->header, s->granule);
	if (!r)
		r = blk_co_range(co, node->file, BLK_OP_FLUSH, 0, 0);
	pthread_mutex_lock(&s->mu);
	if (r) {
		s->h.features &= ~QED_F_NEED_CHECK;
		qed_put_le64(s->header + 16, s->h.features);
	}
	s->need_check = r ? CLEAN : DIRTY;
	blk_co_wake_all(co, &s->need_check_wq);
	return r;
}

/* Room for n bytes at the end of the file. */
static int alloc(struct qed *s, uint64_t n, uint64_t *off)
{
	if (s->file_end > MAX_FILE_END - n)
		return -EFBIG;
	*off = s->file_end;
	s->file_end += n;
	return 0;
}

/* A request met a bad entry naming [off, off + len): -EIO. Past the end
 * of the file, the clusters this open appends may fill that space and
 * make the entry look valid to a later open, which would then read and
 * write someone else's cluster through it: the image is left needing a
 * check, whose repair clears the entry or, when the file has grown over
 * it, refuses the cluster referenced twice (mu held). */
static int bad_entry(struct qed *s, uint64_t off, uint64_t len)
{
	uint64_t end;

	/* Would be valid in a file that reached past it. */
	if (!(off & (s->cluster - 1)) && off >= s->header_bytes &&
	    checked_add(off, len, &end) && end <= MAX_FILE_END &&
	    end > s->file_end &&
	    !ranges_overlap(off, len, s->l1.offset, s->table_bytes))
		s->past_end = true;
	return -EIO;
}

/* --- Reads --- */

/* The L2 entry of guest offset g, with its table pinned (*t NULL, entry
 * 0, when the L1 entry is empty). */
static int lookup(struct blk_co *co, struct blk_node *node, uint64_t g,
		  struct qed_table **t, uint64_t *entry)
{
	struct qed *s = node->priv;
	uint64_t i = l1_index(s, g), l2 = qed_get_le64(s->l1.data + i * 8);
	int r;

	*t = NULL;
	*entry = QED_UNALLOCATED;
	if (!l2)
		return 0;
	if ((s->l1_bad[i / 8] & (1u << (i % 8))) || !table_ok(s, l2))
		return -EIO; /* a bad L2 table offset (index_l1) */
	r = table_get(co, node, l2, true, t);
	if (!r)
		*entry = qed_get_le64((*t)->data + l2_pos(s, g));
	return r;
}

/* Reads [g, g + len), inside one guest cluster whose L2 entry is entry
 * (a data cluster's offset already checked), into iov. */
static int read_entry(struct blk_co *co, struct blk_node *node, uint64_t g,
		      uint64_t len, uint64_t entry, struct iovec *iov,
		      unsigned n)
{
	struct qed *s = node->priv;
	int r;

	if (entry == QED_UNALLOCATED)
		return blk_co_read_backing(co, node, g, len, iov, n);
	if (entry == QED_ZERO_CLUSTER) {
		blk_iov_zero(iov, n);
		return 0;
	}
	r = blk_co_event(co, node->file, BLK_EV_READ);
	return r ? r
		 : blk_co_rwv(co, node->file, BLK_OP_READ,
			      entry + (g & (s->cluster - 1)), iov, n);
}

static int co_read(struct blk_co *co)
{
	struct blk_node *node = co->node;
	struct qed *s = node->priv;
	struct blk_req *req = co->req;
	struct iovec *iov = malloc((req->iovcnt + 1) * sizeof(*iov));
	uint64_t done = 0;
	int r = iov ? 0 : -ENOMEM;

	while (!r && done < req->len) {
		uint64_t g = req->offset + done;
		uint64_t len = s->cluster - (g & (s->cluster - 1));
		struct qed_table *t;
		uint64_t entry;

		len = len < req->len - done ? len : req->len - done;
		pthread_mutex_lock(&s->mu);
		r = lookup(co, node, g, &t, &entry);
		if (t)
			table_put(co, s, t);
		if (!r && entry != QED_UNALLOCATED &&
		    entry != QED_ZERO_CLUSTER && !data_ok(s, entry))
			r = bad_entry(s, entry, s->cluster);
		pthread_mutex_unlock(&s->mu);
		if (!r)
			r = read_entry(co, node, g, len, entry, iov,
				       blk_req_slice(req, done, len, iov));
		done += len;
	}
	free(iov);
	return r;
}

/* --- Writes --- */

static struct qed_inflight *inflight_find(struct qed *s, uint64_t gc)
{
	for (struct qed_inflight *f = s->inflight; f; f = f->next)
		if (f->gc == gc)
			return f;
	return NULL;
}

/* A new, zeroed L2 table for guest offset g, pinned, with the L1 entry
 * pointing at it. -EAGAIN when another coroutine was making one: the
 * caller looks the L1 entry up again. */
static int new_l2(struct blk_co *co, struct blk_node *node, uint64_t g,
		  struct qed_table **out)
{
	struct qed *s = node->priv;
	uint64_t l1i = l1_index(s, g), off;
	struct qed_table *t = NULL;
	int r;

	if (s->l2_busy) {
		blk_co_wait(co, &s->l2_busy_wq, &s->mu);
		return -EAGAIN;
	}
	s->l2_busy = true;
	r = mark_need_check(co, node);
	if (!r)
		r = alloc(s, s->table_bytes, &off);
	if (!r) /* past every table: appended */
		r = offset_set_add(&s->tables, off);
	if (!r)
		r = table_get(co, node, off, false, &t);
	if (r)
		goto out;
	/* Not reachable through L1 yet: nobody else reads it. */
	memset(t->data, 0, s->table_bytes);
	t->writing = true;
	pthread_mutex_unlock(&s->mu);
	r = blk_co_event(co, node->file, BLK_EV_L2_ALLOC);
	if (!r)
		r = blk_co_pwrite(co, node->file, off, t->data, s->table_bytes);
	pthread_mutex_lock(&s->mu);
	t->writing = false;
	blk_co_wake_all(co, &t->wq);
	if (!r) {
		qed_put_le64(s->l1.data + l1i * 8, off);
		r = table_store(co, node, &s->l1, l1i * 8, BLK_EV_L1_UPDATE);
	}
	if (r) {
		if (!qed_get_le64(s->l1.data + l1i * 8))
			t->offset = 0; /* never reachable: free the slot */
		table_put(co, s, t);
		goto out;
	}
	*out = t;
out:
	s->l2_busy = false;
	blk_co_wake_all(co, &s->l2_busy_wq);
	return r;
}

/* Writes [g, g + len) (inside one cluster; data, or zeroes) into a
 * cluster appended to the file with the rest copied from the old
 * contents (entry: unallocated or zero), then points the L2 entry at it.
 * mu held; the cluster is marked in flight by the caller. */
static int write_alloc(struct blk_co *co, struct blk_node *node,
		       struct qed_table *t, uint64_t entry, uint64_t g,
		       uint64_t len, struct iovec *data, unsigned n, bool zero)
{
	struct qed *s = node->priv;
	uint64_t in = g & (s->cluster - 1), host;
	struct iovec *v = malloc((n + 2) * sizeof(*v));
	uint8_t *buf = NULL;
	unsigned m = 0;
	int r;

	if (!v)
		return -ENOMEM;
	r = alloc(s, s->cluster, &host);
	if (r)
		goto out;
	pthread_mutex_unlock(&s->mu);
	if (len < s->cluster || zero) {
		struct iovec whole;

		if (posix_memalign((void **)&buf, ALIGN, s->cluster)) {
			r = -ENOMEM;
		} else if (entry == QED_UNALLOCATED && node->backing) {
			whole = (struct iovec){ buf, s->cluster };
			r = blk_co_event(co, node->file, BLK_EV_COW_READ);
			if (!r)
				r = blk_co_read_backing(co, node, g - in,
							s->cluster, &whole, 1);
		} else {
			memset(buf, 0, s->cluster);
		}
	}
	if (!r) {
		if (zero) {
			memset(buf + in, 0, len);
			v[m++] = (struct iovec){ buf, s->cluster };
		} else {
			if (in)
				v[m++] = (struct iovec){ buf, in };
			memcpy(v + m, data, n * sizeof(*v));
			m += n;
			if (in + len < s->cluster)
				v[m++] =
					(struct iovec){ buf + in + len,
							s->cluster - in - len };
		}
		r = blk_co_event(co, node->file, BLK_EV_COW_WRITE);
		if (!r)
			r = blk_co_rwv(co, node->file, BLK_OP_WRITE, host, v,
				       m);
	}
	/* Over a backing file the data must be durable before the entry
	 * that makes it replace the backing file's (QEMU's rule too). */
	if (!r && node->backing)
		r = blk_co_range(co, node->file, BLK_OP_FLUSH, 0, 0);
	pthread_mutex_lock(&s->mu);
	if (!r)
		r = mark_need_check(co, node);
	if (r)
		goto out; /* host stays unused: a leak, not corruption */
	qed_put_le64(t->data + l2_pos(s, g), host);
	r = table_store(co, node, t, l2_pos(s, g), BLK_EV_L2_UPDATE);
out:
	free(buf);
	free(v);
	return r;
}

/* Zeroes [off, off + len) of the file: fallocate, else a write. */
static int zero_in_place(struct blk_co *co, struct blk_node *node, uint64_t off,
			 uint64_t len)
{
	uint8_t *buf;
	int r = blk_co_range(co, node->file, BLK_OP_WRITE_ZEROES, off, len);

	if (r != -EOPNOTSUPP && r != -EINVAL)
		return r;
	if (posix_memalign((void **)&buf, ALIGN, align_up(len, ALIGN)))
		return -ENOMEM;
	memset(buf, 0, len);
	r = blk_co_pwrite(co, node->file, off, buf, len);
	free(buf);
	return r;
}

static int write_cluster(struct blk_co *co, struct blk_node *node, uint64_t g,
			 uint64_t len, struct iovec *data, unsigned n,
			 bool zero)
{
	struct qed *s = node->priv;
	uint64_t gc = g >> s->cluster_bits, entry, in = g & (s->cluster - 1);
	bool whole = !in && (len == s->cluster || g + len == node->size);
	struct qed_inflight self = { .gc = gc }, **pp;
	struct qed_inflight *f;
	struct qed_table *t;
	int r;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while ((f = inflight_find(s, gc)))
			blk_co_wait(co, &f->wq, &s->mu);
		r = lookup(co, node, g, &t, &entry);
		if (!r && !t) {
			if (zero && !node->backing) {
				/* Reads as zeroes already. */
				pthread_mutex_unlock(&s->mu);
				return 0;
			}
			r = new_l2(co, node, g, &t);
			if (r == -EAGAIN)
				continue;
		}
		if (r) {
			pthread_mutex_unlock(&s->mu);
			return r;
		}
		/* Waits above: another write may have started changing
		 * this cluster's entry meanwhile. */
		if (!inflight_find(s, gc))
			break;
		table_put(co, s, t);
	}
	entry = qed_get_le64(t->data + l2_pos(s, g));
	if (entry != QED_UNALLOCATED && entry != QED_ZERO_CLUSTER) {
		int bad =
			data_ok(s, entry) ? 0 : bad_entry(s, entry, s->cluster);

		table_put(co, s, t);
		pthread_mutex_unlock(&s->mu);
		if (bad)
			return bad;
		if (zero)
			return zero_in_place(co, node, entry + in, len);
		r = blk_co_event(co, node->file, BLK_EV_WRITE);
		return r ? r
			 : blk_co_rwv(co, node->file, BLK_OP_WRITE, entry + in,
				      data, n);
	}
	if (zero && (entry == QED_ZERO_CLUSTER || !node->backing)) {
		table_put(co, s, t);
		pthread_mutex_unlock(&s->mu);
		return 0; /* reads as zeroes already */
	}
	self.next = s->inflight;
	s->inflight = &self;
	if (zero && whole) {
		/* Over the backing file: a zero cluster hides it. */
		r = mark_need_check(co, node);
		if (!r) {
			qed_put_le64(t->data + l2_pos(s, g), QED_ZERO_CLUSTER);
			r = table_store(co, node, t, l2_pos(s, g),
					BLK_EV_L2_UPDATE);
		}
	} else {
		r = write_alloc(co, node, t, entry, g, len, data, n, zero);
	}
	for (pp = &s->inflight; *pp != &self; pp = &(*pp)->next)
		;
	*pp = self.next;
	blk_co_wake_all(co, &self.wq);
	table_put(co, s, t);
	pthread_mutex_unlock(&s->mu);
	return r;
}

static int co_write(struct blk_co *co)
{
	struct blk_node *node = co->node;
	struct qed *s = node->priv;
	struct blk_req *req = co->req;
	bool zero = req->op == BLK_OP_WRITE_ZEROES;
	struct iovec *iov = malloc((req->iovcnt + 1) * sizeof(*iov));
	uint64_t done = 0;
	int r = iov ? 0 : -ENOMEM;

	while (!r && done < req->len) {
		uint64_t g = req->offset + done;
		uint64_t len = s->cluster - (g & (s->cluster - 1));
		unsigned n = 0;

		len = len < req->len - done ? len : req->len - done;
		if (!zero)
			n = blk_req_slice(req, done, len, iov);
		r = write_cluster(co, node, g, len, iov, n, zero);
		done += len;
	}
	free(iov);
	return r;
}

static int co_flush(struct blk_co *co)
{
	int r = blk_co_event(co, co->node->file, BLK_EV_FLUSH);

	return r ? r : blk_co_range(co, co->node->file, BLK_OP_FLUSH, 0, 0);
}

static int qed_submit(struct blk_node *node, struct blk_ctx *ctx,
		      struct blk_req *req)
{
	switch (req->op) {
	case BLK_OP_READ: return blk_co_submit(node, ctx, req, co_read);
	case BLK_OP_WRITE:
	case BLK_OP_WRITE_ZEROES:
		return blk_co_submit(node, ctx, req, co_write);
	case BLK_OP_FLUSH: return blk_co_submit(node, ctx, req, co_flush);
	case BLK_OP_DISCARD:
	case BLK_OP_PREALLOCATE: return -EOPNOTSUPP;
	}
	return -EINVAL;
}

/* --- Open and close (main thread, plain system calls) --- */

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(fd, buf, len, (off_t)off);

	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

static int read_header(struct blk_node *node, struct blk_opts *o)
{
	struct qed *s = node->priv;
	uint64_t fsize = node->file->size;
	size_t len = (size_t)align_up(fsize < HEADER_READ ? fsize : HEADER_READ,
				      ALIGN);
	char why[160];
	uint8_t *buf;
	ssize_t n;
	int r;

	if (posix_memalign((void **)&buf, ALIGN, len ? len : ALIGN))
		return blk_open_fail(o, -ENOMEM, "out of memory");
	memset(buf, 0, len ? len : ALIGN);
	n = pread(node->file->fd, buf, len, 0);
	if (n < 0) {
		r = -errno;
		free(buf);
		return blk_open_fail(o, r, "reading the header at 0: %s",
				     strerror(-r));
	}
	r = qed_header_parse(buf, (size_t)n, fsize, &s->h, why, sizeof(why));
	if (r) {
		free(buf);
		return blk_open_fail(o, r, "%s", why);
	}
	s->cluster = s->h.cluster_size;
	s->cluster_bits = (unsigned)__builtin_ctzll(s->cluster);
	s->table_bytes = s->cluster * s->h.table_size;
	s->l2_bits = (unsigned)__builtin_ctzll(s->table_bytes / 8);
	s->header_bytes = (uint64_t)s->h.header_size * s->cluster;
	s->granule =
		node->file->block_size > 512 ? node->file->block_size : 512;
	if (s->granule > s->cluster || s->granule > ALIGN) {
		free(buf);
		return blk_open_fail(o, -EINVAL,
				     "the disk's %u byte blocks are larger "
				     "than %llu byte clusters allow",
				     s->granule,
				     (unsigned long long)s->cluster);
	}
	/* The file holds whole clusters; a partial last one is overwritten
	 * by the first new cluster (QEMU's rule, and the spec's). */
	s->file_end = fsize & ~(s->cluster - 1);
	s->header = buf; /* its first granule is what header writes use */
	return 0;
}

static int write_header(struct blk_node *node)
{
	struct qed *s = node->priv;
	int fd = node->file->fd;
	int r;

	qed_put_le64(s->header + 16, s->h.features);
	qed_put_le64(s->header + 32, s->h.autoclear_features);
	r = pwrite_all(fd, s->header, s->granule, 0);
	if (!r && fdatasync(fd))
		r = -errno;
	return r;
}

static int load_l1(struct blk_node *node, struct blk_opts *o)
{
	struct qed *s = node->priv;
	int r;

	s->l1.offset = s->h.l1_offset;
	if (posix_memalign((void **)&s->l1.data, ALIGN, s->table_bytes))
		return blk_open_fail(o, -ENOMEM, "out of memory");
	r = pread_all(node->file->fd, s->l1.data, s->table_bytes, s->l1.offset);
	if (r)
		return blk_open_fail(o, r, "reading the L1 table at %#llx: %s",
				     (unsigned long long)s->l1.offset,
				     strerror(-r));
	return 0;
}

struct check {
	uint8_t *used; /* a bit per cluster of the file */
	uint64_t clusters, cleared, twice;
};

/* Marks n clusters at off used; false when one already was. */
static bool mark_used(struct qed *s, struct check *c, uint64_t off, uint64_t n)
{
	uint64_t i = off >> s->cluster_bits;
	bool fresh = true;

	for (; n--; i++) {
		if (c->used[i / 8] & (1u << (i % 8)))
			fresh = false;
		c->used[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	return fresh;
}

/* An entry QEMU's check keeps: aligned, past the header, whole inside
 * the file. */
static bool check_ok(const struct qed *s, uint64_t off, uint64_t len)
{
	return !(off & (s->cluster - 1)) && off >= s->header_bytes &&
	       range_within(off, len, s->file_end);
}

/* One L2 table: invalid entries cleared (and the table written back),
 * clusters referenced twice counted. */
static int check_l2(struct blk_node *node, struct check *c, uint64_t off,
		    uint8_t *buf)
{
	struct qed *s = node->priv;
	uint64_t cleared = 0;
	int r = pread_all(node->file->fd, buf, s->table_bytes, off);

	if (r)
		return r;
	for (uint64_t j = 0; j < s->table_bytes / 8; j++) {
		uint64_t e = qed_get_le64(buf + j * 8);

		if (e == QED_UNALLOCATED || e == QED_ZERO_CLUSTER)
			continue;
		if (!check_ok(s, e, s->cluster)) {
			qed_put_le64(buf + j * 8, QED_UNALLOCATED);
			cleared++;
		} else if (!mark_used(s, c, e, 1)) {
			c->twice++;
		}
	}
	c->cleared += cleared;
	return cleared ? pwrite_all(node->file->fd, buf, s->table_bytes, off)
		       : 0;
}

/* QEMU's qed-check with repair, for an image whose need-check bit is
 * set: L1 and L2 entries that are unaligned, in the header or past the
 * end of the file are cleared (what a crash between a table write and
 * the data it points to leaves); clusters referenced twice cannot be
 * repaired and the image is refused. Then the bit is cleared. */
static int check_image(struct blk_node *node, struct blk_opts *o)
{
	struct qed *s = node->priv;
	const char *path = blk_opt(o, "path", NULL);
	struct check c = { .clusters = s->file_end >> s->cluster_bits };
	uint64_t l1_cleared = 0;
	uint8_t *buf = NULL;
	int r = 0;

	if ((c.clusters + 7) / 8 > CHECK_BITMAP_MAX)
		return blk_open_fail(o, -EFBIG,
				     "the image needs a consistency check "
				     "and its file is too large to check");
	c.used = calloc(1, (size_t)(c.clusters + 7) / 8 + 1);
	if (!c.used || posix_memalign((void **)&buf, ALIGN, s->table_bytes)) {
		free(c.used);
		return blk_open_fail(o, -ENOMEM, "out of memory");
	}
	mark_used(s, &c, s->l1.offset, s->h.table_size);
	for (uint64_t i = 0; i < s->table_bytes / 8 && !r; i++) {
		uint64_t e = qed_get_le64(s->l1.data + i * 8);

		if (e == QED_UNALLOCATED)
			continue;
		if (!check_ok(s, e, s->table_bytes)) {
			qed_put_le64(s->l1.data + i * 8, QED_UNALLOCATED);
			l1_cleared++;
			continue;
		}
		if (!mark_used(s, &c, e, s->h.table_size)) {
			c.twice++;
			continue; /* not read twice */
		}
		r = check_l2(node, &c, e, buf);
		if (r)
			r = blk_open_fail(o, r,
					  "checking the L2 table at %#llx: %s",
					  (unsigned long long)e, strerror(-r));
	}
	if (!r && l1_cleared &&
	    (r = pwrite_all(node->file->fd, s->l1.data, s->table_bytes,
			    s->l1.offset)))
		r = blk_open_fail(o, r, "writing the L1 table at %#llx: %s",
				  (unsigned long long)s->l1.offset,
				  strerror(-r));
	free(buf);
	free(c.used);
	if (r)
		return r;
	if (c.twice)
		return blk_open_fail(o, -EIO,
				     "the image needs a consistency check "
				     "and %llu of its clusters are referenced "
				     "more than once, which cannot be "
				     "repaired; open it read-only",
				     (unsigned long long)c.twice);
	if (fdatasync(node->file->fd))
		return blk_open_fail(o, -errno, "%s", strerror(errno));
	if (l1_cleared + c.cleared)
		log_info("disk %s: consistency check: cleared %llu table "
			 "entries pointing outside the file",
			 path ? path : "?",
			 (unsigned long long)(l1_cleared + c.cleared));
	s->h.features &= ~QED_F_NEED_CHECK;
	r = write_header(node);
	if (r)
		return blk_open_fail(o, r, "writing the header at 0: %s",
				     strerror(-r));
	return 0;
}

/* The first L1 entry but skip naming the L2 table at off. */
static uint64_t l1_entry_of(const struct qed *s, uint64_t off, uint64_t skip)
{
	uint64_t i = 0;

	while (i < s->table_bytes / 8 &&
	       (i == skip || qed_get_le64(s->l1.data + i * 8) != off))
		i++;
	return i;
}

/* Notes the L1 entries that name no valid L2 table, and the tables the
 * others name. Two tables that overlap (one named twice, most likely)
 * would make a write through one entry change what the other maps:
 * refused read-write (as the check refuses clusters referenced twice),
 * read as they are read-only. */
static int index_l1(struct blk_node *node, struct blk_opts *o)
{
	struct qed *s = node->priv;
	uint64_t n = s->table_bytes / 8, used = 0;
	int r;

	for (uint64_t i = 0; i < n; i++)
		used += !!qed_get_le64(s->l1.data + i * 8);
	s->l1_bad = calloc(1, (size_t)(n + 7) / 8);
	r = offset_set_reserve(&s->tables, (size_t)used + 16);
	if (!s->l1_bad || r)
		return blk_open_fail(o, -ENOMEM, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t e = qed_get_le64(s->l1.data + i * 8);

		if (!e)
			continue;
		if (table_ok(s, e)) {
			offset_set_push(&s->tables, e);
		} else {
			s->l1_bad[i / 8] |= (uint8_t)(1u << (i % 8));
			bad_entry(s, e, s->table_bytes);
		}
	}
	offset_set_sort(&s->tables);
	for (size_t j = 1; s->writable && j < s->tables.n; j++) {
		uint64_t a = s->tables.v[j - 1], b = s->tables.v[j], ia, ib;

		if (b >= a + s->table_bytes)
			continue;
		ia = l1_entry_of(s, a, n);
		ib = l1_entry_of(s, b, ia);
		return blk_open_fail(o, -EIO,
				     "L1 entries %llu and %llu name "
				     "overlapping L2 tables (at %#llx and "
				     "%#llx), which cannot be repaired; open "
				     "it read-only",
				     (unsigned long long)(ia < ib ? ia : ib),
				     (unsigned long long)(ia < ib ? ib : ia),
				     (unsigned long long)(ia < ib ? a : b),
				     (unsigned long long)(ia < ib ? b : a));
	}
	return 0;
}

static int setup_cache(struct blk_node *node, struct blk_opts *o)
{
	struct qed *s = node->priv;
	uint64_t tables =
		(s->h.image_size >> (s->cluster_bits + s->l2_bits)) + 1;
	uint64_t n = L2_CACHE_BYTES / s->table_bytes;

	/* Enough for the whole disk, up to 8 MiB of tables (at least two);
	 * each slot's buffer is allocated on first use. */
	n = tables < n ? tables : n;
	n = n < 2 ? 2 : n;
	s->l2 = calloc(n, sizeof(*s->l2));
	if (!s->l2)
		return blk_open_fail(o, -ENOMEM, "out of memory");
	s->nl2 = (unsigned)n;
	return 0;
}

/* A clean close of an image this open wrote to: everything durable,
 * then the bit cleared. On a failure, or after a bad entry past the end
 * (bad_entry), it stays set and the next open checks the image. Table
 * changes are written as they are made: nothing else is cached. No
 * request in flight. */
static int hand_over(struct blk_node *node)
{
	struct qed *s = node->priv;
	int r;

	if (s->need_check != DIRTY)
		return 0;
	if (fdatasync(node->file->fd))
		return -errno;
	if (s->past_end)
		return 0;
	s->h.features &= ~QED_F_NEED_CHECK;
	r = write_header(node);
	if (r) {
		s->h.features |= QED_F_NEED_CHECK;
		return r;
	}
	/* The next table change of this open (blk_activate) sets it
	 * again. */
	s->need_check = CLEAN;
	return 0;
}

/* blk_inactivate: the image clean on disk, as close leaves it. */
static int qed_inactivate(struct blk_node *node)
{
	int r = hand_over(node);

	if (r)
		log_error("qed image: handing the image over: %s",
			  strerror(-r));
	return r;
}

static void qed_close(struct blk_node *node)
{
	struct qed *s = node->priv;

	if (!s)
		return;
	/* Handed over (or never taken over): not a byte is written. */
	if (!node->inactive)
		hand_over(node);
	for (unsigned i = 0; s->l2 && i < s->nl2; i++)
		free(s->l2[i].data);
	free(s->l2);
	free(s->l1.data);
	free(s->l1_bad);
	offset_set_free(&s->tables);
	free(s->header);
	pthread_mutex_destroy(&s->mu);
	free(s);
	node->priv = NULL;
}

static int qed_open(struct blk_node *node, struct blk_opts *o)
{
	struct qed *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return blk_open_fail(o, -ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	node->priv = s;
	r = blk_open_file_child(node, o);
	if (r)
		return r;
	s->writable = !node->file->readonly;
	node->file->growable = true; /* clusters are appended */
	/* This image's place in its chain, for its backing file's check. */
	blk_chain_note(node, o);
	if ((r = read_header(node, o)) || (r = load_l1(node, o)))
		return r;
	/* Read-only, a need-check image opens as it is (QEMU does too):
	 * every offset is checked again as it is used. */
	if (s->writable && (s->h.features & QED_F_NEED_CHECK) &&
	    (r = check_image(node, o)))
		return r;
	if (s->writable && s->h.autoclear_features) {
		/* None known: a writer that does not know them clears them. */
		s->h.autoclear_features = 0;
		r = write_header(node);
		if (r)
			return blk_open_fail(o, r,
					     "writing the header at 0: %s",
					     strerror(-r));
	}
	if ((r = index_l1(node, o)) || (r = setup_cache(node, o)))
		return r;
	if ((s->h.features & QED_F_BACKING_FILE) &&
	    (r = blk_open_backing(
		     node, o, s->h.backing,
		     s->h.features & QED_F_BACKING_NO_PROBE ? "raw" : NULL)))
		return r;
	node->size = s->h.image_size;
	node->block_size = node->file->block_size;
	node->readonly = !s->writable;
	node->can_discard = false;
	return 0;
}

const struct blk_driver blk_qed_driver = {
	.name = "qed",
	.kind = BLK_DRV_FORMAT,
	.open = qed_open,
	.submit = qed_submit,
	.close = qed_close,
	.inactivate = qed_inactivate,
};
