/* `vmm img resize`: a new virtual size for a raw, qcow2 or QED image,
 * as `qemu-img resize` (sizes absolute or +/- relative, shrinking only
 * with --shrink). The image is first opened writable through the block
 * layer and closed again, which checks it and repairs what an unclean
 * close left (a dirty qcow2, a QED image needing a check); then, with
 * nothing else using it:
 *   raw: the file is truncated;
 *   qcow2, growing: when the L1 table needs more entries, a new one is
 *     allocated at the end of the file (refcounts set), the old entries
 *     copied, everything synced, then the header points at it (size, L1
 *     size and offset in one sector write, synced), then the old table's
 *     clusters are freed; otherwise only the header's size changes;
 *   qcow2, shrinking: refused while a cluster past the new end maps
 *     data or a host cluster (qemu-img would discard it; vmm keeps data
 *     safe), or with internal snapshots; else plain zero entries there
 *     are cleared, the size changes, and L2 tables wholly past the new
 *     end are unlinked and freed;
 *   QED: the header's size, when the L1 table maps it (it always maps
 *     the format's maximum for its cluster and table sizes); never
 *     smaller, as QEMU.
 * A crash at any point leaves a consistent image (at worst a leaked
 * cluster). Main thread only; plain system calls; the state is this
 * call's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "img_priv.h"
#include "lib/bytes.h"
#include "lib/checked.h"
#include "lib/log.h"
#include "lib/parse.h"

static int sync_header(struct img_qcow2 *q, const uint8_t *buf, size_t len,
		       uint64_t off)
{
	int r = img_qcow2_pwrite(q, buf, len, off);

	return r ? r : fsync(q->fd) ? -errno : 0;
}

/* The first guest offset in [from, to) (cluster indexes) whose L2 entry
 * maps a cluster or data, or UINT64_MAX. Plain zero entries (no cluster)
 * there are cleared: past the end they hold nothing. */
static int first_allocated(struct img_qcow2 *q, uint64_t from, uint64_t to,
			   uint64_t *at)
{
	unsigned l2_bits = q->cluster_bits - 3;
	uint64_t gc = from;

	*at = UINT64_MAX;
	while (gc < to) {
		uint64_t l1i = gc >> l2_bits, l2, end;
		uint8_t *t;
		int r;

		end = (l1i + 1) << l2_bits;
		end = end < to ? end : to;
		l2 = l1i < q->h.l1_size
			     ? get_be64(q->l1 + l1i * 8) & QCOW2_OFFSET_MASK
			     : 0;
		if (l2) {
			r = img_qcow2_table(q, l2, false, &t);
			if (r)
				return r;
			for (; gc < end; gc++) {
				uint8_t *e =
					t + (gc & ((1ull << l2_bits) - 1)) * 8;

				if (get_be64(e) == QCOW2_ZERO &&
				    q->h.version >= 3) {
					put_be64(e, 0);
					img_qcow2_table_dirty(q, l2);
				} else if (get_be64(e)) {
					*at = gc << q->cluster_bits;
					return 0;
				}
			}
		}
		gc = end;
	}
	return 0;
}

static int qcow2_shrink(struct img_qcow2 *q, uint64_t size, uint64_t old,
			char *why, size_t why_len)
{
	uint64_t new_l1 = qcow2_l1_entries(size, q->cluster_bits), at;
	uint64_t *freed, nfreed = 0;
	uint8_t buf[8];
	int r;

	if (q->h.nb_snapshots) {
		snprintf(why, why_len,
			 "cannot shrink an image with internal snapshots");
		return -ENOTSUP;
	}
	r = first_allocated(q, align_up(size, q->cluster) >> q->cluster_bits,
			    align_up(old, q->cluster) >> q->cluster_bits, &at);
	if (r)
		return r;
	if (at != UINT64_MAX) {
		snprintf(why, why_len,
			 "cannot shrink to %" PRIu64 " bytes: the cluster at "
			 "guest offset %" PRIu64 " is allocated (vmm does "
			 "not discard data)",
			 size, at);
		return -ENOTEMPTY;
	}
	r = img_qcow2_flush(q); /* the zero entries cleared */
	if (r)
		return r;
	put_be64(buf, size);
	r = sync_header(q, buf, 8, 24);
	/* L2 tables past the new end (all empty, checked above) are unlinked
	 * (the L1 table written and synced), then freed. */
	freed = new_l1 < q->h.l1_size
			? malloc((q->h.l1_size - new_l1) * sizeof(*freed))
			: NULL;
	if (!r && new_l1 < q->h.l1_size && !freed)
		r = -ENOMEM;
	for (uint64_t l1i = new_l1; !r && l1i < q->h.l1_size; l1i++) {
		uint64_t l2 = get_be64(q->l1 + l1i * 8) & QCOW2_OFFSET_MASK;
		uint64_t entries = q->cluster / 8, e = 0;
		uint8_t *t;

		if (!l2 || (r = img_qcow2_table(q, l2, false, &t)))
			continue;
		while (e < entries && !get_be64(t + e * 8))
			e++;
		if (e < entries)
			continue; /* entries past the old end: left alone */
		put_be64(q->l1 + l1i * 8, 0);
		q->l1_dirty = true;
		freed[nfreed++] = l2;
	}
	if (!r && nfreed)
		r = img_qcow2_flush(q);
	for (uint64_t i = 0; !r && i < nfreed; i++)
		r = img_qcow2_rc_add(q, freed[i] >> q->cluster_bits, -1);
	free(freed);
	return r ? r : img_qcow2_flush(q);
}

static int qcow2_grow(struct img_qcow2 *q, uint64_t size, char *why,
		      size_t why_len)
{
	uint64_t new_l1 = qcow2_l1_entries(size, q->cluster_bits);
	uint64_t old_off = q->h.l1_offset, old_bytes = q->h.l1_size * 8ull;
	uint64_t bytes = align_up(new_l1 * 8, q->cluster), off;
	uint8_t hdr[24], *table;
	int r;

	if (new_l1 * 8 > QCOW2_MAX_L1_BYTES) {
		snprintf(why, why_len,
			 "%" PRIu64 " bytes need an L1 table of %" PRIu64
			 " bytes, over the limit of %u (use larger clusters)",
			 size, new_l1 * 8, QCOW2_MAX_L1_BYTES);
		return -EFBIG;
	}
	if (new_l1 <= q->h.l1_size) {
		put_be64(hdr, size);
		return sync_header(q, hdr, 8, 24);
	}
	table = calloc(1, bytes);
	if (!table)
		return -ENOMEM;
	memcpy(table, q->l1, old_bytes);
	r = img_qcow2_alloc(q, bytes / q->cluster, true, &off);
	if (!r)
		r = img_qcow2_pwrite(q, table, bytes, off);
	if (!r)
		r = img_qcow2_flush(q); /* the new table and its refcounts */
	if (!r)
		r = img_qcow2_pread(q, hdr, sizeof(hdr), 24);
	if (r) {
		free(table);
		return r;
	}
	put_be64(hdr, size);
	put_be32(hdr + 12, (uint32_t)new_l1);
	put_be64(hdr + 16, off);
	r = sync_header(q, hdr, sizeof(hdr), 24);
	if (r) {
		free(table);
		return r;
	}
	free(q->l1);
	q->l1 = table;
	q->h.l1_size = (uint32_t)new_l1;
	q->h.l1_offset = off;
	q->h.size = size;
	for (uint64_t c = 0; !r && c < align_up(old_bytes, q->cluster);
	     c += q->cluster)
		r = img_qcow2_rc_add(q, (old_off + c) >> q->cluster_bits, -1);
	return r ? r : img_qcow2_flush(q);
}

static int resize_qcow2(const char *path, uint64_t size, uint64_t old)
{
	struct img_qcow2 q;
	char why[256] = "";
	int r;

	if (size % 512) {
		log_error("img resize: %s: the new size must be a multiple of "
			  "512",
			  path);
		return 1;
	}
	r = img_qcow2_open(&q, path, why, sizeof(why));
	if (!r)
		r = size < old ? qcow2_shrink(&q, size, old, why, sizeof(why))
			       : qcow2_grow(&q, size, why, sizeof(why));
	img_qcow2_close(&q);
	if (r) {
		log_error("img resize: %s: %s", path,
			  why[0]	 ? why
			  : r == -ERANGE ? "corrupt refcounts"
			  : r == -EIO	 ? "corrupt tables"
					 : strerror(-r));
		return 1;
	}
	return 0;
}

static int resize_qed(const char *path, uint64_t size, uint64_t old)
{
	uint8_t buf[64 << 10], le[8];
	struct qed_header h;
	struct stat st;
	char why[160];
	uint64_t max;
	ssize_t n;
	int fd, r;

	if (size < old) {
		log_error("img resize: %s: QED images cannot shrink", path);
		return 1;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		log_error("img resize: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	r = n < 0 ? -errno
		  : qed_header_parse(buf, (size_t)n, (uint64_t)st.st_size, &h,
				     why, sizeof(why));
	if (n < 0)
		snprintf(why, sizeof(why), "%s", strerror(-r));
	max = r ? 0 : qed_max_image_size(h.cluster_size, h.table_size);
	if (!r && (size % 512 || size > max)) {
		snprintf(why, sizeof(why),
			 "%" PRIu64 " bytes is not a multiple of 512 or is "
			 "over the %" PRIu64 " bytes its L1 table maps "
			 "(cluster size %u, table size %u)",
			 size, max, h.cluster_size, h.table_size);
		r = -EINVAL;
	}
	if (!r) {
		qed_put_le64(le, size);
		if (pwrite(fd, le, 8, 48) != 8 || fsync(fd)) {
			r = -errno;
			snprintf(why, sizeof(why), "writing the header: %s",
				 strerror(errno));
		}
	}
	close(fd);
	if (r) {
		log_error("img resize: %s: %s", path, why);
		return 1;
	}
	return 0;
}

int img_resize(const char *path, const char *fmt, bool shrink, bool quiet,
	       const char *size_arg)
{
	const char *s = size_arg;
	struct blk_node node;
	uint64_t n, old, size;
	int sign = 0, r;

	if (*s == '+' || *s == '-')
		sign = *s++ == '+' ? 1 : -1;
	if (parse_size(s, 1, &n)) {
		log_error("img resize: %s: bad size '%s'", path, size_arg);
		return 1;
	}
	if (!fmt)
		fmt = img_probe(path);
	/* Checks the image and repairs an unclean close. */
	if (img_open(&node, path, fmt, true))
		return 1;
	old = node.size;
	blk_close(&node);
	if (sign > 0 && !checked_add(old, n, &size)) {
		log_error("img resize: %s: the new size is too large", path);
		return 1;
	}
	size = sign > 0 ? size : sign < 0 ? old - n : n;
	if ((sign < 0 && n >= old) || !size) {
		log_error("img resize: %s: the new size must be positive",
			  path);
		return 1;
	}
	if (size < old && !shrink) {
		log_error("img resize: %s: shrinking from %" PRIu64
			  " to %" PRIu64 " bytes needs --shrink (data past "
			  "the new end is lost)",
			  path, old, size);
		return 1;
	}
	if (!strcmp(fmt, "raw")) {
		r = truncate(path, (off_t)size) ? 1 : 0;
		if (r)
			log_error("img resize: %s: %s", path, strerror(errno));
	} else if (!strcmp(fmt, "qcow2")) {
		r = resize_qcow2(path, size, old);
	} else if (!strcmp(fmt, "qed")) {
		r = resize_qed(path, size, old);
	} else {
		log_error("img resize: %s: cannot resize %s images", path, fmt);
		r = 1;
	}
	if (!r && !quiet)
		printf("Image resized.\n");
	return r;
}
