/* qcow2 header parsing, checking and encoding (block/qcow2_format.h).
 * Pure; any thread. Every field comes from a file that may be hostile:
 * each offset and size is checked before anything is sized from it. */
#include "qcow2_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/bytes.h"
#include "lib/checked.h"

__attribute__((format(printf, 4, 5))) static int
fail(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return err;
}

uint64_t qcow2_l1_entries(uint64_t size, uint32_t cluster_bits)
{
	/* One L2 table maps cluster_size / 8 clusters. */
	uint32_t shift = 2 * cluster_bits - 3;

	return (size + (1ull << shift) - 1) >> shift;
}

/* A table of `bytes` at `off`: cluster aligned, past the header cluster,
 * inside the file. */
static bool table_ok(uint64_t off, uint64_t bytes, uint64_t cluster,
		     uint64_t file_size)
{
	return !(off & (cluster - 1)) && off >= cluster &&
	       range_within(off, bytes, file_size);
}

static int parse_extensions(const uint8_t *buf, size_t end, size_t off,
			    struct qcow2_header *h, char *why, size_t why_len)
{
	while (off + 8 <= end) {
		uint32_t type = get_be32(buf + off);
		uint32_t len = get_be32(buf + off + 4);

		off += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off)
			return fail(why, why_len, -EINVAL,
				    "header extension %#x at %zu: length %u "
				    "runs past the header cluster",
				    type, off - 8, len);
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len >= sizeof(h->backing_format))
				return fail(why, why_len, -EINVAL,
					    "backing format name of %u bytes "
					    "is too long",
					    len);
			memcpy(h->backing_format, buf + off, len);
			h->backing_format[len] = 0;
		}
		/* Others (feature names, bitmaps) are kept as they are. */
		off += (len + 7) & ~7u;
	}
	return 0;
}

/* The names the feature name table extension gives the incompatible
 * bits of mask, as " (bit N: name, ...)", into out; "" when the image has
 * no table or it names none of them. Hostile input: the walk stays in
 * buf[0, len), a name is at most 46 bytes and unprintable bytes show
 * as '?'. */
static void feature_names(const uint8_t *buf, size_t len, size_t off,
			  uint64_t mask, char *out, size_t out_len)
{
	size_t used = 0;

	out[0] = 0;
	while (off + 8 <= len && get_be32(buf + off) != QCOW2_EXT_END) {
		uint32_t type = get_be32(buf + off);
		uint32_t elen = get_be32(buf + off + 4);

		off += 8;
		if (elen > len - off)
			return;
		for (size_t e = 0; type == QCOW2_EXT_FEATURE_NAMES &&
				   e + 48 <= elen && used + 1 < out_len;
		     e += 48) {
			const uint8_t *f = buf + off + e;
			char name[47];
			size_t n = 0;
			int w;

			if (f[0] != 0 || f[1] > 63 || !(mask >> f[1] & 1))
				continue; /* not an incompatible bit of mask */
			for (; n < 46 && f[2 + n]; n++)
				name[n] = f[2 + n] >= 0x20 && f[2 + n] < 0x7f
						  ? (char)f[2 + n]
						  : '?';
			name[n] = 0;
			w = snprintf(out + used, out_len - used, "%sbit %u: %s",
				     used ? ", " : " (", f[1], name);
			used = w < 0 ? out_len : used + (size_t)w;
		}
		off += (elen + 7) & ~7u;
	}
	if (used && used + 1 < out_len)
		snprintf(out + used, out_len - used, ")");
	else if (used)
		out[0] = 0; /* cut short: the mask alone */
}

static int check_features(const uint8_t *buf, size_t len,
			  struct qcow2_header *h, char *why, size_t why_len)
{
	char names[160];
	uint64_t known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT;

	if (h->incompatible & QCOW2_INCOMPAT_DATA_FILE)
		return fail(why, why_len, -ENOTSUP,
			    "external data files are not supported");
	if (h->incompatible & QCOW2_INCOMPAT_EXTL2)
		return fail(why, why_len, -ENOTSUP,
			    "extended L2 entries (subclusters) are not "
			    "supported");
	if (h->incompatible & QCOW2_INCOMPAT_COMPRESSION)
		return fail(why, why_len, -ENOTSUP,
			    "compression types other than zlib are not "
			    "supported");
	if (h->incompatible & ~known) {
		feature_names(buf, len, h->header_length,
			      h->incompatible & ~known, names, sizeof(names));
		return fail(why, why_len, -ENOTSUP,
			    "unknown incompatible features %#llx%s",
			    (unsigned long long)(h->incompatible & ~known),
			    names);
	}
	return 0;
}

static int parse_fields(const uint8_t *buf, size_t len, struct qcow2_header *h,
			char *why, size_t why_len)
{
	memset(h, 0, sizeof(*h));
	if (len < QCOW2_V2_HEADER_LEN || get_be32(buf) != QCOW2_MAGIC)
		return fail(why, why_len, -EINVAL, "not a qcow2 image");
	h->version = get_be32(buf + 4);
	h->backing_offset = get_be64(buf + 8);
	h->backing_size = get_be32(buf + 16);
	h->cluster_bits = get_be32(buf + 20);
	h->size = get_be64(buf + 24);
	if (get_be32(buf + 32))
		return fail(why, why_len, -ENOTSUP,
			    "encrypted images are not supported");
	h->l1_size = get_be32(buf + 36);
	h->l1_offset = get_be64(buf + 40);
	h->reftable_offset = get_be64(buf + 48);
	h->reftable_clusters = get_be32(buf + 56);
	h->nb_snapshots = get_be32(buf + 60);
	h->snapshots_offset = get_be64(buf + 64);
	if (h->version == 2) {
		h->refcount_order = 4;
		h->header_length = QCOW2_V2_HEADER_LEN;
		return 0;
	}
	if (h->version != 3)
		return fail(why, why_len, -ENOTSUP,
			    "qcow2 version %u is not supported (2 and 3 are)",
			    h->version);
	if (len < QCOW2_V3_HEADER_LEN)
		return fail(why, why_len, -EINVAL, "truncated header");
	h->incompatible = get_be64(buf + 72);
	h->compatible = get_be64(buf + 80);
	h->autoclear = get_be64(buf + 88);
	h->refcount_order = get_be32(buf + 96);
	h->header_length = get_be32(buf + 100);
	if (h->header_length < QCOW2_V3_HEADER_LEN || h->header_length % 8)
		return fail(why, why_len, -EINVAL, "bad header length %u",
			    h->header_length);
	if (len < h->header_length)
		return fail(why, why_len, -EINVAL,
			    "truncated header: %zu of %u bytes", len,
			    h->header_length);
	if (h->header_length > 104 && buf[104] != 0)
		return fail(why, why_len, -ENOTSUP,
			    "compression type %u is not supported (zlib is)",
			    buf[104]);
	return check_features(buf, len, h, why, why_len);
}

static int check_layout(const uint8_t *buf, size_t len, uint64_t file_size,
			struct qcow2_header *h, char *why, size_t why_len)
{
	uint64_t cluster = 1ull << h->cluster_bits;
	uint64_t l1_bytes = (uint64_t)h->l1_size * 8;
	uint64_t rt_bytes = (uint64_t)h->reftable_clusters << h->cluster_bits;
	size_t ext_end;

	if (h->header_length > cluster || len < h->header_length)
		return fail(why, why_len, -EINVAL,
			    "header length %u does not fit its cluster",
			    h->header_length);
	if (h->refcount_order > 6)
		return fail(why, why_len, -EINVAL, "refcount order %u > 6",
			    h->refcount_order);
	if (h->size >> 62)
		return fail(why, why_len, -EINVAL, "virtual size %llu",
			    (unsigned long long)h->size);
	if (l1_bytes > QCOW2_MAX_L1_BYTES ||
	    h->l1_size < qcow2_l1_entries(h->size, h->cluster_bits))
		return fail(why, why_len, -EINVAL,
			    "L1 table of %u entries for a %llu byte disk",
			    h->l1_size, (unsigned long long)h->size);
	if (h->l1_size && !table_ok(h->l1_offset, l1_bytes, cluster, file_size))
		return fail(why, why_len, -EINVAL,
			    "L1 table at %#llx (%llu bytes) is unaligned, "
			    "in the header or past the end of the file",
			    (unsigned long long)h->l1_offset,
			    (unsigned long long)l1_bytes);
	if (!h->reftable_clusters || rt_bytes > QCOW2_MAX_REFTABLE_BYTES ||
	    !table_ok(h->reftable_offset, rt_bytes, cluster, file_size))
		return fail(why, why_len, -EINVAL,
			    "refcount table at %#llx (%u clusters) is empty, "
			    "too large, unaligned, in the header or past the "
			    "end of the file",
			    (unsigned long long)h->reftable_offset,
			    h->reftable_clusters);
	if (ranges_overlap(h->l1_offset, l1_bytes, h->reftable_offset,
			   rt_bytes))
		return fail(why, why_len, -EINVAL,
			    "L1 table and refcount table overlap");
	if (h->nb_snapshots &&
	    (h->snapshots_offset & (cluster - 1) ||
	     h->snapshots_offset < cluster || h->snapshots_offset >= file_size))
		return fail(why, why_len, -EINVAL,
			    "snapshot table at %#llx is unaligned, in the "
			    "header or past the end of the file",
			    (unsigned long long)h->snapshots_offset);
	ext_end = len < cluster ? len : (size_t)cluster;
	if (h->backing_offset) {
		if (h->backing_size > QCOW2_MAX_BACKING_NAME ||
		    !h->backing_size ||
		    !range_within(h->backing_offset, h->backing_size,
				  ext_end) ||
		    h->backing_offset < h->header_length)
			return fail(why, why_len, -EINVAL,
				    "backing file name at %llu (%u bytes) "
				    "lies outside the header cluster",
				    (unsigned long long)h->backing_offset,
				    h->backing_size);
		memcpy(h->backing, buf + h->backing_offset, h->backing_size);
		h->backing[h->backing_size] = 0;
		if (strlen(h->backing) != h->backing_size)
			return fail(why, why_len, -EINVAL,
				    "backing file name holds a NUL byte");
		ext_end = h->backing_offset;
	}
	return parse_extensions(buf, ext_end, h->header_length, h, why,
				why_len);
}

int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size,
		       struct qcow2_header *h, char *why, size_t why_len)
{
	int r = parse_fields(buf, len, h, why, why_len);

	if (r)
		return r;
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return fail(why, why_len, -EINVAL,
			    "cluster size 2^%u is not between 512 B and 2 MiB",
			    h->cluster_bits);
	return check_layout(buf, len, file_size, h, why, why_len);
}

int qcow2_header_write(const struct qcow2_header *h, uint8_t *buf, size_t len)
{
	size_t hlen =
		h->version == 2 ? QCOW2_V2_HEADER_LEN : QCOW2_V3_HEADER_LEN;
	size_t off = hlen, fmt_len = strlen(h->backing_format);
	size_t name_len = strlen(h->backing);

	if (len < hlen + 8 + 8 + 32 + name_len || len > (1u << 21))
		return -EINVAL;
	memset(buf, 0, len);
	put_be32(buf, QCOW2_MAGIC);
	put_be32(buf + 4, h->version);
	put_be32(buf + 20, h->cluster_bits);
	put_be64(buf + 24, h->size);
	put_be32(buf + 36, h->l1_size);
	put_be64(buf + 40, h->l1_offset);
	put_be64(buf + 48, h->reftable_offset);
	put_be32(buf + 56, h->reftable_clusters);
	put_be32(buf + 60, h->nb_snapshots);
	put_be64(buf + 64, h->snapshots_offset);
	if (h->version == 3) {
		put_be64(buf + 72, h->incompatible);
		put_be64(buf + 80, h->compatible);
		put_be64(buf + 88, h->autoclear);
		put_be32(buf + 96, h->refcount_order);
		put_be32(buf + 100, (uint32_t)hlen);
	}
	if (fmt_len) {
		put_be32(buf + off, QCOW2_EXT_BACKING_FORMAT);
		put_be32(buf + off + 4, (uint32_t)fmt_len);
		memcpy(buf + off + 8, h->backing_format, fmt_len);
		off += 8 + ((fmt_len + 7) & ~(size_t)7);
	}
	off += 8; /* the end extension, zeroes */
	if (name_len) {
		put_be64(buf + 8, off);
		put_be32(buf + 16, (uint32_t)name_len);
		memcpy(buf + off, h->backing, name_len);
	}
	return 0;
}

static void copy_name(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	n = n < cap - 1 ? n : cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int qcow2_snapshot_parse(const uint8_t *buf, size_t len, size_t *pos,
			 struct qcow2_snapshot *out)
{
	const uint8_t *e = buf + *pos;
	uint64_t need;
	uint32_t extra;
	uint16_t id_len, name_len;

	if (*pos > len || len - *pos < 40)
		return -EINVAL;
	out->l1_offset = get_be64(e);
	out->l1_size = get_be32(e + 8);
	id_len = get_be16(e + 12);
	name_len = get_be16(e + 14);
	out->date_sec = get_be32(e + 16);
	out->date_nsec = get_be32(e + 20);
	out->vm_clock_nsec = get_be64(e + 24);
	out->vm_state_size = get_be32(e + 32);
	extra = get_be32(e + 36);
	need = 40 + (uint64_t)extra + id_len + name_len;
	if (need > len - *pos)
		return -EINVAL;
	copy_name(out->id, sizeof(out->id), e + 40 + extra, id_len);
	copy_name(out->name, sizeof(out->name), e + 40 + extra + id_len,
		  name_len);
	*pos += (size_t)align_up(need, 8);
	return 0;
}
