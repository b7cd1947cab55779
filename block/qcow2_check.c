/* qcow2 refcount check and repair (block/qcow2_check.h). Main thread,
 * plain reads and writes on the image's fd; all state is in one struct
 * chk on the caller's stack. The file is hostile: every offset is checked
 * against the file before it is read, table sizes against the header's
 * limits, and the per-cluster counts are bounded by the file size. */
#include "qcow2_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "lib/checked.h"
#include "qcow2.h"

#define ALIGN 4096
/* One counter per cluster: refuse files that would need over 1 GiB. */
#define MAX_CLUSTERS (1ull << 28)
#define SNAPSHOT_HEADER 40

struct chk {
	int fd;
	struct qcow2_header h;
	uint64_t cluster, file_size, nclusters;
	unsigned cb, rb_bits;
	uint32_t *ref; /* counted references per cluster (saturating) */
	uint8_t *buf;  /* one cluster */
	FILE *out;
	struct qcow2_check_result *res;
	uint64_t last_data; /* for fragmentation: previous data cluster */
	uint8_t *rt;	    /* the refcount table */
	uint64_t rt_entries;
	uint8_t *rb; /* one refcount block, at rb_off */
	uint64_t rb_off;
};

__attribute__((format(printf, 2, 3))) static void report(struct chk *c,
							 const char *fmt, ...)
{
	va_list ap;

	if (!c->out)
		return;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
}

static int read_at(struct chk *c, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(c->fd, buf, len, (off_t)off);

	if (n < 0)
		return -errno;
	if ((size_t)n < len)
		memset((uint8_t *)buf + n, 0, len - (size_t)n);
	return 0;
}

static int write_at(struct chk *c, uint64_t off, const void *buf, size_t len)
{
	ssize_t n = pwrite(c->fd, buf, len, (off_t)off);

	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

/* Counts one reference to each cluster of [off, off + len). */
static void add_ref(struct chk *c, uint64_t off, uint64_t len, const char *what)
{
	uint64_t end;

	if (!len)
		return;
	if (!checked_add(off, len, &end) || end > c->nclusters * c->cluster) {
		report(c, "ERROR %s at %#llx is past the end of the image file",
		       what, (unsigned long long)off);
		c->res->corruptions++;
		return;
	}
	for (uint64_t i = off / c->cluster;
	     i < (end + c->cluster - 1) / c->cluster; i++)
		if (c->ref[i] != UINT32_MAX)
			c->ref[i]++;
}

static int aligned(struct chk *c, uint64_t off, const char *what)
{
	if (!(off & (c->cluster - 1)))
		return 1;
	report(c, "ERROR %s at %#llx is not cluster aligned", what,
	       (unsigned long long)off);
	c->res->corruptions++;
	return 0;
}

/* One L2 table's data references. */
static void walk_l2(struct chk *c, const uint8_t *l2, bool active)
{
	unsigned shift = 62 - (c->cb - 8);

	c->last_data =
		0; /* fragmentation is counted per table, as qemu-img does */
	for (uint64_t i = 0; i < c->cluster / 8; i++) {
		uint64_t e = get_be64(l2 + i * 8), off, len;

		if (e & QCOW2_COMPRESSED) {
			uint64_t sectors =
				((e >> shift) & ((1ull << (c->cb - 8)) - 1)) +
				1;

			off = e & ((1ull << shift) - 1);
			len = sectors * 512 - (off & 511);
			add_ref(c, off, len, "compressed cluster");
			/* As qemu-img counts them: compressed clusters are
			 * fragmented by nature. */
			if (active) {
				c->res->allocated++;
				c->res->compressed++;
				c->res->fragmented++;
			}
			continue;
		}
		off = e & QCOW2_OFFSET_MASK;
		if (!off || !aligned(c, off, "data cluster"))
			continue;
		add_ref(c, off, c->cluster, "data cluster");
		if (active) {
			c->res->allocated++;
			if (c->last_data && off != c->last_data + c->cluster)
				c->res->fragmented++;
			c->last_data = off;
		}
	}
}

/* An L1 table and everything under it. */
static int walk_l1(struct chk *c, uint64_t l1_off, uint32_t l1_size,
		   bool active)
{
	uint64_t bytes = (uint64_t)l1_size * 8;
	uint8_t *l1;
	int r = 0;

	if (bytes > QCOW2_MAX_L1_BYTES) {
		report(c, "ERROR L1 table of %u entries is too large", l1_size);
		c->res->corruptions++;
		return 0;
	}
	if (!bytes || !aligned(c, l1_off, "L1 table"))
		return 0;
	add_ref(c, l1_off, bytes, "L1 table");
	if (posix_memalign((void **)&l1, ALIGN, align_up(bytes, ALIGN)))
		return -ENOMEM;
	r = read_at(c, l1_off, l1, bytes);
	for (uint64_t i = 0; !r && i < l1_size; i++) {
		uint64_t l2 = get_be64(l1 + i * 8) & QCOW2_OFFSET_MASK;

		if (!l2 || !aligned(c, l2, "L2 table"))
			continue;
		if (l2 >= c->file_size) {
			add_ref(c, l2, c->cluster, "L2 table");
			continue;
		}
		add_ref(c, l2, c->cluster, "L2 table");
		r = read_at(c, l2, c->buf, c->cluster);
		if (!r)
			walk_l2(c, c->buf, active);
	}
	free(l1);
	return r;
}

/* The snapshot table: its own clusters, each snapshot's tables. */
static int walk_snapshots(struct chk *c)
{
	uint64_t off = c->h.snapshots_offset, pos = 0, have;
	uint8_t *t;
	int r = 0;

	if (!c->h.nb_snapshots)
		return 0;
	have = c->file_size - off;
	have = have < (64u << 20) ? have : (64u << 20);
	t = malloc(have);
	if (!t)
		return -ENOMEM;
	r = read_at(c, off, t, have);
	for (uint32_t i = 0; !r && i < c->h.nb_snapshots; i++) {
		uint64_t l1_off, need;
		uint32_t l1_size, extra;
		uint16_t id_len, name_len;

		if (pos + SNAPSHOT_HEADER > have)
			goto truncated;
		l1_off = get_be64(t + pos);
		l1_size = get_be32(t + pos + 8);
		id_len = get_be16(t + pos + 12);
		name_len = get_be16(t + pos + 14);
		extra = get_be32(t + pos + 36);
		need = SNAPSHOT_HEADER + (uint64_t)extra + id_len + name_len;
		if (pos + need > have)
			goto truncated;
		/* The last entry's padding may lie past the end of the file
		 * (qemu-img writes the table last). */
		pos += align_up(need, 8);
		pos = pos < have ? pos : have;
		r = walk_l1(c, l1_off, l1_size, false);
	}
	free(t);
	if (!r)
		add_ref(c, off, pos, "snapshot table");
	return r;
truncated:
	free(t);
	report(c, "ERROR snapshot table at %#llx runs past the end of the file",
	       (unsigned long long)off);
	c->res->corruptions++;
	return 0;
}

/* Counts the refcount structure's own clusters. */
static int walk_refcounts(struct chk *c, uint8_t *rt, uint64_t entries)
{
	add_ref(c, c->h.reftable_offset,
		(uint64_t)c->h.reftable_clusters << c->cb, "refcount table");
	for (uint64_t i = 0; i < entries; i++) {
		uint64_t rb = get_be64(rt + i * 8) & QCOW2_OFFSET_MASK;

		if (rb && aligned(c, rb, "refcount block"))
			add_ref(c, rb, c->cluster, "refcount block");
	}
	return 0;
}

/* Compares every refcount on disk with the count; repairs per fix. */
static int compare(struct chk *c, uint8_t *rt, uint64_t entries, int fix)
{
	uint64_t per_rb = 1ull << c->rb_bits;
	unsigned order = c->h.refcount_order;
	uint64_t max = qcow2_rc_max(order);
	uint64_t limit = c->nclusters + QCOW2_RESERVE_MAX;
	int fix_all = fix, r = 0;

	for (uint64_t t = 0; !r && t < entries; t++) {
		uint64_t rb = get_be64(rt + t * 8) & QCOW2_OFFSET_MASK;
		bool dirty = false;

		fix = fix_all;
		if (rb && (rb & (c->cluster - 1) || rb >= c->file_size))
			rb = 0; /* reported by walk_refcounts / add_ref */
		/* Only the clusters of the file, and past its end those a
		 * writer may have reserved (block/qcow2.h), need a look: a
		 * table can cover far more. No block: every count is 0. */
		if (t * per_rb >= limit)
			break;
		if (!rb && t * per_rb >= c->nclusters)
			continue;
		/* A block that is also other metadata (counted more than
		 * once) is not repaired: the write would go over that. */
		if (rb && c->ref[rb >> c->cb] > 1)
			fix = 0;
		if (rb)
			r = read_at(c, rb, c->buf, c->cluster);
		else
			memset(c->buf, 0, c->cluster);
		for (uint64_t i = 0; !r && i < per_rb; i++) {
			if (t * per_rb + i >= (rb ? limit : c->nclusters))
				break;
			uint64_t cl = t * per_rb + i;
			uint64_t want = cl < c->nclusters ? c->ref[cl] : 0;
			uint64_t disk = qcow2_rc_get(c->buf, i, order);

			/* qemu-img's image end: past the last cluster of the
			 * file in use or counted. */
			if ((disk || want) && cl < c->nclusters)
				c->res->image_end = (cl + 1) * c->cluster;
			if (disk == want)
				continue;
			if (want > max) {
				report(c,
				       "ERROR cluster %llu: %llu references "
				       "overflow the refcount width",
				       (unsigned long long)cl,
				       (unsigned long long)want);
				c->res->corruptions++;
				continue;
			}
			/* A leak (more on disk than counted) or an error
			 * (fewer), repaired when asked and the block is ours. */
			bool leak = disk > want;
			bool repair = rb && (fix & (leak ? QCOW2_FIX_LEAKS
							 : QCOW2_FIX_ERRORS));

			report(c,
			       "%s cluster %llu refcount=%llu reference=%llu",
			       repair ? "Repairing"
			       : leak ? "Leaked"
				      : "ERROR",
			       (unsigned long long)cl, (unsigned long long)disk,
			       (unsigned long long)want);
			if (repair) {
				qcow2_rc_set(c->buf, i, order, want);
				dirty = true;
			}
			if (leak && repair)
				c->res->leaks_fixed++;
			else if (leak)
				c->res->leaks++;
			else if (repair)
				c->res->corruptions_fixed++;
			else
				c->res->corruptions++;
		}
		if (!r && dirty)
			r = write_at(c, rb, c->buf, c->cluster);
	}
	/* Referenced clusters that no refcount block covers. */
	for (uint64_t cl = entries * per_rb; cl < c->nclusters; cl++)
		if (c->ref[cl]) {
			c->res->image_end = (cl + 1) * c->cluster;
			report(c,
			       "ERROR cluster %llu refcount=0 reference=%u "
			       "(no refcount block covers it)",
			       (unsigned long long)cl, c->ref[cl]);
			c->res->corruptions++;
		}
	return r;
}

/* The refcount on disk now (after repairs); *trusted false when its
 * block is also other metadata (its "refcounts" are not refcounts). */
static int disk_rc(struct chk *c, uint64_t cl, uint64_t *rc, bool *trusted)
{
	uint64_t t = cl >> c->rb_bits, off;
	int r;

	*rc = 0;
	*trusted = true;
	if (t >= c->rt_entries)
		return 0;
	off = get_be64(c->rt + t * 8) & QCOW2_OFFSET_MASK;
	if (!off || off & (c->cluster - 1) || off >= c->file_size)
		return 0;
	*trusted = c->ref[off >> c->cb] <= 1;
	if (off != c->rb_off) {
		r = read_at(c, off, c->rb, c->cluster);
		if (r)
			return r;
		c->rb_off = off;
	}
	*rc = qcow2_rc_get(c->rb, cl & ((1ull << c->rb_bits) - 1),
			   c->h.refcount_order);
	return 0;
}

/* An entry's COPIED bit must say whether its cluster's refcount is 1;
 * with fix, a wrong one is set right (in *e). */
static int copied_ok(struct chk *c, uint64_t *e, const char *what,
		     const char *where, int fix, bool *changed)
{
	uint64_t off = *e & QCOW2_OFFSET_MASK, rc;
	bool copied = *e & QCOW2_COPIED, trusted;
	int r;

	if (!off || off & (c->cluster - 1))
		return 0;
	r = disk_rc(c, off >> c->cb, &rc, &trusted);
	if (r || copied == (rc == 1))
		return r;
	if ((fix & QCOW2_FIX_ERRORS) && trusted) {
		report(c, "Repairing OFLAG_COPIED %s: %s%llx refcount=%llu",
		       what, where, (unsigned long long)*e,
		       (unsigned long long)rc);
		*e = rc == 1 ? *e | QCOW2_COPIED : *e & ~QCOW2_COPIED;
		*changed = true;
		c->res->corruptions_fixed++;
	} else {
		report(c, "ERROR OFLAG_COPIED %s: %s%llx refcount=%llu", what,
		       where, (unsigned long long)*e, (unsigned long long)rc);
		c->res->corruptions++;
	}
	return 0;
}

/* The active tables' COPIED bits against the refcounts on disk. */
static int check_copied(struct chk *c, int fix)
{
	uint64_t bytes = (uint64_t)c->h.l1_size * 8;
	bool l1_changed = false;
	uint8_t *l1;
	int r;

	if (!bytes || c->h.l1_offset & (c->cluster - 1))
		return 0;
	if (posix_memalign((void **)&l1, ALIGN, align_up(bytes, ALIGN)))
		return -ENOMEM;
	r = read_at(c, c->h.l1_offset, l1, bytes);
	for (uint64_t i = 0; !r && i < c->h.l1_size; i++) {
		uint64_t e = get_be64(l1 + i * 8), l2 = e & QCOW2_OFFSET_MASK;
		bool changed = false;
		char where[48];

		if (!l2 || l2 & (c->cluster - 1) || l2 >= c->file_size)
			continue;
		snprintf(where, sizeof(where),
			 "l1_index=%llu l1_entry=", (unsigned long long)i);
		r = copied_ok(c, &e, "L2 cluster", where, fix, &l1_changed);
		put_be64(l1 + i * 8, e);
		if (!r)
			r = read_at(c, l2, c->buf, c->cluster);
		for (uint64_t j = 0; !r && j < c->cluster / 8; j++) {
			uint64_t d = get_be64(c->buf + j * 8);

			if (d & QCOW2_COMPRESSED)
				continue;
			r = copied_ok(c, &d, "data cluster", "l2_entry=", fix,
				      &changed);
			put_be64(c->buf + j * 8, d);
		}
		if (!r && changed)
			r = write_at(c, l2, c->buf, c->cluster);
	}
	if (!r && l1_changed)
		r = write_at(c, c->h.l1_offset, l1, bytes);
	free(l1);
	return r;
}

static int load_header(struct chk *c, char *why, size_t why_len)
{
	uint8_t *buf;
	struct stat st;
	size_t len;
	int r;

	if (fstat(c->fd, &st))
		return -errno;
	c->file_size = (uint64_t)st.st_size;
	len = c->file_size < (2u << 20) ? (size_t)c->file_size : (2u << 20);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	r = read_at(c, 0, buf, len);
	if (!r)
		r = qcow2_header_parse(buf, len, c->file_size, &c->h, why,
				       why_len);
	free(buf);
	return r;
}

int qcow2_check(int fd, int fix, FILE *out, struct qcow2_check_result *res,
		char *why, size_t why_len)
{
	struct chk c = { .fd = fd, .out = out, .res = res };
	uint64_t entries;
	uint8_t *rt = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	r = load_header(&c, why, why_len);
	if (r)
		return r;
	c.cb = c.h.cluster_bits;
	c.cluster = 1ull << c.cb;
	c.rb_bits = c.cb + 3 - c.h.refcount_order;
	c.nclusters = (c.file_size + c.cluster - 1) / c.cluster;
	if (c.nclusters > MAX_CLUSTERS) {
		snprintf(why, why_len, "too many clusters to check (%llu)",
			 (unsigned long long)c.nclusters);
		return -EFBIG;
	}
	entries = ((uint64_t)c.h.reftable_clusters << c.cb) / 8;
	c.ref = calloc(c.nclusters ? c.nclusters : 1, sizeof(*c.ref));
	if (!c.ref || posix_memalign((void **)&c.buf, ALIGN, c.cluster) ||
	    posix_memalign((void **)&rt, ALIGN, entries * 8)) {
		r = -ENOMEM;
		goto out;
	}
	r = read_at(&c, c.h.reftable_offset, rt, entries * 8);
	add_ref(&c, 0, c.cluster, "header");
	if (!r)
		r = walk_l1(&c, c.h.l1_offset, c.h.l1_size, true);
	if (!r)
		r = walk_snapshots(&c);
	if (!r)
		r = walk_refcounts(&c, rt, entries);
	if (!r)
		r = compare(&c, rt, entries, fix);
	c.rt = rt;
	c.rt_entries = entries;
	c.rb_off = 0;
	if (!r && posix_memalign((void **)&c.rb, ALIGN, c.cluster))
		r = -ENOMEM;
	if (!r)
		r = check_copied(&c, fix);
	/* Repaired: the dirty bit (lazy refcounts) has done its job. */
	if (!r && (fix & QCOW2_FIX_ERRORS) && !res->corruptions &&
	    (c.h.incompatible & QCOW2_INCOMPAT_DIRTY)) {
		uint8_t be[8];

		put_be64(be, c.h.incompatible & ~QCOW2_INCOMPAT_DIRTY);
		r = write_at(&c, 72, be, sizeof(be));
		if (!r)
			report(&c, "Cleared the dirty bit");
	}
	res->total = qcow2_l1_entries(c.h.size, c.cb)
			     ? c.h.size / c.cluster + !!(c.h.size % c.cluster)
			     : 0;
	if (r)
		snprintf(why, why_len, "%s", strerror(-r));
out:
	free(rt);
	free(c.rb);
	free(c.buf);
	free(c.ref);
	return r;
}
