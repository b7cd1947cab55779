/* Where a qcow2 image's metadata is, so that no write lands on it
 * (QEMU's overlap check): the header cluster, the L1 and refcount tables
 * as ranges, and sorted sets (block/offset_set.c) of the clusters of the
 * active L2 tables, the refcount blocks, the snapshot table and the
 * snapshots' L1 tables.
 * Built at open (main thread) from the tables themselves; kept up to
 * date under the image's mu as tables are made. Every offset read from
 * the file is checked against it before it is written through. */
#include <errno.h>

#include "lib/bytes.h"
#include "lib/checked.h"
#include "qcow2.h"

static bool in_fixed(const struct qcow2 *s, uint64_t c)
{
	return c < s->cluster ||
	       ranges_overlap(c, s->cluster, s->l1.offset, s->l1.size) ||
	       ranges_overlap(c, s->cluster, s->reftable.offset,
			      s->reftable.size);
}

bool qcow2_is_metadata(const struct qcow2 *s, uint64_t off, uint64_t len,
		       unsigned except)
{
	uint64_t end;

	if (!checked_add(off, len, &end))
		return true;
	for (uint64_t c = off & ~(s->cluster - 1); c < end; c += s->cluster) {
		if (in_fixed(s, c))
			return true;
		if (!(except & QCOW2_META_L2) && offset_set_has(&s->l2s, c))
			return true;
		if (!(except & QCOW2_META_OTHER) &&
		    offset_set_has(&s->others, c))
			return true;
	}
	return false;
}

static int add_range(struct offset_set *o, const struct qcow2 *s, uint64_t off,
		     uint64_t len)
{
	int r = 0;

	for (uint64_t c = off & ~(s->cluster - 1); c < off + len && !r;
	     c += s->cluster)
		r = offset_set_add(o, c);
	return r;
}

/* The snapshot table and each snapshot's L1 table, from the table in
 * buf (len bytes read from snapshots_offset); bounded by len. */
static int add_snapshots(struct qcow2 *s, const uint8_t *buf, size_t len)
{
	size_t pos = 0;
	int r = 0;

	for (uint32_t i = 0; i < s->h.nb_snapshots && !r; i++) {
		uint64_t need, l1, l1_bytes;

		if (pos + 40 > len)
			return -EINVAL;
		l1 = get_be64(buf + pos);
		l1_bytes = (uint64_t)get_be32(buf + pos + 8) * 8;
		need = 40 + (uint64_t)get_be32(buf + pos + 36) +
		       get_be16(buf + pos + 12) + get_be16(buf + pos + 14);
		if (need > len - pos || l1_bytes > QCOW2_MAX_L1_BYTES)
			return -EINVAL;
		/* The last entry's padding may lie past the end of the file
		 * (qemu-img writes the table last). */
		pos += align_up(need, 8);
		pos = pos < len ? pos : len;
		if (l1_bytes)
			r = add_range(&s->others, s, l1, l1_bytes);
	}
	return r ? r : add_range(&s->others, s, s->h.snapshots_offset, pos);
}

int qcow2_offsets_load(struct qcow2 *s, const uint8_t *snapshots,
		       size_t snapshots_len)
{
	int r = 0;

	for (uint64_t i = 0; i < s->h.l1_size && !r; i++) {
		uint64_t l2 = get_be64(s->l1.data + i * 8) & QCOW2_OFFSET_MASK;

		if (l2 && !(l2 & (s->cluster - 1)))
			r = offset_set_add(&s->l2s, l2);
	}
	for (uint64_t i = 0; i < s->reftable.size / 8 && !r; i++) {
		uint64_t rb =
			get_be64(s->reftable.data + i * 8) & QCOW2_OFFSET_MASK;

		if (rb && !(rb & (s->cluster - 1)))
			r = offset_set_add(&s->others, rb);
	}
	if (!r && s->h.nb_snapshots)
		r = add_snapshots(s, snapshots, snapshots_len);
	return r;
}
