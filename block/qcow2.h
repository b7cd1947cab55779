/* Inside the qcow2 driver: the state its files share. One struct qcow2
 * per open image (node->priv), used by the coroutines of every ctx the
 * node is attached to. mu guards every field below it that changes
 * while requests run; it is never held across I/O (a coroutine that
 * must wait drops it in blk_co_wait). */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include <pthread.h>

#include "co.h"
#include "driver.h"
#include "offset_set.h"
#include "qcow2_format.h"

/* One table in memory: an L2 table or refcount block in a cache, or the
 * L1 table or refcount table (always present). Its bytes are as on disk
 * (big-endian). A change is written back through table_store, which
 * writes one granule at a time, one write per table at a time. */
struct qcow2_table {
	uint64_t offset; /* in the file; 0: a free cache slot */
	uint8_t *data;	 /* bytes, aligned for O_DIRECT */
	size_t size;
	unsigned users; /* pins: not evicted while > 0 */
	uint64_t used;	/* LRU tick */
	bool loading, writing;
	struct blk_waitq wq; /* loading or writing finished */
	/* Changes to write back (block/qcow2_meta.c store_range): a count
	 * of changes, the last one a completed (or failed) write held, and
	 * the bytes changed since the last write started. */
	uint64_t gen, written_gen, failed_gen;
	int error;
	size_t dirty_lo, dirty_hi;
};

struct qcow2_cache {
	struct qcow2_table *t;
	unsigned n;
	uint64_t tick;
	struct blk_waitq wq; /* a table was unpinned */
};

/* A guest cluster whose allocation is in flight: later writes to it wait
 * (QEMU's handle_dependencies). */
struct qcow2_inflight {
	uint64_t guest_cluster;
	struct blk_waitq wq;
	struct qcow2_inflight *next;
};

#define QCOW2_RESERVE_MAX 2048

struct qcow2 {
	struct qcow2_header h;
	uint64_t cluster; /* bytes */
	unsigned cluster_bits;
	unsigned l2_bits; /* log2 entries per L2 table */
	unsigned rb_bits; /* log2 refcounts per refcount block */
	uint32_t granule; /* smallest metadata write */
	bool writable;
	bool lazy; /* lazy refcounts: dirty bit set while open */
	pthread_mutex_t mu;
	struct qcow2_table l1;
	struct qcow2_table reftable; /* size: its clusters */
	struct qcow2_cache l2, rb;
	/* Metadata clusters besides the header, L1 and refcount table:
	 * the active L2 tables, and the rest (refcount blocks, snapshot
	 * table, snapshots' L1 tables): sorted sets of cluster offsets. */
	struct offset_set l2s, others;
	struct qcow2_inflight *inflight;
	/* A new L2 table is made one coroutine at a time. */
	bool l2_busy;
	struct blk_waitq l2_wq;
	/* Allocation (refcount changes) is one coroutine at a time. */
	bool alloc_busy;
	struct blk_waitq alloc_wq;
	uint64_t free_hint; /* no free cluster below it */
	/* Refcount writes (reservations) made, and flushed: an L1 or L2
	 * table is written only once they are equal (qcow2_meta.c). */
	uint64_t rc_gen, rc_flushed_gen;
	bool rc_flushing;
	struct blk_waitq rc_wq;
	/* Clusters whose refcount 1 is written, not yet in use: a batch is
	 * reserved at once, and flushed before any table that points into
	 * it is written, so that an L2 entry never reaches the disk before
	 * its cluster's refcount. Given back at close. */
	uint64_t reserved[QCOW2_RESERVE_MAX];
	unsigned nreserved, reserved_next;
	unsigned reserve_batch;
	/* The file is allocated up to prealloc_end, grown a step at a time
	 * ahead of the clusters handed out (qcow2_meta.c prealloc); its
	 * logical end, where the clusters in use end, is qcow2_file_end.
	 * prealloc_error: why growing it ahead failed and stopped (-errno),
	 * reported at close. Allocation lock. */
	uint64_t prealloc_end;
	int prealloc_error;
	/* The header's first granule as on disk (refcount table moves). */
	uint8_t *header;
};

/* --- block/qcow2_overlap.c: where metadata is --- */

#define QCOW2_META_L2 1	   /* is_metadata: not counting L2 tables */
#define QCOW2_META_OTHER 2 /* nor refcount blocks and snapshots */

/* Whether [off, off + len) touches a metadata cluster (all kinds but
 * those in except). mu held. */
bool qcow2_is_metadata(const struct qcow2 *s, uint64_t off, uint64_t len,
		       unsigned except);
/* Fills l2s and others from the loaded tables and the snapshot table
 * (len bytes at snapshots_offset). -ENOMEM, or -EINVAL for a snapshot
 * table that runs past len. */
int qcow2_offsets_load(struct qcow2 *s, const uint8_t *snapshots,
		       size_t snapshots_len);

/* --- block/qcow2_meta.c: tables, refcounts, allocation --- */

/* The file's size as allocation grows it (node->file->size, atomic):
 * no table or data cluster lies at or past it in a sound image. */
uint64_t qcow2_file_end(const struct blk_node *node);
void qcow2_file_grew(struct blk_node *node, uint64_t end);

int qcow2_cache_init(struct qcow2_cache *c, unsigned n, size_t size);
void qcow2_cache_free(struct qcow2_cache *c);

/* Pins the table at offset in c, reading it on a miss. mu held on entry
 * and on return. 0 or -errno. */
int qcow2_table_get(struct blk_co *co, struct blk_node *node,
		    struct qcow2_cache *c, uint64_t offset,
		    struct qcow2_table **out);
/* The same for a table new on disk: pinned, its bytes the caller's to
 * fill, nothing read. */
int qcow2_table_new(struct blk_co *co, struct blk_node *node,
		    struct qcow2_cache *c, uint64_t offset,
		    struct qcow2_table **out);
/* The table at offset when c holds it loaded (marked used, not pinned:
 * valid while mu stays held), else NULL. No I/O. mu held. */
struct qcow2_table *qcow2_table_cached(struct qcow2_cache *c, uint64_t offset);
/* mu held. */
void qcow2_table_put(struct blk_co *co, struct qcow2_cache *c,
		     struct qcow2_table *t);
/* Writes the granule of t holding byte pos (after the caller changed
 * it), as step ev (blk_co_event). mu held on entry and on return. */
int qcow2_table_store(struct blk_co *co, struct blk_node *node,
		      struct qcow2_table *t, size_t pos, enum blk_event ev);

/* Write-back (L2 tables): records a change of the granule holding pos
 * without writing it (mu held). A dirty table is not evicted; it is
 * written by qcow2_table_write_back (a flush, an eviction, a change that
 * must be on disk before a cluster is freed) or at close. */
void qcow2_table_mark(struct blk_node *node, struct qcow2_table *t, size_t pos);
bool qcow2_table_dirty(const struct qcow2_table *t);
/* Writes every change of t so far, as step ev; mu held (dropped around
 * the I/O). 0 or -errno. */
int qcow2_table_write_back(struct blk_co *co, struct blk_node *node,
			   struct qcow2_table *t, enum blk_event ev);

/* One new cluster (refcount 1, durable); its file offset. Takes the
 * allocation lock; mu held on entry and on return. */
int qcow2_alloc_cluster(struct blk_co *co, struct blk_node *node,
			uint64_t *offset);
/* Drops one reference from each cluster of [offset, offset + len).
 * mu held on entry and on return. */
int qcow2_unref(struct blk_co *co, struct blk_node *node, uint64_t offset,
		uint64_t len);
/* Synchronous, at close (no request in flight): gives back the reserved
 * clusters. 0 or -errno. */
int qcow2_release_reserved(struct blk_node *node);

/* The largest refcount 2^order bits hold. */
uint64_t qcow2_rc_max(unsigned order);
/* Refcount entry i of a refcount block with 2^order bits per entry. */
uint64_t qcow2_rc_get(const uint8_t *rb, uint64_t i, unsigned order);
void qcow2_rc_set(uint8_t *rb, uint64_t i, unsigned order, uint64_t v);

/* --- block/qcow2_compress.c: compressed clusters, as QEMU writes them --- */

/* Deflates len bytes (one cluster) into out: the compressed length, or
 * -ENOSPC when it does not fit in cap bytes (QEMU passes cluster - 1 and
 * then writes the cluster uncompressed), -ENOMEM/-EIO from zlib. */
long qcow2_compress_cluster(const void *in, size_t len, void *out, size_t cap);
/* The L2 entry of len compressed bytes at byte offset off of the file
 * (below qcow2_compressed_max_offset); no COPIED flag. */
uint64_t qcow2_compressed_entry(unsigned cluster_bits, uint64_t off,
				uint64_t len);
/* A compressed entry's offset and the bytes from there to the end of its
 * last sector (what a reader reads and a check counts). */
void qcow2_compressed_parse(unsigned cluster_bits, uint64_t entry,
			    uint64_t *off, uint64_t *len);
uint64_t qcow2_compressed_max_offset(unsigned cluster_bits);

#endif
