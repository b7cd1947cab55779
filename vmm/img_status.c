/* Allocation status of an image and its backing chain, as QEMU's block
 * layer reports it (vmm img map and compare): the qcow2 and QED tables
 * are read here with plain preads (the L1 table in memory, one L2 table
 * cached per image), raw files through SEEK_DATA/SEEK_HOLE, and the
 * result is built the way QEMU 7.2 builds it (qcow2_co_block_status,
 * bdrv_qed_co_block_status, file-posix, bdrv_co_block_status and
 * bdrv_co_common_block_status_above), run lengths included, so that
 * `vmm img map` prints what `qemu-img map` prints. Main thread only;
 * the state is the chain of struct img_layer its caller owns. Every
 * offset read from a file is checked before it is followed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "img_priv.h"
#include "lib/bytes.h"
#include "lib/checked.h"

#define MAX_CHAIN 16
#define HEADER_READ (2u << 20)

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += (size_t)n;
	}
	memset((uint8_t *)buf + done, 0, len - done);
	return 0;
}

/* QEMU's path_combine: a relative name is relative to the directory of
 * the image that names it (the part of its name up to the last '/'). */
static char *path_combine(const char *base, const char *name)
{
	const char *slash = strrchr(base, '/');
	size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - base) + 1;
	char *out = malloc(dir + strlen(name) + 1);

	if (out) {
		memcpy(out, base, dir);
		strcpy(out + dir, name);
	}
	return out;
}

void img_chain_close(struct img_layer *l)
{
	while (l) {
		struct img_layer *b = l->backing;

		if (l->fd >= 0)
			close(l->fd);
		free(l->name);
		free(l->l1);
		free(l->l2);
		free(l);
		l = b;
	}
}

/* QEMU's qcow2_detect_metadata_preallocation: more clusters with a
 * refcount than the file has allocated blocks (by a margin) means the
 * metadata was preallocated, and data clusters may be holes, which
 * block status then asks the file about (BDRV_BLOCK_RECURSE). As in
 * QEMU, refcounts that cannot be read mean no. */
static void detect_prealloc(struct img_layer *l, const struct qcow2_header *h,
			    uint64_t blocks)
{
	uint64_t real = blocks * 512 / l->cluster, count = 0, end;
	uint64_t threshold =
		real * 10 / 9 > real + 2 ? real * 10 / 9 : real + 2;
	unsigned rb_bits = l->cluster_bits + 3 - h->refcount_order;
	uint64_t rt_bytes = (uint64_t)h->reftable_clusters << l->cluster_bits;
	uint8_t *rt = malloc(rt_bytes), *rb = malloc(l->cluster);
	int r;

	end = (l->file_len + l->cluster - 1) >> l->cluster_bits;
	r = rt && rb ? pread_full(l->fd, rt, rt_bytes, h->reftable_offset)
		     : -ENOMEM;
	for (uint64_t i = 0; !r && i < end && count < threshold;) {
		uint64_t rti = i >> rb_bits, rbo;

		if (rti >= rt_bytes / 8)
			break;
		rbo = get_be64(rt + rti * 8) & QCOW2_OFFSET_MASK;
		if (!rbo) {
			i = (rti + 1) << rb_bits;
			continue;
		}
		if (rbo & (l->cluster - 1)) {
			r = -EIO;
			break;
		}
		r = pread_full(l->fd, rb, l->cluster, rbo);
		for (uint64_t j = i & ((1ull << rb_bits) - 1);
		     !r && j < (1ull << rb_bits) && i < end &&
		     count < threshold;
		     j++, i++)
			count += !!qcow2_rc_get(rb, j, h->refcount_order);
	}
	free(rt);
	free(rb);
	l->recurse = !r && count >= threshold;
}

static int open_qcow2(struct img_layer *l, char **backing, char **bfmt,
		      uint64_t blocks, char *why, size_t why_len)
{
	struct qcow2_header h;
	size_t len =
		(size_t)(l->file_len < HEADER_READ ? l->file_len : HEADER_READ);
	uint8_t *buf = malloc(len ? len : 1);
	int r;

	if (!buf)
		return -ENOMEM;
	r = pread_full(l->fd, buf, len, 0);
	if (!r)
		r = qcow2_header_parse(buf, len, l->file_len, &h, why, why_len);
	else
		snprintf(why, why_len, "%s", strerror(-r));
	free(buf);
	if (r)
		return r;
	l->version = h.version;
	l->cluster_bits = h.cluster_bits;
	l->cluster = 1ull << h.cluster_bits;
	l->l2_bits = h.cluster_bits - 3;
	l->size = h.size;
	l->table_bytes = l->cluster;
	l->l1_entries = h.l1_size;
	l->l1 = malloc(h.l1_size ? (size_t)h.l1_size * 8 : 1);
	l->l2 = malloc(l->cluster);
	if (!l->l1 || !l->l2)
		return -ENOMEM;
	r = pread_full(l->fd, l->l1, (size_t)h.l1_size * 8, h.l1_offset);
	if (!r)
		detect_prealloc(l, &h, blocks);
	if (r) {
		snprintf(why, why_len, "reading the tables: %s", strerror(-r));
		return r;
	}
	if (h.backing[0]) {
		*backing = strdup(h.backing);
		*bfmt = h.backing_format[0] ? strdup(h.backing_format) : NULL;
		if (!*backing)
			return -ENOMEM;
	}
	return 0;
}

static int open_qed(struct img_layer *l, char **backing, char **bfmt, char *why,
		    size_t why_len)
{
	struct qed_header h;
	size_t len =
		(size_t)(l->file_len < HEADER_READ ? l->file_len : HEADER_READ);
	uint8_t *buf = malloc(len ? len : 1);
	int r;

	if (!buf)
		return -ENOMEM;
	r = pread_full(l->fd, buf, len, 0);
	if (!r)
		r = qed_header_parse(buf, len, l->file_len, &h, why, why_len);
	else
		snprintf(why, why_len, "%s", strerror(-r));
	free(buf);
	if (r)
		return r;
	l->cluster = h.cluster_size;
	l->cluster_bits = (unsigned)__builtin_ctz(h.cluster_size);
	l->table_bytes = (size_t)h.cluster_size * h.table_size;
	l->l2_bits = (unsigned)__builtin_ctzll(l->table_bytes / 8);
	l->size = h.image_size;
	l->header_bytes = (uint64_t)h.header_size * h.cluster_size;
	l->l1_entries = l->table_bytes / 8;
	l->l1 = malloc(l->table_bytes);
	l->l2 = malloc(l->table_bytes);
	if (!l->l1 || !l->l2)
		return -ENOMEM;
	r = pread_full(l->fd, l->l1, l->table_bytes, h.l1_offset);
	if (r) {
		snprintf(why, why_len, "reading the L1 table: %s",
			 strerror(-r));
		return r;
	}
	if (h.features & QED_F_BACKING_FILE) {
		*backing = strdup(h.backing);
		*bfmt = h.features & QED_F_BACKING_NO_PROBE ? strdup("raw")
							    : NULL;
		if (!*backing)
			return -ENOMEM;
	}
	return 0;
}

static int layer_open(const char *path, const char *fmt, unsigned depth,
		      struct img_layer **out, char *why, size_t why_len)
{
	struct img_layer *l = calloc(1, sizeof(*l));
	char *backing = NULL, *bfmt = NULL, sub[256];
	struct stat st;
	off_t end;
	int r = 0;

	*out = l;
	if (!l)
		return -ENOMEM;
	l->fd = open(path, O_RDONLY | O_CLOEXEC);
	l->name = strdup(path);
	if (l->fd < 0 || fstat(l->fd, &st) ||
	    (end = lseek(l->fd, 0, SEEK_END)) < 0) {
		r = -errno;
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return r;
	}
	if (!l->name)
		return -ENOMEM;
	l->file_len = align_up((uint64_t)end, 512);
	if (!fmt)
		fmt = img_probe(path);
	if (!strcmp(fmt, "raw")) {
		l->fmt = IMG_FMT_RAW;
		l->size = l->file_len;
		return 0;
	}
	if (!strcmp(fmt, "qcow2")) {
		l->fmt = IMG_FMT_QCOW2;
		r = open_qcow2(l, &backing, &bfmt, (uint64_t)st.st_blocks, sub,
			       sizeof(sub));
	} else if (!strcmp(fmt, "qed")) {
		l->fmt = IMG_FMT_QED;
		r = open_qed(l, &backing, &bfmt, sub, sizeof(sub));
	} else {
		snprintf(why, why_len,
			 "%s: unknown format '%s' (raw, qcow2, qed)", path,
			 fmt);
		return -EINVAL;
	}
	if (r) {
		snprintf(why, why_len, "%s: %s", path,
			 r == -ENOMEM ? "out of memory" : sub);
		goto out;
	}
	if (backing) {
		char *bpath = path_combine(path, backing);

		if (!bpath) {
			r = -ENOMEM;
		} else if (depth + 1 >= MAX_CHAIN) {
			snprintf(why, why_len,
				 "%s: backing chain deeper than %d images",
				 path, MAX_CHAIN);
			r = -ELOOP;
		} else {
			r = layer_open(bpath, bfmt, depth + 1, &l->backing, why,
				       why_len);
		}
		free(bpath);
	}
out:
	free(backing);
	free(bfmt);
	return r;
}

int img_chain_open(const char *path, const char *fmt, struct img_layer **top,
		   char *why, size_t why_len)
{
	int r = layer_open(path, fmt, 0, top, why, why_len);

	if (r == -ENOMEM)
		snprintf(why, why_len, "%s: out of memory", path);
	if (r) {
		img_chain_close(*top);
		*top = NULL;
	}
	return r;
}

/* --- One layer's status --- */

/* The file itself (QEMU's file-posix node, whose length is the file's
 * rounded up to 512): data or a hole by SEEK_DATA/SEEK_HOLE. */
static int file_status(struct img_layer *l, uint64_t off, uint64_t bytes,
		       uint64_t *pnum)
{
	uint64_t total = l->file_len;
	off_t d, h;
	int ret;

	*pnum = 0;
	if (off >= total)
		return IMG_BS_EOF;
	if (bytes > total - off)
		bytes = total - off;
	d = lseek(l->fd, (off_t)off, SEEK_DATA);
	if (d < 0 && errno == ENXIO) {
		*pnum = bytes; /* a trailing hole */
		ret = IMG_BS_ZERO;
	} else if (d < 0 || (uint64_t)d < off) {
		*pnum = bytes;
		ret = IMG_BS_DATA;
	} else if ((uint64_t)d > off) {
		*pnum = (uint64_t)d - off < bytes ? (uint64_t)d - off : bytes;
		ret = IMG_BS_ZERO;
	} else {
		h = lseek(l->fd, (off_t)off, SEEK_HOLE);
		if (h < 0 || (uint64_t)h <= off)
			*pnum = bytes;
		else
			*pnum = (uint64_t)h - off < bytes ? (uint64_t)h - off
							  : bytes;
		ret = IMG_BS_DATA;
	}
	ret |= IMG_BS_OFFSET_VALID | IMG_BS_ALLOCATED;
	if (off + *pnum == total)
		ret |= IMG_BS_EOF;
	return ret;
}

static int load_l2(struct img_layer *l, uint64_t off)
{
	int r;

	if (l->l2_off == off)
		return 0;
	l->l2_off = 0;
	r = pread_full(l->fd, l->l2, l->table_bytes, off);
	if (!r)
		l->l2_off = off;
	return r;
}

enum qcow2_type { UNALLOC, ZERO_PLAIN, ZERO_ALLOC, NORMAL, COMPRESSED };

static enum qcow2_type qcow2_type(uint64_t e)
{
	if (e & QCOW2_COMPRESSED)
		return COMPRESSED;
	if (e & QCOW2_ZERO)
		return e & QCOW2_OFFSET_MASK ? ZERO_ALLOC : ZERO_PLAIN;
	return e & QCOW2_OFFSET_MASK ? NORMAL : UNALLOC;
}

/* qcow2_get_host_offset and count_contiguous_subclusters: a run of one
 * type inside one L2 table, data clusters contiguous in the file,
 * compressed clusters one at a time. */
static int qcow2_status(struct img_layer *l, uint64_t off, uint64_t bytes,
			uint64_t *pnum, uint64_t *map)
{
	uint64_t entries = l->cluster / 8, in = off & (l->cluster - 1);
	uint64_t idx = (off >> l->cluster_bits) & (entries - 1);
	uint64_t needed = (bytes < INT_MAX ? bytes : INT_MAX) + in;
	uint64_t avail = (entries - idx) << l->cluster_bits;
	uint64_t l1i = off >> (l->cluster_bits + l->l2_bits), l2 = 0, host = 0;
	enum qcow2_type type = UNALLOC;
	int status = 0;

	if (needed > avail)
		needed = avail;
	if (l1i < l->l1_entries)
		l2 = get_be64(l->l1 + l1i * 8) & QCOW2_OFFSET_MASK;
	if (l2) {
		uint64_t nb = (needed + l->cluster - 1) >> l->cluster_bits;
		uint64_t e, expect, count = 1;
		bool check_offset;

		if (l2 & (l->cluster - 1) || load_l2(l, l2))
			return -EIO;
		e = get_be64(l->l2 + idx * 8);
		type = qcow2_type(e);
		if (l->version < 3 &&
		    (type == ZERO_PLAIN || type == ZERO_ALLOC))
			return -EIO; /* QEMU: corrupt in a version 2 image */
		expect = e & QCOW2_OFFSET_MASK;
		check_offset = type == NORMAL || type == ZERO_ALLOC;
		if (check_offset) {
			if (expect & (l->cluster - 1))
				return -EIO;
			host = expect + in;
		}
		for (uint64_t i = 1; type != COMPRESSED && i < nb; i++) {
			uint64_t ei = get_be64(l->l2 + (idx + i) * 8);

			if (qcow2_type(ei) != type)
				break;
			if (check_offset) {
				expect += l->cluster;
				if ((ei & QCOW2_OFFSET_MASK) != expect)
					break;
			}
			count++;
		}
		avail = count << l->cluster_bits;
	}
	if (avail > needed)
		avail = needed;
	*pnum = avail - in;
	if (type == NORMAL || type == ZERO_ALLOC) {
		*map = host;
		status |= IMG_BS_OFFSET_VALID;
	}
	if (type == ZERO_PLAIN || type == ZERO_ALLOC)
		status |= IMG_BS_ZERO;
	else if (type != UNALLOC)
		status |= IMG_BS_DATA;
	if (l->recurse && (status & IMG_BS_DATA) &&
	    (status & IMG_BS_OFFSET_VALID))
		status |= IMG_BS_RECURSE;
	return status;
}

/* QED's offsets: cluster aligned, past the header, inside the file. */
static bool qed_offset_ok(const struct img_layer *l, uint64_t off, uint64_t len)
{
	return !(off & (l->cluster - 1)) && off >= l->header_bytes &&
	       range_within(off, len, l->file_len);
}

/* qed_find_cluster and qed_count_contiguous_clusters: a run inside one
 * L2 table. */
static int qed_status(struct img_layer *l, uint64_t off, uint64_t bytes,
		      uint64_t *pnum, uint64_t *map)
{
	unsigned shift = l->cluster_bits + l->l2_bits;
	uint64_t entries = l->table_bytes / 8, in = off & (l->cluster - 1);
	uint64_t len = (((off >> shift) + 1) << shift) - off;
	uint64_t l2 = qed_get_le64(l->l1 + (off >> shift) * 8), first, last;
	uint64_t idx, n, i;

	len = bytes < len ? bytes : len;
	if (!l2) {
		*pnum = len;
		return 0;
	}
	if (!qed_offset_ok(l, l2, l->table_bytes) || load_l2(l, l2))
		return -EINVAL;
	idx = (off >> l->cluster_bits) & (entries - 1);
	n = (in + len + l->cluster - 1) >> l->cluster_bits;
	first = last = qed_get_le64(l->l2 + idx * 8);
	for (i = idx + 1; i < idx + n && i < entries; i++) {
		uint64_t e = qed_get_le64(l->l2 + i * 8);

		if (last == QED_UNALLOCATED || last == QED_ZERO_CLUSTER) {
			if (e != last)
				break;
		} else {
			if (e != last + l->cluster)
				break;
			last = e;
		}
	}
	n = i - idx;
	*pnum = n * l->cluster - in < len ? n * l->cluster - in : len;
	if (first == QED_UNALLOCATED)
		return 0;
	if (first == QED_ZERO_CLUSTER)
		return IMG_BS_ZERO;
	if (!qed_offset_ok(l, first, l->cluster))
		return -EINVAL;
	*map = first + in;
	return IMG_BS_DATA | IMG_BS_OFFSET_VALID;
}

int img_layer_status(struct img_layer *l, uint64_t off, uint64_t bytes,
		     uint64_t *pnum, uint64_t *map, struct img_layer **file)
{
	uint64_t total = l->size, fpnum;
	int ret, ret2;

	*pnum = 0;
	*map = 0;
	*file = NULL;
	if (off >= total)
		return IMG_BS_EOF;
	if (!bytes)
		return 0;
	if (bytes > total - off)
		bytes = total - off;
	if (l->fmt == IMG_FMT_RAW) {
		/* raw hands the question to its file (BDRV_BLOCK_RAW). */
		*map = off;
		*file = l;
		return file_status(l, off, bytes, pnum);
	}
	ret = l->fmt == IMG_FMT_QCOW2 ? qcow2_status(l, off, bytes, pnum, map)
				      : qed_status(l, off, bytes, pnum, map);
	if (ret < 0)
		return ret;
	if (*pnum > bytes)
		*pnum = bytes;
	if (ret & (IMG_BS_DATA | IMG_BS_ZERO))
		ret |= IMG_BS_ALLOCATED;
	else if (!l->backing || off >= l->backing->size)
		ret |= IMG_BS_ZERO;
	if ((ret & IMG_BS_RECURSE) && (ret & IMG_BS_DATA) &&
	    !(ret & IMG_BS_ZERO) && (ret & IMG_BS_OFFSET_VALID)) {
		ret2 = file_status(l, *map, *pnum, &fpnum);
		if ((ret2 & IMG_BS_EOF) && (!fpnum || (ret2 & IMG_BS_ZERO))) {
			ret |= IMG_BS_ZERO;
		} else {
			*pnum = fpnum;
			ret |= ret2 & IMG_BS_ZERO;
		}
	}
	if (off + *pnum == total)
		ret |= IMG_BS_EOF;
	if (ret & IMG_BS_OFFSET_VALID)
		*file = l;
	return ret;
}

int img_status_above(struct img_layer *top, uint64_t off, uint64_t bytes,
		     uint64_t *pnum)
{
	struct img_layer *file;
	uint64_t map, eof = 0;
	int ret = img_layer_status(top, off, bytes, pnum, &map, &file);

	if (ret < 0 || !*pnum || (ret & IMG_BS_ALLOCATED))
		return ret;
	if (ret & IMG_BS_EOF)
		eof = off + *pnum;
	bytes = *pnum;
	for (struct img_layer *p = top->backing; p; p = p->backing) {
		ret = img_layer_status(p, off, bytes, pnum, &map, &file);
		if (ret < 0)
			return ret;
		if (!*pnum) {
			/* Past a shorter backing file's end: zeroes, as if
			 * allocated there. */
			*pnum = bytes;
			ret = IMG_BS_ZERO | IMG_BS_ALLOCATED;
			break;
		}
		if (ret & IMG_BS_ALLOCATED) {
			ret &= ~IMG_BS_EOF;
			break;
		}
		bytes = *pnum;
	}
	if (off + *pnum == eof)
		ret |= IMG_BS_EOF;
	return ret;
}
