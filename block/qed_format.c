/* QED header parsing, checking and encoding, and empty-image creation
 * (block/qed_format.h). Pure but for qed_create's writes to its fd; any
 * thread; no state, no lock. Every field comes from a file that may be
 * hostile: each offset and size is checked before anything is sized or
 * read from it. */
#include "qed_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static bool cluster_size_ok(uint32_t c)
{
	return pow2(c) && c >= QED_MIN_CLUSTER && c <= QED_MAX_CLUSTER;
}

static bool table_size_ok(uint32_t t)
{
	return pow2(t) && t <= QED_MAX_TABLE_SIZE;
}

uint64_t qed_max_image_size(uint32_t cluster_size, uint32_t table_size)
{
	/* entries^2 * cluster, all powers of two: add the exponents. */
	unsigned cb, eb, bits;

	if (!cluster_size_ok(cluster_size) || !table_size_ok(table_size))
		return 0;
	cb = (unsigned)__builtin_ctz(cluster_size);
	eb = cb + (unsigned)__builtin_ctz(table_size) - 3;
	bits = 2 * eb + cb;
	return bits >= 64 ? UINT64_MAX : 1ull << bits;
}

/* Sizes and shape: everything but the L1 table's place and the name. */
static int check_shape(const struct qed_header *h, char *why, size_t why_len)
{
	uint64_t table_bytes;

	if (h->features & ~QED_F_KNOWN)
		return fail(why, why_len, -ENOTSUP,
			    "unknown QED features %#llx",
			    (unsigned long long)(h->features & ~QED_F_KNOWN));
	if (!cluster_size_ok(h->cluster_size))
		return fail(why, why_len, -EINVAL,
			    "cluster size %u is not a power of 2 from 4 KiB "
			    "to 64 MiB",
			    h->cluster_size);
	if (!table_size_ok(h->table_size))
		return fail(why, why_len, -EINVAL,
			    "table size %u is not a power of 2 from 1 to 16",
			    h->table_size);
	table_bytes = (uint64_t)h->cluster_size * h->table_size;
	if (table_bytes > QED_MAX_TABLE_BYTES)
		return fail(why, why_len, -ENOTSUP,
			    "tables of %llu bytes (cluster size %u x table "
			    "size %u) are larger than vmm's limit of 64 MiB",
			    (unsigned long long)table_bytes, h->cluster_size,
			    h->table_size);
	if (!h->header_size ||
	    (uint64_t)h->header_size * h->cluster_size > UINT32_MAX)
		return fail(why, why_len, -EINVAL,
			    "header size of %u clusters is out of range",
			    h->header_size);
	if (h->image_size % 512)
		return fail(why, why_len, -EINVAL,
			    "image size %llu is not a multiple of 512",
			    (unsigned long long)h->image_size);
	if (h->image_size > qed_max_image_size(h->cluster_size, h->table_size))
		return fail(why, why_len, -EINVAL,
			    "image size %llu is larger than the %llu bytes "
			    "its tables can map",
			    (unsigned long long)h->image_size,
			    (unsigned long long)qed_max_image_size(
				    h->cluster_size, h->table_size));
	return 0;
}

int qed_header_parse(const uint8_t *buf, size_t len, uint64_t file_size,
		     struct qed_header *h, char *why, size_t why_len)
{
	uint64_t table_bytes, header_bytes, in_file;
	int r;

	memset(h, 0, sizeof(*h));
	if (len < QED_HEADER_LEN || get_le32(buf) != QED_MAGIC)
		return fail(why, why_len, -EINVAL, "not a QED image");
	h->cluster_size = get_le32(buf + 4);
	h->table_size = get_le32(buf + 8);
	h->header_size = get_le32(buf + 12);
	h->features = qed_get_le64(buf + 16);
	h->compat_features = qed_get_le64(buf + 24);
	h->autoclear_features = qed_get_le64(buf + 32);
	h->l1_offset = qed_get_le64(buf + 40);
	h->image_size = qed_get_le64(buf + 48);
	h->backing_offset = get_le32(buf + 56);
	h->backing_size = get_le32(buf + 60);
	r = check_shape(h, why, why_len);
	if (r)
		return r;
	table_bytes = (uint64_t)h->cluster_size * h->table_size;
	header_bytes = (uint64_t)h->header_size * h->cluster_size;
	/* QEMU's rule: whole clusters only; a partial last one is not part
	 * of the image. */
	in_file = file_size & ~((uint64_t)h->cluster_size - 1);
	if (h->l1_offset % h->cluster_size || h->l1_offset < header_bytes ||
	    !range_within(h->l1_offset, table_bytes, in_file))
		return fail(why, why_len, -EINVAL,
			    "L1 table at %#llx (%llu bytes) is unaligned, in "
			    "the header or past the end of the file",
			    (unsigned long long)h->l1_offset,
			    (unsigned long long)table_bytes);
	if (!(h->features & QED_F_BACKING_FILE))
		return 0;
	if (!h->backing_size || h->backing_size > QED_MAX_BACKING_NAME ||
	    h->backing_offset < QED_HEADER_LEN ||
	    (uint64_t)h->backing_offset + h->backing_size > header_bytes)
		return fail(why, why_len, -EINVAL,
			    "backing file name at %u (%u bytes) is empty, "
			    "too long or outside the header",
			    h->backing_offset, h->backing_size);
	if ((uint64_t)h->backing_offset + h->backing_size > len)
		return fail(why, why_len, -EINVAL,
			    "backing file name at %u (%u bytes) lies past "
			    "the first %zu bytes of the file",
			    h->backing_offset, h->backing_size, len);
	memcpy(h->backing, buf + h->backing_offset, h->backing_size);
	h->backing[h->backing_size] = 0;
	if (strlen(h->backing) != h->backing_size)
		return fail(why, why_len, -EINVAL,
			    "backing file name at %u holds a NUL byte",
			    h->backing_offset);
	return 0;
}

int qed_header_encode(struct qed_header *h, uint8_t *buf, size_t len)
{
	size_t name = strnlen(h->backing, sizeof(h->backing));

	if (len < QED_HEADER_LEN || name == sizeof(h->backing))
		return -EINVAL;
	if (h->features & QED_F_BACKING_FILE) {
		if (!name || h->backing_offset < QED_HEADER_LEN ||
		    h->backing_offset > len || name > len - h->backing_offset)
			return -EINVAL;
		h->backing_size = (uint32_t)name;
	}
	put_le32(buf, QED_MAGIC);
	put_le32(buf + 4, h->cluster_size);
	put_le32(buf + 8, h->table_size);
	put_le32(buf + 12, h->header_size);
	qed_put_le64(buf + 16, h->features);
	qed_put_le64(buf + 24, h->compat_features);
	qed_put_le64(buf + 32, h->autoclear_features);
	qed_put_le64(buf + 40, h->l1_offset);
	qed_put_le64(buf + 48, h->image_size);
	put_le32(buf + 56, h->backing_offset);
	put_le32(buf + 60, h->backing_size);
	if (h->features & QED_F_BACKING_FILE)
		memcpy(buf + h->backing_offset, h->backing, name);
	return 0;
}

int qed_create(int fd, uint64_t size, uint32_t cluster_size,
	       uint32_t table_size, const char *backing,
	       const char *backing_fmt, char *why, size_t why_len)
{
	struct qed_header h = {
		.cluster_size = cluster_size,
		.table_size = table_size,
		.header_size = 1,
		.l1_offset = cluster_size,
	};
	uint64_t total;
	uint8_t *buf;
	ssize_t n;
	int r;

	if (size > UINT64_MAX - 511)
		return fail(why, why_len, -EINVAL, "image size %llu too large",
			    (unsigned long long)size);
	h.image_size = align_up(size, 512);
	if (backing && strlen(backing) > QED_MAX_BACKING_NAME)
		return fail(why, why_len, -ENAMETOOLONG,
			    "backing file name longer than %d bytes",
			    QED_MAX_BACKING_NAME);
	if (backing && *backing) {
		h.features = QED_F_BACKING_FILE;
		if (backing_fmt && !strcmp(backing_fmt, "raw"))
			h.features |= QED_F_BACKING_NO_PROBE;
		h.backing_offset = QED_HEADER_LEN;
		snprintf(h.backing, sizeof(h.backing), "%s", backing);
	}
	r = check_shape(&h, why, why_len);
	if (r)
		return r;
	total = (uint64_t)cluster_size * (1 + table_size);
	buf = calloc(1, total);
	if (!buf)
		return fail(why, why_len, -ENOMEM, "out of memory");
	r = qed_header_encode(&h, buf, cluster_size);
	if (!r && ftruncate(fd, 0))
		r = -errno;
	if (!r) {
		n = pwrite(fd, buf, total, 0);
		r = n < 0 ? -errno : (uint64_t)n != total ? -EIO : 0;
	}
	if (!r && fsync(fd))
		r = -errno;
	free(buf);
	if (r)
		return fail(why, why_len, r, "writing: %s", strerror(-r));
	return 0;
}
