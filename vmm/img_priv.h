/* Inside `vmm img` (vmm/img*.c): what its subcommands share. Everything
 * here runs on the main thread only; each subcommand owns its state on
 * its own stack or heap, so nothing is locked. */
#ifndef VMM_IMG_PRIV_H
#define VMM_IMG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "block/block.h"
#include "block/qcow2_format.h"
#include "block/qed_format.h"

/* --- vmm/img.c: requests on the main thread, opening, creating --- */

struct img_io {
	struct blk_req req;
	struct iovec iov;
	uint8_t *buf;
	bool busy;
	int result;
};

/* Starts one request of io's buffer; 0 or the -errno of blk_submit. */
int img_start(struct blk_ctx *ctx, struct blk_node *node, struct img_io *io,
	      enum blk_op op, uint64_t off, uint64_t len);
/* Reaps until io completes; its result. */
int img_wait(struct blk_ctx *ctx, struct img_io *io);

/* "qcow2", "qed" or "raw" by the file's magic. */
const char *img_probe(const char *path);
/* blk_open of path (format fmt, or probed); -1 after blk_open's line. */
int img_open(struct blk_node *node, const char *path, const char *fmt,
	     bool writable);

struct img_create_args {
	const char *fmt, *backing, *backing_fmt, *options;
	uint64_t size;
	bool have_size;
};
/* `vmm img create`: 0, or 1 after one line naming the file. */
int img_create(const char *path, struct img_create_args *a);

bool img_all_zero(const uint8_t *p, size_t n);
void img_progress(bool on, uint64_t done, uint64_t total);

/* --- vmm/img_status.c: allocation status as QEMU's block layer has it --- */

/* QEMU's BDRV_BLOCK_* bits, with their values: img_status_above's result
 * is compared bit for bit by compare -s. */
#define IMG_BS_DATA 0x01
#define IMG_BS_ZERO 0x02
#define IMG_BS_OFFSET_VALID 0x04
#define IMG_BS_ALLOCATED 0x10
#define IMG_BS_EOF 0x20
#define IMG_BS_RECURSE 0x40

enum img_fmt { IMG_FMT_RAW, IMG_FMT_QCOW2, IMG_FMT_QED };

/* One image of a backing chain, opened read-only with its tables in
 * memory (qcow2: the L1 table; QED: the L1 table) and one L2 table
 * cached. */
struct img_layer {
	enum img_fmt fmt;
	int fd;
	char *name;	   /* as QEMU names it: the parent's directory + name */
	uint64_t size;	   /* virtual bytes (raw: the file's, up to 512) */
	uint64_t file_len; /* the file's bytes, rounded up to 512 */
	unsigned cluster_bits, l2_bits;
	uint64_t cluster;
	unsigned version;      /* qcow2 */
	uint64_t header_bytes; /* QED: the header clusters */
	uint8_t *l1;
	uint64_t l1_entries;
	uint8_t *l2;
	uint64_t l2_off; /* the cached table's offset, 0: none */
	size_t table_bytes;
	bool recurse; /* qcow2 with preallocated metadata (QEMU's test) */
	struct img_layer *backing;
};

/* Opens path (format fmt, or probed) and its backing chain. 0, or -errno
 * with why filled in (naming the file at fault). */
int img_chain_open(const char *path, const char *fmt, struct img_layer **top,
		   char *why, size_t why_len);
void img_chain_close(struct img_layer *top);

/* QEMU's bdrv_block_status() of one layer (want_zero): IMG_BS_* flags,
 * *pnum bytes from off with that status (0 only at the end), and with
 * IMG_BS_OFFSET_VALID the host offset *map in (*file)'s file. -errno for
 * a corrupt table. */
int img_layer_status(struct img_layer *l, uint64_t off, uint64_t bytes,
		     uint64_t *pnum, uint64_t *map, struct img_layer **file);
/* QEMU's bdrv_block_status_above(top, NULL): the status through the
 * chain. */
int img_status_above(struct img_layer *top, uint64_t off, uint64_t bytes,
		     uint64_t *pnum);

/* --- The subcommands: exit statuses as qemu-img's --- */

int img_map(const char *path, const char *fmt, bool json);
int img_compare(const char *path1, const char *path2, const char *fmt1,
		const char *fmt2, bool strict, bool quiet, bool show);
int img_resize(const char *path, const char *fmt, bool shrink, bool quiet,
	       const char *size);
/* convert -c: dst created as qcow2 by out, then written on this thread
 * with plain writes (vmm/img_compress.c). */
int img_convert_compressed(const char *src_path, const char *src_fmt,
			   const char *dst_path, struct img_create_args *out,
			   bool show);

/* --- vmm/img_qcow2.c: a qcow2 image edited in place, no I/O in flight --- */

#define IMG_QCOW2_CACHE 16

struct img_qcow2_table {
	uint64_t off; /* 0: free slot */
	uint8_t *data;
	bool dirty;
	uint64_t used;
};

struct img_qcow2 {
	int fd;
	const char *path;
	struct qcow2_header h;
	uint64_t cluster;
	unsigned cluster_bits, rb_bits;
	uint64_t rc_max;
	uint64_t file_size;
	uint8_t *l1; /* l1_size entries, as on disk */
	bool l1_dirty;
	uint8_t *rt; /* the refcount table, as on disk */
	uint64_t rt_entries;
	bool rt_dirty;
	struct img_qcow2_table cache[IMG_QCOW2_CACHE]; /* L2s, refblocks */
	uint64_t tick;
	uint64_t hint; /* no free cluster below it */
};

/* Reads the header, L1 and refcount tables of path, opened read-write.
 * 0, or -errno with why filled in. */
int img_qcow2_open(struct img_qcow2 *q, const char *path, char *why,
		   size_t why_len);
/* Writes back what is cached (tables, refcount table, L1) and syncs. */
int img_qcow2_flush(struct img_qcow2 *q);
void img_qcow2_close(struct img_qcow2 *q); /* no flush */
/* Refcount of cluster index c. */
int img_qcow2_rc_get(struct img_qcow2 *q, uint64_t c, uint64_t *v);
/* Adds d (+1 or -1) to the refcount of cluster index c. -ERANGE past
 * rc_max or below 0. */
int img_qcow2_rc_add(struct img_qcow2 *q, uint64_t c, int d);
/* n consecutive free clusters at or past the allocation hint, their
 * refcounts left at 0 (ref: set to 1). Their offset. */
int img_qcow2_alloc(struct img_qcow2 *q, uint64_t n, bool ref, uint64_t *off);
/* The cached table at off (a cluster), read unless fresh (zeroed). */
int img_qcow2_table(struct img_qcow2 *q, uint64_t off, bool fresh,
		    uint8_t **data);
/* Marks the cached table at off changed. */
void img_qcow2_table_dirty(struct img_qcow2 *q, uint64_t off);
int img_qcow2_pwrite(struct img_qcow2 *q, const void *buf, size_t len,
		     uint64_t off);
int img_qcow2_pread(struct img_qcow2 *q, void *buf, size_t len, uint64_t off);

#endif
