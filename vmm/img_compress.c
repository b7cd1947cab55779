/* `vmm img convert -c`: a qcow2 image of compressed clusters, written as
 * QEMU writes them. The source is read through the block layer, several
 * chunks in flight; the target, created empty by img_create, is written
 * on this thread with plain pwrites through vmm/img_qcow2.c, as nothing
 * else has it open: each non-zero cluster is deflated (zlib raw deflate,
 * windowBits -12) and packed byte after byte into clusters allocated for
 * compressed data (QEMU's qcow2_alloc_bytes: a run may continue into the
 * next cluster when that one is the next allocated; each cluster's
 * refcount is the number of runs touching it), its L2 entry holding the
 * offset, the count of further 512 B sectors and the compressed flag
 * without COPIED; a cluster that does not deflate below cluster_size - 1
 * bytes is stored whole, uncompressed, with COPIED. L2 tables are
 * allocated before the data they map, as QEMU does. The tables, refcounts
 * and L1 are written and synced at the end: a convert that fails midway
 * leaves a target to delete, as qemu-img's does. Main thread only; the
 * state is this call's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "img_priv.h"
#include "lib/bytes.h"
#include "lib/checked.h"
#include "lib/log.h"

#define CHUNK (1u << 20)
#define DEPTH 8

struct packer {
	struct img_qcow2 *q;
	uint64_t free_byte; /* where the next compressed run goes; 0: none */
	uint8_t *zbuf;	    /* one cluster */
};

/* The L2 table of guest cluster gc, made (zeroed, its L1 entry set)
 * when missing. Its file offset. */
static int l2_table(struct img_qcow2 *q, uint64_t gc, uint64_t *off)
{
	uint64_t l1i = gc >> (q->cluster_bits - 3);
	uint8_t *data;
	int r;

	if (l1i >= q->h.l1_size)
		return -EIO;
	*off = get_be64(q->l1 + l1i * 8) & QCOW2_OFFSET_MASK;
	if (*off)
		return 0;
	r = img_qcow2_alloc(q, 1, true, off);
	if (!r)
		r = img_qcow2_table(q, *off, true, &data);
	if (r)
		return r;
	put_be64(q->l1 + l1i * 8, *off | QCOW2_COPIED);
	q->l1_dirty = true;
	return 0;
}

/* QEMU's qcow2_alloc_bytes: size bytes for a compressed run. */
static int alloc_bytes(struct packer *p, uint64_t size, uint64_t *out)
{
	struct img_qcow2 *q = p->q;
	uint64_t off = p->free_byte, free_in, v, c;
	int r;

	if (off) {
		r = img_qcow2_rc_get(q, off >> q->cluster_bits, &v);
		if (r)
			return r;
		if (v == q->rc_max)
			off = 0;
	}
	free_in = q->cluster - (off & (q->cluster - 1));
	if (!off || free_in < size) {
		uint64_t new;

		r = img_qcow2_alloc(q, 1, false, &new);
		if (r)
			return r;
		if (!off || align_up(off, q->cluster) != new)
			off = new;
	}
	if (off + size > qcow2_compressed_max_offset(q->cluster_bits))
		return -EFBIG;
	for (c = off >> q->cluster_bits;
	     c <= (off + size - 1) >> q->cluster_bits; c++) {
		r = img_qcow2_rc_add(q, c, 1);
		if (r)
			return r;
	}
	p->free_byte = off + size;
	if (!(p->free_byte & (q->cluster - 1)))
		p->free_byte = 0;
	*out = off;
	return 0;
}

/* One guest cluster's bytes (a whole cluster, zero-padded at the end of
 * the disk). */
static int write_cluster(struct packer *p, uint64_t gc, const uint8_t *data)
{
	struct img_qcow2 *q = p->q;
	uint64_t l2, off = 0, entry;
	uint8_t *t;
	long n;
	int r;

	if (img_all_zero(data, q->cluster))
		return 0; /* the new image reads zeroes there already */
	n = qcow2_compress_cluster(data, q->cluster, p->zbuf, q->cluster - 1);
	if (n < 0 && n != -ENOSPC)
		return (int)n;
	r = l2_table(q, gc, &l2);
	if (r)
		return r;
	if (n > 0) {
		uint64_t poff, plen;

		r = alloc_bytes(p, (uint64_t)n, &off);
		if (!r)
			r = img_qcow2_pwrite(q, p->zbuf, (size_t)n, off);
		entry = qcow2_compressed_entry(q->cluster_bits, off,
					       (uint64_t)n);
		/* What a reader makes of the entry covers the run, and no
		 * more than its last sector. */
		qcow2_compressed_parse(q->cluster_bits, entry, &poff, &plen);
		if (!r && (poff != off || plen < (uint64_t)n ||
			   plen - (uint64_t)n >= 512))
			r = -EIO;
	} else {
		r = img_qcow2_alloc(q, 1, true, &off);
		if (!r)
			r = img_qcow2_pwrite(q, data, q->cluster, off);
		entry = off | QCOW2_COPIED;
	}
	if (!r)
		r = img_qcow2_table(q, l2, false, &t);
	if (r)
		return r;
	put_be64(t + (gc & ((1ull << (q->cluster_bits - 3)) - 1)) * 8, entry);
	img_qcow2_table_dirty(q, l2);
	return 0;
}

/* Reads src chunk by chunk, DEPTH chunks in flight, and writes each
 * chunk's clusters in order. */
static int pack_image(struct blk_ctx *ctx, struct blk_node *src,
		      const char *src_path, struct packer *p, bool show,
		      bool *logged)
{
	struct img_qcow2 *q = p->q;
	uint64_t chunk = CHUNK > q->cluster ? CHUNK : q->cluster;
	uint64_t n = (src->size + chunk - 1) / chunk, next = 0;
	struct img_io io[DEPTH] = { 0 };
	int r = 0;

	for (unsigned i = 0; i < DEPTH && !r; i++)
		if (posix_memalign((void **)&io[i].buf, 4096, chunk))
			r = -ENOMEM;
	for (; !r && next < n && next < DEPTH; next++)
		r = img_start(ctx, src, &io[next], BLK_OP_READ, next * chunk,
			      src->size - next * chunk < chunk
				      ? src->size - next * chunk
				      : chunk);
	for (uint64_t i = 0; !r && i < n; i++) {
		struct img_io *x = &io[i % DEPTH];
		uint64_t off = i * chunk;
		uint64_t len =
			src->size - off < chunk ? src->size - off : chunk;
		uint64_t padded = align_up(len, q->cluster);

		r = img_wait(ctx, x);
		if (r) {
			log_error("img convert: %s: reading offset %llu: %s",
				  src_path, (unsigned long long)off,
				  strerror(-r));
			*logged = true;
			break;
		}
		memset(x->buf + len, 0, padded - len);
		for (uint64_t j = 0; !r && j < padded; j += q->cluster)
			r = write_cluster(p, (off + j) >> q->cluster_bits,
					  x->buf + j);
		if (!r && next < n) {
			r = img_start(ctx, src, x, BLK_OP_READ, next * chunk,
				      src->size - next * chunk < chunk
					      ? src->size - next * chunk
					      : chunk);
			next++;
		}
		img_progress(show, off + len, src->size);
	}
	for (unsigned i = 0; i < DEPTH; i++) {
		if (io[i].busy)
			img_wait(ctx, &io[i]);
		free(io[i].buf);
	}
	if (show)
		fprintf(stderr, "\n");
	return r;
}

int img_convert_compressed(const char *src_path, const char *src_fmt,
			   const char *dst_path, struct img_create_args *out,
			   bool show)
{
	struct packer p = { 0 };
	bool logged = false;
	struct img_qcow2 q;
	struct blk_node src;
	struct blk_ctx ctx;
	char why[192];
	int r;

	if (strcmp(out->fmt, "qcow2")) {
		log_error("img convert: %s: compression (-c) needs the qcow2 "
			  "output format (-O qcow2)",
			  dst_path);
		return 1;
	}
	if (out->backing) {
		log_error("img convert: %s: -c writes a whole image, not one "
			  "over a backing file",
			  dst_path);
		return 1;
	}
	if (img_open(&src, src_path, src_fmt, false))
		return 1;
	out->size = src.size;
	out->have_size = true;
	if (img_create(dst_path, out)) {
		blk_close(&src);
		return 1;
	}
	r = img_qcow2_open(&q, dst_path, why, sizeof(why));
	if (r) {
		log_error("img convert: %s: %s", dst_path, why);
		img_qcow2_close(&q);
		blk_close(&src);
		return 1;
	}
	p.q = &q;
	p.zbuf = malloc(q.cluster);
	r = p.zbuf ? blk_ctx_init(&ctx, 2 * DEPTH * 4) : -ENOMEM;
	if (r) {
		log_error("img convert: %s: %s", dst_path, strerror(-r));
	} else {
		r = pack_image(&ctx, &src, src_path, &p, show, &logged);
		blk_ctx_destroy(&ctx);
		/* As QEMU at the end of a compressed convert: the file ends
		 * on a sector boundary, for readers that read whole sectors
		 * of the last run. */
		if (!r && q.file_size % 512 &&
		    ftruncate(q.fd, (off_t)align_up(q.file_size, 512)))
			r = -errno;
		if (!r)
			r = img_qcow2_flush(&q);
		if (r && !logged)
			log_error("img convert: %s: %s", dst_path,
				  r == -ERANGE || r == -EIO
					  ? "corrupt refcounts in the new image"
					  : strerror(-r));
	}
	free(p.zbuf);
	img_qcow2_close(&q);
	blk_close(&src);
	return r ? 1 : 0;
}
