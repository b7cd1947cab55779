/* The qcow2 format driver (versions 2 and 3) over its file child, with
 * an optional backing node of any format. Open and close run on the main
 * thread with plain reads. A read of allocated clusters whose L2 table
 * is cached goes to the file as itself, its offset translated; other
 * requests run as coroutines (block/co.h) on the ctx's thread, one
 * cluster at a time: a read maps the cluster
 * through L1 and the cached L2 table and reads the file, the backing
 * node, zeroes or a compressed cluster; a write to a cluster it owns
 * (COPIED) goes in place, any other write allocates a cluster, fills the
 * rest of it from the old contents (copy-on-write), writes it, and only
 * then points the L2 entry at it. Shared state: struct qcow2 under its
 * mu (block/qcow2.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "driver.h"
#include "format.h"
#include "lib/bytes.h"
#include "lib/checked.h"
#include "lib/log.h"
#include "qcow2.h"
#include "qcow2_check.h"

#define ALIGN 4096
#define HEADER_READ (2u << 20) /* the largest cluster */
#define L2_CACHE_BYTES (8u << 20)

/* --- Requests --- */

/* Where one guest cluster's bytes are. */
enum kind { UNALLOCATED, ZERO, NORMAL, COMPRESSED };

static enum kind kind_of(const struct qcow2 *s, uint64_t entry)
{
	if (entry & QCOW2_COMPRESSED)
		return COMPRESSED;
	if (s->h.version >= 3 && (entry & QCOW2_ZERO))
		return ZERO;
	return entry & QCOW2_OFFSET_MASK ? NORMAL : UNALLOCATED;
}

/* A compressed entry's file offset and byte count (QEMU's layout: the
 * offset in the low bits, then the count of further 512 B sectors). */
static void compressed_range(const struct qcow2 *s, uint64_t entry,
			     uint64_t *off, uint64_t *len)
{
	unsigned shift = 62 - (s->cluster_bits - 8);
	uint64_t sectors =
		((entry >> shift) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;

	*off = entry & ((1ull << shift) - 1);
	*len = sectors * 512 - (*off & 511);
}

/* The L2 entry of guest offset g, with its table pinned (*t NULL when
 * the L1 entry is empty). mu held. */
static int lookup(struct blk_co *co, struct blk_node *node, uint64_t g,
		  struct qcow2_table **t, size_t *pos, uint64_t *entry)
{
	struct qcow2 *s = node->priv;
	uint64_t l1i = g >> (s->cluster_bits + s->l2_bits);
	uint64_t l2 = get_be64(s->l1.data + l1i * 8) & QCOW2_OFFSET_MASK;
	int r;

	*t = NULL;
	*entry = 0;
	*pos = ((g >> s->cluster_bits) & ((1ull << s->l2_bits) - 1)) * 8;
	if (!l2)
		return 0;
	if (l2 & (s->cluster - 1) || l2 >= qcow2_file_end(node) ||
	    qcow2_is_metadata(s, l2, s->cluster, QCOW2_META_L2))
		return -EIO; /* corrupt: unaligned, past the end, metadata */
	r = qcow2_table_get(co, node, &s->l2, l2, t);
	if (!r)
		*entry = get_be64((*t)->data + *pos);
	return r;
}

static void copy_to_iov(struct iovec *iov, unsigned n, const uint8_t *src)
{
	for (unsigned i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src, iov[i].iov_len);
		src += iov[i].iov_len;
	}
}

/* Inflates a compressed cluster into out (one cluster). */
static int read_compressed(struct blk_co *co, struct blk_node *node,
			   uint64_t entry, uint8_t *out)
{
	struct qcow2 *s = node->priv;
	uint64_t off, len, start, span;
	z_stream z = { 0 };
	uint8_t *buf;
	int r;

	compressed_range(s, entry, &off, &len);
	start = off & ~511ull;
	span = align_up(off + len, 512) - start;
	if (span > 2 * s->cluster + 1024 || off < s->cluster ||
	    start >= qcow2_file_end(node))
		return -EIO; /* corrupt: too big, in the header, past the end */
	if (start + span > qcow2_file_end(node))
		span = align_up(qcow2_file_end(node), 512) - start;
	if (off - start >= span)
		return -EIO;
	if (posix_memalign((void **)&buf, ALIGN, align_up(span, ALIGN)))
		return -ENOMEM;
	r = blk_co_pread(co, node->file, start, buf,
			 align_up(span, node->file->block_size));
	if (!r) {
		z.next_in = buf + (off - start);
		z.avail_in = (uInt)(span - (off - start));
		z.next_out = out;
		z.avail_out = (uInt)s->cluster;
		if (inflateInit2(&z, -12) != Z_OK) {
			r = -ENOMEM;
		} else {
			int zr = inflate(&z, Z_FINISH);

			/* A complete cluster; trailing sector padding is
			 * allowed. */
			if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) ||
			    z.avail_out)
				r = -EIO;
			inflateEnd(&z);
		}
	}
	free(buf);
	return r;
}

/* Reads the bytes of one guest cluster's kind into iov. */
static int read_kind(struct blk_co *co, struct blk_node *node, uint64_t g,
		     uint64_t len, uint64_t entry, struct iovec *iov,
		     unsigned n)
{
	struct qcow2 *s = node->priv;
	uint64_t in = g & (s->cluster - 1);
	uint8_t *buf;
	int r;

	switch (kind_of(s, entry)) {
	case UNALLOCATED: return blk_co_read_backing(co, node, g, len, iov, n);
	case ZERO: blk_iov_zero(iov, n); return 0;
	case NORMAL:
		if ((entry & QCOW2_OFFSET_MASK) & (s->cluster - 1) ||
		    (entry & QCOW2_OFFSET_MASK) >= qcow2_file_end(node))
			return -EIO; /* corrupt: unaligned, or past the end */
		r = blk_co_event(co, node->file, BLK_EV_READ);
		if (r)
			return r;
		return blk_co_rwv(co, node->file, BLK_OP_READ,
				  (entry & QCOW2_OFFSET_MASK) + in, iov, n);
	case COMPRESSED:
		if (posix_memalign((void **)&buf, ALIGN, s->cluster))
			return -ENOMEM;
		r = read_compressed(co, node, entry, buf);
		if (!r)
			copy_to_iov(iov, n, buf + in);
		free(buf);
		return r;
	}
	return -EIO;
}

static int co_read(struct blk_co *co)
{
	struct blk_node *node = co->node;
	struct qcow2 *s = node->priv;
	struct blk_req *req = co->req;
	struct iovec *iov = malloc((req->iovcnt + 1) * sizeof(*iov));
	uint64_t done = 0;
	int r = iov ? 0 : -ENOMEM;

	while (!r && done < req->len) {
		uint64_t g = req->offset + done;
		uint64_t len = s->cluster - (g & (s->cluster - 1));
		struct qcow2_table *t;
		uint64_t entry;
		size_t pos;
		unsigned n;

		len = len < req->len - done ? len : req->len - done;
		pthread_mutex_lock(&s->mu);
		r = lookup(co, node, g, &t, &pos, &entry);
		if (t)
			qcow2_table_put(co, &s->l2, t);
		pthread_mutex_unlock(&s->mu);
		if (r)
			break;
		n = blk_req_slice(req, done, len, iov);
		r = read_kind(co, node, g, len, entry, iov, n);
		done += len;
	}
	free(iov);
	return r;
}

/* A guest cluster whose allocation is in flight (mu held). */
static struct qcow2_inflight *inflight_find(struct qcow2 *s, uint64_t gc)
{
	for (struct qcow2_inflight *f = s->inflight; f; f = f->next)
		if (f->guest_cluster == gc)
			return f;
	return NULL;
}

/* The file offset of a request's first byte when the whole request lies
 * in normal clusters, contiguous in the file, of one L2 table the cache
 * holds, and for a write, clusters this image owns alone (COPIED, in a
 * table it owns), none of them metadata, none being allocated: then it
 * can go straight to the file. 0 when anything else (including anything
 * corrupt) is involved: the coroutine path serves such requests and
 * reports what is wrong. mu held. */
static uint64_t direct_offset(struct blk_node *node, const struct blk_req *req,
			      bool write)
{
	struct qcow2 *s = node->priv;
	unsigned span_bits = s->cluster_bits + s->l2_bits;
	uint64_t first = req->offset >> s->cluster_bits;
	uint64_t last = (req->offset + req->len - 1) >> s->cluster_bits;
	uint64_t l1i = req->offset >> span_bits, l1e, l2, want = 0, host = 0;
	struct qcow2_table *t;

	if (l1i != (req->offset + req->len - 1) >> span_bits)
		return 0;
	l1e = get_be64(s->l1.data + l1i * 8);
	l2 = l1e & QCOW2_OFFSET_MASK;
	if (!l2 || l2 & (s->cluster - 1) || l2 >= qcow2_file_end(node) ||
	    qcow2_is_metadata(s, l2, s->cluster, QCOW2_META_L2) ||
	    (write && !(l1e & QCOW2_COPIED)))
		return 0;
	t = qcow2_table_cached(&s->l2, l2);
	if (!t)
		return 0;
	for (uint64_t c = first; c <= last; c++) {
		size_t pos = (c & ((1ull << s->l2_bits) - 1)) * 8;
		uint64_t e = get_be64(t->data + pos);
		uint64_t off = e & QCOW2_OFFSET_MASK;

		if (kind_of(s, e) != NORMAL || off & (s->cluster - 1) ||
		    off >= qcow2_file_end(node) || (want && off != want))
			return 0;
		if (write && (!(e & QCOW2_COPIED) || inflight_find(s, c) ||
			      qcow2_is_metadata(s, off, s->cluster, 0)))
			return 0;
		if (!want)
			host = off + (req->offset & (s->cluster - 1));
		want = off + s->cluster;
	}
	return host;
}

/* A read of cached, allocated clusters, or a write in place into
 * clusters the image owns: the request itself goes to the file with its
 * offset translated, like raw's, with no coroutine (what a running
 * guest does most). Not under a blkdebug filter, whose rules see the
 * coroutine path's events. true when it was sent (*r). */
static bool direct(struct blk_node *node, struct blk_ctx *ctx,
		   struct blk_req *req, int *r)
{
	struct qcow2 *s = node->priv;
	uint64_t host;

	if (node->file->drv->filter || !req->len)
		return false;
	pthread_mutex_lock(&s->mu);
	host = direct_offset(node, req, req->op == BLK_OP_WRITE);
	pthread_mutex_unlock(&s->mu);
	if (!host)
		return false;
	req->offset = host;
	*r = blk_forward(node->file, ctx, req);
	return true;
}

/* --- Writes --- */

/* The L2 table of guest offset g, owned by this image (a new one, or a
 * copy of one shared with a snapshot), pinned. mu held. */
static int own_l2(struct blk_co *co, struct blk_node *node, uint64_t g,
		  struct qcow2_table **out)
{
	struct qcow2 *s = node->priv;
	uint64_t l1i = g >> (s->cluster_bits + s->l2_bits);
	uint64_t e, old, off;
	struct qcow2_table *t, *ot;
	int r;

	for (;;) {
		e = get_be64(s->l1.data + l1i * 8);
		if (e & QCOW2_COPIED) {
			off = e & QCOW2_OFFSET_MASK;
			if (!off || off & (s->cluster - 1) ||
			    off >= qcow2_file_end(node) ||
			    qcow2_is_metadata(s, off, s->cluster,
					      QCOW2_META_L2))
				return -EIO;
			return qcow2_table_get(co, node, &s->l2, off, out);
		}
		if (!s->l2_busy)
			break;
		blk_co_wait(co, &s->l2_wq, &s->mu);
	}
	/* One new L2 table at a time, so two writes under one L1 entry do
	 * not both make one. */
	s->l2_busy = true;
	old = e & QCOW2_OFFSET_MASK;
	if (old && (old & (s->cluster - 1) || old >= qcow2_file_end(node) ||
		    qcow2_is_metadata(s, old, s->cluster, QCOW2_META_L2))) {
		r = -EIO; /* corrupt: the shared table is not a table */
		goto out;
	}
	r = qcow2_alloc_cluster(co, node, &off);
	if (!r)
		r = offset_set_add(&s->l2s, off);
	if (r)
		goto out;
	r = qcow2_table_new(co, node, &s->l2, off, &t);
	if (r)
		goto out;
	/* Read back as the old table or zeroes: fill it before anyone can
	 * find it through L1. */
	if (old) {
		r = qcow2_table_get(co, node, &s->l2, old, &ot);
		if (!r) {
			memcpy(t->data, ot->data, s->cluster);
			qcow2_table_put(co, &s->l2, ot);
		}
	} else {
		memset(t->data, 0, s->cluster);
	}
	if (!r) {
		t->writing = true;
		pthread_mutex_unlock(&s->mu);
		r = blk_co_event(co, node->file, BLK_EV_L2_ALLOC);
		if (!r)
			r = blk_co_pwrite(co, node->file, off, t->data,
					  s->cluster);
		pthread_mutex_lock(&s->mu);
		t->writing = false;
		blk_co_wake_all(co, &t->wq);
	}
	if (!r) {
		put_be64(s->l1.data + l1i * 8, off | QCOW2_COPIED);
		r = qcow2_table_store(co, node, &s->l1, l1i * 8,
				      BLK_EV_L1_UPDATE);
	}
	if (!r && old)
		r = qcow2_unref(co, node, old, s->cluster);
	if (r) {
		qcow2_table_put(co, &s->l2, t);
		goto out;
	}
	*out = t;
out:
	s->l2_busy = false;
	blk_co_wake_all(co, &s->l2_wq);
	return r;
}

/* The old contents of a cluster being replaced, whole, into buf. */
static int cow_source(struct blk_co *co, struct blk_node *node, uint64_t gc,
		      uint64_t entry, uint8_t *buf)
{
	struct qcow2 *s = node->priv;
	struct iovec v = { .iov_base = buf, .iov_len = s->cluster };
	uint64_t g = gc << s->cluster_bits;

	if (kind_of(s, entry) == UNALLOCATED && !node->backing) {
		memset(buf, 0, s->cluster);
		return 0;
	}
	return read_kind(co, node, g, s->cluster, entry, &v, 1);
}

/* Writes [g, g + len) (inside one cluster) into a newly allocated
 * cluster with the rest copied from the old contents, then points the L2
 * entry at it and drops the old cluster's reference. mu held; the
 * cluster is marked in flight by the caller. */
static int write_alloc(struct blk_co *co, struct blk_node *node,
		       struct qcow2_table *t, size_t pos, uint64_t entry,
		       uint64_t g, uint64_t len, struct iovec *data, unsigned n)
{
	struct qcow2 *s = node->priv;
	uint64_t in = g & (s->cluster - 1), host, old_off = 0, old_len = 0;
	enum kind k = kind_of(s, entry);
	struct iovec *v = malloc((n + 2) * sizeof(*v));
	uint8_t *buf = NULL;
	unsigned m = 0;
	int r;

	if (!v)
		return -ENOMEM;
	r = qcow2_alloc_cluster(co, node, &host);
	if (r)
		goto out;
	pthread_mutex_unlock(&s->mu);
	if (len < s->cluster) {
		r = posix_memalign((void **)&buf, ALIGN, s->cluster)
			    ? -ENOMEM
			    : blk_co_event(co, node->file, BLK_EV_COW_READ);
		if (!r)
			r = cow_source(co, node, g >> s->cluster_bits, entry,
				       buf);
	}
	if (!r) {
		if (in)
			v[m++] = (struct iovec){ buf, in };
		memcpy(v + m, data, n * sizeof(*v));
		m += n;
		if (in + len < s->cluster)
			v[m++] = (struct iovec){ buf + in + len,
						 s->cluster - in - len };
		r = blk_co_event(co, node->file, BLK_EV_COW_WRITE);
		if (!r)
			r = blk_co_rwv(co, node->file, BLK_OP_WRITE, host, v,
				       m);
	}
	pthread_mutex_lock(&s->mu);
	if (r)
		goto out; /* host stays referenced: a leak, not corruption */
	if (k == NORMAL || (k == ZERO && (entry & QCOW2_OFFSET_MASK))) {
		old_off = entry & QCOW2_OFFSET_MASK;
		old_len = s->cluster;
	} else if (k == COMPRESSED) {
		compressed_range(s, entry, &old_off, &old_len);
	}
	/* A corrupt old entry's cluster is not ours to free: it may be
	 * metadata, or not in the file at all. */
	if (old_len && (qcow2_is_metadata(s, old_off, old_len, 0) ||
			!range_within(old_off, old_len, qcow2_file_end(node)) ||
			(k != COMPRESSED && old_off & (s->cluster - 1))))
		old_len = 0;
	/* The new entry is written back later (a flush, an eviction, the
	 * close): the refcount of its cluster is on disk already, and the
	 * data is written. Freeing the old cluster must wait for it to be
	 * on disk, or a crash could leave it pointed to and free. */
	put_be64(t->data + pos, host | QCOW2_COPIED);
	qcow2_table_mark(node, t, pos);
	r = 0;
	if (old_len) {
		r = qcow2_table_write_back(co, node, t, BLK_EV_L2_UPDATE);
		if (!r)
			r = qcow2_unref(co, node, old_off, old_len);
	}
out:
	free(buf);
	free(v);
	return r;
}

static int write_cluster(struct blk_co *co, struct blk_node *node, uint64_t g,
			 uint64_t len, struct iovec *data, unsigned n)
{
	struct qcow2 *s = node->priv;
	uint64_t gc = g >> s->cluster_bits, entry, host;
	struct qcow2_inflight self = { .guest_cluster = gc }, **pp;
	struct qcow2_table *t;
	struct qcow2_inflight *f;
	size_t pos;
	int r;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while ((f = inflight_find(s, gc)))
			blk_co_wait(co, &f->wq, &s->mu);
		r = own_l2(co, node, g, &t);
		if (r) {
			pthread_mutex_unlock(&s->mu);
			return r;
		}
		/* own_l2 may have waited: another write may have started
		 * allocating this cluster meanwhile. */
		if (!inflight_find(s, gc))
			break;
		qcow2_table_put(co, &s->l2, t);
	}
	pos = (gc & ((1ull << s->l2_bits) - 1)) * 8;
	entry = get_be64(t->data + pos);
	host = entry & QCOW2_OFFSET_MASK;
	if ((entry & QCOW2_COPIED) && kind_of(s, entry) == NORMAL) {
		/* Writing through a corrupt entry onto metadata would
		 * corrupt the image; QEMU's overlap check refuses it too. */
		bool bad = host & (s->cluster - 1) ||
			   qcow2_is_metadata(s, host, s->cluster, 0);

		qcow2_table_put(co, &s->l2, t);
		pthread_mutex_unlock(&s->mu);
		if (bad)
			return -EIO;
		r = blk_co_event(co, node->file, BLK_EV_WRITE);
		if (r)
			return r;
		return blk_co_rwv(co, node->file, BLK_OP_WRITE,
				  host + (g & (s->cluster - 1)), data, n);
	}
	self.next = s->inflight;
	s->inflight = &self;
	r = write_alloc(co, node, t, pos, entry, g, len, data, n);
	for (pp = &s->inflight; *pp != &self; pp = &(*pp)->next)
		;
	*pp = self.next;
	blk_co_wake_all(co, &self.wq);
	qcow2_table_put(co, &s->l2, t);
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* Discard: each whole cluster in the range loses its data cluster
 * (the entry goes back to unallocated, reading from the backing file or
 * as zeroes, which discard allows) and the cluster's reference is
 * dropped once the L2 table saying so is on disk. Partial clusters are
 * left as they are. */
static int discard_cluster(struct blk_co *co, struct blk_node *node, uint64_t g)
{
	struct qcow2 *s = node->priv;
	uint64_t gc = g >> s->cluster_bits, entry, off = 0, len = 0;
	struct qcow2_inflight *f;
	struct qcow2_table *t;
	size_t pos;
	int r;

	pthread_mutex_lock(&s->mu);
	while ((f = inflight_find(s, gc)))
		blk_co_wait(co, &f->wq, &s->mu);
	r = lookup(co, node, g, &t, &pos, &entry);
	if (r || !t || !entry) {
		if (t)
			qcow2_table_put(co, &s->l2, t);
		pthread_mutex_unlock(&s->mu);
		return r;
	}
	/* Only in a table of this image's own, as for any write. */
	if (!(get_be64(s->l1.data + (g >> (s->cluster_bits + s->l2_bits)) * 8) &
	      QCOW2_COPIED)) {
		qcow2_table_put(co, &s->l2, t);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	if (kind_of(s, entry) == COMPRESSED) {
		compressed_range(s, entry, &off, &len);
	} else if (entry & QCOW2_OFFSET_MASK) {
		off = entry & QCOW2_OFFSET_MASK;
		len = s->cluster;
	}
	if (len && (qcow2_is_metadata(s, off, len, 0) ||
		    !range_within(off, len, qcow2_file_end(node))))
		len = 0; /* corrupt: not ours to free */
	put_be64(t->data + pos, 0);
	qcow2_table_mark(node, t, pos);
	r = len ? qcow2_table_write_back(co, node, t, BLK_EV_L2_UPDATE) : 0;
	if (!r && len)
		r = qcow2_unref(co, node, off, len);
	qcow2_table_put(co, &s->l2, t);
	pthread_mutex_unlock(&s->mu);
	return r;
}

static int co_discard(struct blk_co *co)
{
	struct qcow2 *s = co->node->priv;
	struct blk_req *req = co->req;
	uint64_t g = align_up(req->offset, s->cluster);
	uint64_t end = (req->offset + req->len) & ~(s->cluster - 1);
	int r = 0;

	/* The disk's last cluster may be partial: it is whole at the end. */
	if (req->offset + req->len == co->node->size)
		end = align_up(req->offset + req->len, s->cluster);
	for (; g < end && !r; g += s->cluster)
		r = discard_cluster(co, co->node, g);
	return r;
}

static int co_write(struct blk_co *co)
{
	struct blk_node *node = co->node;
	struct qcow2 *s = node->priv;
	struct blk_req *req = co->req;
	struct iovec *iov = malloc((req->iovcnt + 1) * sizeof(*iov));
	uint8_t *zeroes = NULL;
	uint64_t done = 0;
	int r = iov ? 0 : -ENOMEM;

	if (!r && req->op == BLK_OP_WRITE_ZEROES &&
	    posix_memalign((void **)&zeroes, ALIGN, s->cluster))
		r = -ENOMEM;
	if (zeroes)
		memset(zeroes, 0, s->cluster);
	while (!r && done < req->len) {
		uint64_t g = req->offset + done;
		uint64_t len = s->cluster - (g & (s->cluster - 1));
		unsigned n = 1;

		len = len < req->len - done ? len : req->len - done;
		if (zeroes)
			iov[0] = (struct iovec){ zeroes, len };
		else
			n = blk_req_slice(req, done, len, iov);
		r = write_cluster(co, node, g, len, iov, n);
		done += len;
	}
	free(zeroes);
	free(iov);
	return r;
}

/* Everything written before: the L2 tables' changes, then the file. */
static int co_flush(struct blk_co *co)
{
	struct blk_node *node = co->node;
	struct qcow2 *s = node->priv;
	int r = 0;

	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->l2.n && !r; i++) {
		struct qcow2_table *t = &s->l2.t[i];

		if (!qcow2_table_dirty(t))
			continue;
		t->users++;
		r = qcow2_table_write_back(co, node, t, BLK_EV_L2_UPDATE);
		qcow2_table_put(co, &s->l2, t);
	}
	pthread_mutex_unlock(&s->mu);
	if (!r)
		r = blk_co_event(co, node->file, BLK_EV_FLUSH);
	return r ? r : blk_co_range(co, node->file, BLK_OP_FLUSH, 0, 0);
}

static int qcow2_submit(struct blk_node *node, struct blk_ctx *ctx,
			struct blk_req *req)
{
	int r;

	switch (req->op) {
	case BLK_OP_READ:
		if (direct(node, ctx, req, &r))
			return r;
		return blk_co_submit(node, ctx, req, co_read);
	case BLK_OP_WRITE:
		if (direct(node, ctx, req, &r))
			return r;
		return blk_co_submit(node, ctx, req, co_write);
	case BLK_OP_WRITE_ZEROES:
		return blk_co_submit(node, ctx, req, co_write);
	case BLK_OP_FLUSH: return blk_co_submit(node, ctx, req, co_flush);
	case BLK_OP_DISCARD: return blk_co_submit(node, ctx, req, co_discard);
	case BLK_OP_PREALLOCATE: return -EOPNOTSUPP; /* for protocols */
	}
	return -EINVAL;
}

/* --- Open and close (main thread) --- */

/* A whole-cluster table read at open. */
static int load_table(struct blk_node *node, struct blk_opts *o,
		      struct qcow2_table *t, uint64_t off, uint64_t bytes,
		      const char *what)
{
	struct qcow2 *s = node->priv;
	ssize_t n;
	int r;

	t->offset = off;
	t->size = align_up(bytes ? bytes : 1, s->cluster);
	if (posix_memalign((void **)&t->data, ALIGN, t->size))
		return blk_open_fail(o, -ENOMEM, "out of memory");
	memset(t->data, 0, t->size);
	if (!bytes)
		return 0;
	/* The table's last cluster may run past the end of the file: a
	 * short read is fine as long as it holds the table. */
	n = pread(node->file->fd, t->data, t->size, (off_t)off);
	r = n < 0 ? -errno : (uint64_t)n < bytes ? -EIO : 0;
	if (r)
		return blk_open_fail(o, r, "reading the %s at %#llx: %s", what,
				     (unsigned long long)off, strerror(-r));
	return 0;
}

static int read_header(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2 *s = node->priv;
	uint64_t fsize = node->file->size;
	size_t len = (size_t)align_up(fsize < HEADER_READ ? fsize : HEADER_READ,
				      ALIGN);
	char why[160];
	uint8_t *buf;
	ssize_t n;
	int r;

	if (posix_memalign((void **)&buf, ALIGN, len ? len : ALIGN))
		return blk_open_fail(o, -ENOMEM, "out of memory");
	memset(buf, 0, len);
	n = pread(node->file->fd, buf, len, 0);
	if (n < 0) {
		r = -errno;
		free(buf);
		return blk_open_fail(o, r, "reading the header: %s",
				     strerror(-r));
	}
	r = qcow2_header_parse(buf, (size_t)n, fsize, &s->h, why, sizeof(why));
	if (!r) {
		s->header = buf;
		return 0;
	}
	free(buf);
	return blk_open_fail(o, r, "%s", why);
}

/* Clears what a writer that does not know them must clear: unknown
 * autoclear bits (and bitmaps, bit 0, which vmm does not keep). */
static int clear_autoclear(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2 *s = node->priv;

	if (!s->writable || s->h.version < 3 || !s->h.autoclear)
		return 0;
	s->h.autoclear = 0;
	put_be64(s->header + 88, 0);
	if (pwrite(node->file->fd, s->header, s->granule, 0) !=
	    (ssize_t)s->granule)
		return blk_open_fail(o, -EIO, "writing the header: %s",
				     strerror(errno));
	return 0;
}

static int check_flags(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2 *s = node->priv;

	if (!s->writable)
		return 0;
	if (s->h.incompatible & QCOW2_INCOMPAT_CORRUPT)
		return blk_open_fail(o, -EIO,
				     "the image is marked corrupt; open it "
				     "read-only or repair it");
	return 0;
}

/* Sets or clears the dirty bit (lazy refcounts) in the header, durably. */
static int set_dirty(struct blk_node *node, bool dirty)
{
	struct qcow2 *s = node->priv;
	int fd = node->file->fd;

	if (dirty)
		s->h.incompatible |= QCOW2_INCOMPAT_DIRTY;
	else
		s->h.incompatible &= ~QCOW2_INCOMPAT_DIRTY;
	put_be64(s->header + 72, s->h.incompatible);
	if (pwrite(fd, s->header, s->granule, 0) != (ssize_t)s->granule)
		return errno ? -errno : -EIO;
	return fdatasync(fd) ? -errno : 0;
}

/* An image left dirty by lazy refcounts has refcounts that lag behind
 * its tables: recount them (as qemu-img check -r all would) before
 * anything is allocated. Its own descriptor: the node's may be O_DIRECT. */
static int repair_dirty(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2_check_result res;
	const char *path = blk_opt(o, "path", NULL);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	char why[160];
	int r;

	if (fd < 0)
		return blk_open_fail(o, -errno, "%s", strerror(errno));
	r = qcow2_check(fd, QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS, NULL, &res, why,
			sizeof(why));
	if (!r && fdatasync(fd))
		r = -errno;
	close(fd);
	if (r)
		return blk_open_fail(o, r, "repairing the dirty image: %s",
				     why);
	if (res.corruptions)
		return blk_open_fail(o, -EIO,
				     "the dirty image has %llu errors that "
				     "could not be repaired",
				     (unsigned long long)res.corruptions);
	return set_dirty(node, false);
}

/* Where the metadata is (block/qcow2_overlap.c), with the snapshot
 * table read here (at most 64 MiB of it). */
static int load_metadata_map(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2 *s = node->priv;
	uint64_t len = 0;
	uint8_t *buf = NULL;
	int r;

	if (s->h.nb_snapshots) {
		len = node->file->size - s->h.snapshots_offset;
		len = len < (64u << 20) ? len : (64u << 20);
		if (posix_memalign((void **)&buf, ALIGN, align_up(len, ALIGN)))
			return blk_open_fail(o, -ENOMEM, "out of memory");
		ssize_t n = pread(node->file->fd, buf, align_up(len, ALIGN),
				  (off_t)s->h.snapshots_offset);
		if (n < (ssize_t)len) {
			free(buf);
			return blk_open_fail(
				o, -EIO,
				"reading the snapshot table at "
				"%#llx",
				(unsigned long long)s->h.snapshots_offset);
		}
	}
	r = qcow2_offsets_load(s, buf, (size_t)len);
	free(buf);
	if (r == -EINVAL)
		return blk_open_fail(o, r,
				     "snapshot table at %#llx runs past the "
				     "end of the file",
				     (unsigned long long)s->h.snapshots_offset);
	return r ? blk_open_fail(o, r, "out of memory") : 0;
}

static int setup(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2 *s = node->priv;
	uint64_t tables;
	unsigned n;
	int r;

	s->cluster_bits = s->h.cluster_bits;
	s->cluster = 1ull << s->cluster_bits;
	s->l2_bits = s->cluster_bits - 3;
	s->rb_bits = s->cluster_bits + 3 - s->h.refcount_order;
	s->granule =
		node->file->block_size > 512 ? node->file->block_size : 512;
	if (s->granule > s->cluster)
		return blk_open_fail(o, -EINVAL,
				     "clusters of %llu bytes are smaller than "
				     "the disk's %u byte blocks",
				     (unsigned long long)s->cluster,
				     s->granule);
	s->reserve_batch = (unsigned)((128u << 20) >> s->cluster_bits);
	s->reserve_batch = s->reserve_batch < 64 ? 64 : s->reserve_batch;
	if (s->reserve_batch > QCOW2_RESERVE_MAX)
		s->reserve_batch = QCOW2_RESERVE_MAX;
	if ((r = load_table(node, o, &s->l1, s->h.l1_offset,
			    (uint64_t)s->h.l1_size * 8, "L1 table")) ||
	    (r = load_table(node, o, &s->reftable, s->h.reftable_offset,
			    (uint64_t)s->h.reftable_clusters << s->cluster_bits,
			    "refcount table")))
		return r;
	/* Enough L2 tables for the whole disk, up to 8 MiB of them. */
	tables = qcow2_l1_entries(s->h.size, s->cluster_bits);
	n = (unsigned)(L2_CACHE_BYTES >> s->cluster_bits);
	n = tables < n ? (unsigned)tables : n;
	n = n < 4 ? 4 : n;
	if (qcow2_cache_init(&s->l2, n, s->cluster) ||
	    qcow2_cache_init(&s->rb, 4, s->cluster))
		return blk_open_fail(o, -ENOMEM, "out of memory");
	return load_metadata_map(node, o);
}

/* At close, no request in flight: the dirty L2 tables, synchronously. */
static int write_back_all(struct blk_node *node)
{
	struct qcow2 *s = node->priv;
	int r = 0;

	/* The refcounts the tables' new entries use, durable first. */
	if (s->rc_gen > s->rc_flushed_gen && fdatasync(node->file->fd))
		return -errno;
	for (unsigned i = 0; s->l2.t && i < s->l2.n && !r; i++) {
		struct qcow2_table *t = &s->l2.t[i];
		size_t len = t->dirty_hi - t->dirty_lo;

		if (!qcow2_table_dirty(t) || !len)
			continue;
		if (pwrite(node->file->fd, t->data + t->dirty_lo, len,
			   (off_t)(t->offset + t->dirty_lo)) != (ssize_t)len)
			r = -EIO;
	}
	if (!r && fdatasync(node->file->fd))
		r = -errno;
	return r;
}

/* The file's preallocated tail past the clusters in use, given back
 * once no reserved cluster lies there. */
static void trim_prealloc(struct blk_node *node)
{
	struct qcow2 *s = node->priv;
	uint64_t end = qcow2_file_end(node);

	if (s->prealloc_end > end && ftruncate(node->file->fd, (off_t)end))
		log_error("qcow2 image: trimming the preallocated end of the "
			  "file: %s",
			  strerror(errno));
}

/* What close writes, with no request in flight: the L2 tables' last
 * changes first, the reserved clusters given back, the preallocated tail
 * trimmed, the dirty bit (lazy refcounts) cleared, all durable. A
 * failure leaves leaks (or, lazy, a dirty image): repaired by the next
 * check or open, never corruption. */
static int hand_over(struct blk_node *node)
{
	struct qcow2 *s = node->priv;
	int r;

	if (!s->writable || !node->file || !s->header)
		return 0;
	r = write_back_all(node);
	if (!r)
		r = qcow2_release_reserved(node);
	if (r)
		return r;
	trim_prealloc(node);
	s->prealloc_end = qcow2_file_end(node);
	/* The tables written: clean (write_back_all does not say so). */
	for (unsigned i = 0; s->l2.t && i < s->l2.n; i++) {
		s->l2.t[i].written_gen = s->l2.t[i].gen;
		s->l2.t[i].dirty_lo = s->l2.t[i].dirty_hi = 0;
	}
	s->rc_flushed_gen = s->rc_gen;
	return s->lazy ? set_dirty(node, false) : 0;
}

/* blk_inactivate: what close would write, now. Refcount blocks stay
 * cached: the released clusters' entries there are stale until
 * qcow2_activate drops them. */
static int qcow2_inactivate(struct blk_node *node)
{
	int r = hand_over(node);

	if (r)
		log_error("qcow2 image: handing the image over: %s",
			  strerror(-r));
	return r;
}

/* blk_activate, the same open taken back with no other writer in
 * between: the refcount blocks cached before the hand-over still count
 * the reserved clusters it gave back, so they are dropped (read again
 * when needed) and the search for free clusters starts over. Lazy
 * refcounts would need the dirty bit set again: this open goes on
 * without them instead (each batch of refcounts flushed before the
 * tables that use it), so that taking the image back writes nothing and
 * the file stays clean until the guest writes (a copy made right after
 * a snapshot is). */
static void qcow2_activate(struct blk_node *node)
{
	struct qcow2 *s = node->priv;

	if (!s->writable)
		return;
	for (unsigned i = 0; s->rb.t && i < s->rb.n; i++) {
		s->rb.t[i].offset = 0;
		s->rb.t[i].users = 0;
	}
	s->free_hint = 0;
	s->prealloc_end = qcow2_file_end(node);
	s->lazy = false;
}

static void qcow2_close(struct blk_node *node)
{
	struct qcow2 *s = node->priv;

	if (!s)
		return;
	if (s->prealloc_error && !node->inactive)
		log_error("qcow2 image: growing the file ahead of its clusters "
			  "failed (%s); allocating writes extended it instead",
			  strerror(-s->prealloc_error));
	/* Handed over (or never taken over): the file is another
	 * process's now; not a byte is written. */
	if (!node->inactive)
		hand_over(node);
	qcow2_cache_free(&s->l2);
	qcow2_cache_free(&s->rb);
	offset_set_free(&s->l2s);
	offset_set_free(&s->others);
	free(s->l1.data);
	free(s->reftable.data);
	free(s->header);
	pthread_mutex_destroy(&s->mu);
	free(s);
	node->priv = NULL;
}

static int qcow2_open(struct blk_node *node, struct blk_opts *o)
{
	struct qcow2 *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return blk_open_fail(o, -ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	node->priv = s;
	r = blk_open_file_child(node, o);
	if (r)
		return r;
	s->writable = !node->file->readonly;
	node->file->growable = true; /* clusters are allocated past its end */
	s->prealloc_end = node->file->size;
	/* This image's place in its chain, for its backing file's check. */
	blk_chain_note(node, o);
	if ((r = read_header(node, o)) || (r = check_flags(node, o)))
		return r;
	/* The granule, for header writes, before setup computes the rest. */
	s->granule =
		node->file->block_size > 512 ? node->file->block_size : 512;
	if (s->writable && (s->h.incompatible & QCOW2_INCOMPAT_DIRTY) &&
	    (r = repair_dirty(node, o)))
		return r;
	if ((r = setup(node, o)) || (r = clear_autoclear(node, o)))
		return r;
	/* Lazy refcounts: the dirty bit stays set while the image is open,
	 * so refcount writes need no flush before the L2 entries that use
	 * them; a crash is repaired at the next open. */
	s->lazy = s->writable && s->h.version >= 3 &&
		  (s->h.compatible & QCOW2_COMPAT_LAZY_REFCOUNTS);
	if (s->lazy && (r = set_dirty(node, true)))
		return blk_open_fail(o, r, "setting the dirty bit: %s",
				     strerror(-r));
	if (s->h.backing[0] &&
	    (r = blk_open_backing(node, o, s->h.backing,
				  s->h.backing_format[0] ? s->h.backing_format
							 : NULL)))
		return r;
	node->size = s->h.size;
	node->block_size = node->file->block_size;
	node->readonly = !s->writable;
	node->can_discard = s->writable;
	return 0;
}

const struct blk_driver blk_qcow2_driver = {
	.name = "qcow2",
	.kind = BLK_DRV_FORMAT,
	.open = qcow2_open,
	.submit = qcow2_submit,
	.close = qcow2_close,
	.inactivate = qcow2_inactivate,
	.activate = qcow2_activate,
};
