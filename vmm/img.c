/* `vmm img` (vmm/img.h): the command line, and create, info, check and
 * convert; compare, map, resize and convert -c are in vmm/img_*.c
 * (vmm/img_priv.h). Runs on the main thread only: the block layer's
 * requests on one blk_ctx of its own, reaped here; no shared state.
 * Errors name the file and what is wrong, one line; exit statuses as
 * qemu-img's (1 for a failure, compare and check have their own). */
#include "img.h"
#include "img_bench.h"
#include "img_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "block/qcow2_check.h"
#include "block/qcow2_create.h"
#include "block/qcow2_format.h"
#include "block/qed_format.h"
#include "lib/bytes.h"
#include "lib/log.h"
#include "lib/parse.h"

#define CHUNK (1u << 20)
#define DEPTH 8

/* --- Running requests on the main thread --- */

static void io_done(struct blk_req *req, int result)
{
	struct img_io *io = req->opaque;

	io->result = result;
	io->busy = false;
}

int img_start(struct blk_ctx *ctx, struct blk_node *node, struct img_io *io,
	      enum blk_op op, uint64_t off, uint64_t len)
{
	io->iov = (struct iovec){ io->buf, len };
	io->req = (struct blk_req){ .op = op,
				    .offset = off,
				    .len = len,
				    .iov = &io->iov,
				    .iovcnt = 1,
				    .complete = io_done,
				    .opaque = io };
	io->busy = true;
	io->result = 0;
	int r = blk_submit(node, ctx, &io->req);
	if (r)
		io->busy = false;
	return r;
}

int img_wait(struct blk_ctx *ctx, struct img_io *io)
{
	while (io->busy)
		blk_ctx_reap(ctx, true);
	return io->result;
}

/* --- Formats --- */

const char *img_probe(const char *path)
{
	uint8_t magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, magic, 4) : -1;

	if (fd >= 0)
		close(fd);
	if (n == 4 && !memcmp(magic, "QED", 4))
		return "qed";
	return n == 4 && get_be32(magic) == QCOW2_MAGIC ? "qcow2" : "raw";
}

int img_open(struct blk_node *node, const char *path, const char *fmt,
	     bool writable)
{
	struct blk_opts o = { 0 };

	if (!fmt)
		fmt = img_probe(path);
	blk_opts_add(&o, "path", path);
	blk_opts_add(&o, "format", fmt);
	if (!writable)
		blk_opts_add(&o, "readonly", "on");
	return blk_open(node, &o) ? -1 : 0;
}

/* preallocation=off|metadata|falloc|full, as qemu-img names them. */
static int parse_prealloc(const char *v, enum qcow2_prealloc *out)
{
	static const char *const names[] = { "off", "metadata", "falloc",
					     "full" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(v, names[i])) {
			*out = (enum qcow2_prealloc)i;
			return 0;
		}
	log_error("img: preallocation must be off, metadata, falloc or full");
	return -EINVAL;
}

/* -o key=value,...: cluster_size, lazy_refcounts, compat, refcount_bits,
 * preallocation. */
static int parse_create_options(const char *options,
				struct qcow2_create_opts *c)
{
	char *copy = strdup(options ? options : ""), *save = NULL, *kv;
	int r = 0;

	for (kv = strtok_r(copy, ",", &save); kv && !r;
	     kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		uint64_t n;

		if (!v) {
			log_error("img: option '%s' needs a value", kv);
			r = -EINVAL;
			break;
		}
		*v++ = 0;
		if (!strcmp(kv, "cluster_size")) {
			if (parse_size(v, 1, &n) || n < 512 || n > (2u << 20) ||
			    (n & (n - 1))) {
				log_error("img: cluster_size must be a power "
					  "of two from 512 to 2M");
				r = -EINVAL;
			}
			c->cluster_bits = (unsigned)__builtin_ctzll(n);
		} else if (!strcmp(kv, "lazy_refcounts")) {
			c->lazy_refcounts = !strcmp(v, "on");
		} else if (!strcmp(kv, "compat")) {
			if (!strcmp(v, "0.10") || !strcmp(v, "v2"))
				c->version = 2;
			else if (!strcmp(v, "1.1") || !strcmp(v, "v3"))
				c->version = 3;
			else {
				log_error("img: compat must be 0.10 or 1.1");
				r = -EINVAL;
			}
		} else if (!strcmp(kv, "refcount_bits")) {
			if (parse_uint(v, 1, 64, &n) || (n & (n - 1))) {
				log_error("img: refcount_bits must be a power "
					  "of two from 1 to 64");
				r = -EINVAL;
			}
			c->refcount_order = (unsigned)__builtin_ctzll(n);
		} else if (!strcmp(kv, "preallocation")) {
			r = parse_prealloc(v, &c->prealloc);
		} else {
			log_error("img: unknown option '%s'", kv);
			r = -EINVAL;
		}
	}
	free(copy);
	return r;
}

/* QED -o: cluster_size=SIZE, table_size=N (qemu-img's defaults). */
static int parse_qed_options(const char *options, uint64_t *cs, uint64_t *ts)
{
	char *copy = strdup(options ? options : ""), *save = NULL, *kv, *v;
	int r = 0;

	for (kv = strtok_r(copy, ",", &save); kv && !r;
	     kv = strtok_r(NULL, ",", &save)) {
		if ((v = strchr(kv, '=')))
			*v++ = 0;
		if (v && !strcmp(kv, "cluster_size"))
			r = parse_size(v, 1, cs) || *cs > UINT32_MAX ? -EINVAL
								     : 0;
		else if (v && !strcmp(kv, "table_size"))
			r = parse_uint(v, 1, 16, ts);
		else
			r = -EINVAL;
		if (r)
			log_error("img: bad QED option '%s' (cluster_size, "
				  "table_size)",
				  kv);
	}
	free(copy);
	return r;
}

static int backing_size(const char *path, const char *backing, const char *fmt,
			uint64_t *size)
{
	struct blk_node b;
	char full[4096];

	if (backing[0] == '/')
		snprintf(full, sizeof(full), "%s", backing);
	else {
		const char *slash = strrchr(path, '/');
		int dir = slash ? (int)(slash - path) : 1;

		snprintf(full, sizeof(full), "%.*s/%s", dir, slash ? path : ".",
			 backing);
	}
	if (img_open(&b, full, fmt, false))
		return -1;
	*size = b.size;
	blk_close(&b);
	return 0;
}

/* A raw image of size bytes: a hole, fallocated, or written zeroes. */
static int create_raw(int fd, uint64_t size, enum qcow2_prealloc p)
{
	static const uint8_t zero[65536];

	if (p == QCOW2_PREALLOC_FALLOC && size &&
	    fallocate(fd, 0, 0, (off_t)size))
		return -errno;
	for (uint64_t at = 0; p == QCOW2_PREALLOC_FULL && at < size;) {
		size_t n = size - at < sizeof(zero) ? size - at : sizeof(zero);
		ssize_t w = pwrite(fd, zero, n, (off_t)at);

		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		at += (uint64_t)w;
	}
	return ftruncate(fd, (off_t)size) ? -errno : 0;
}

int img_create(const char *path, struct img_create_args *a)
{
	struct qcow2_create_opts c = { .version = 3,
				       .cluster_bits = 16,
				       .refcount_order = 4 };
	uint64_t qed_cs = 65536, qed_ts = 4;
	char why[160];
	int fd, r;

	if (!a->have_size && a->backing &&
	    backing_size(path, a->backing, a->backing_fmt, &a->size))
		return 1;
	if (!a->have_size && !a->backing) {
		log_error("img create: no size given");
		return 1;
	}
	if (strcmp(a->fmt, "raw") && strcmp(a->fmt, "qcow2") &&
	    strcmp(a->fmt, "qed")) {
		log_error("img create: unknown format '%s' (raw, qcow2, qed)",
			  a->fmt);
		return 1;
	}
	if (!strcmp(a->fmt, "raw") && a->backing) {
		log_error("img create: raw images take no backing file");
		return 1;
	}
	if (!strcmp(a->fmt, "raw") && a->options &&
	    (strncmp(a->options, "preallocation=", 14) ||
	     strchr(a->options, ',') ||
	     parse_prealloc(a->options + 14, &c.prealloc))) {
		if (strncmp(a->options, "preallocation=", 14) ||
		    strchr(a->options, ','))
			log_error("img create: raw images take only "
				  "preallocation=off|falloc|full");
		return 1;
	}
	if (!strcmp(a->fmt, "raw") && c.prealloc == QCOW2_PREALLOC_METADATA) {
		log_error("img create: raw images have no metadata to "
			  "preallocate");
		return 1;
	}
	if (!strcmp(a->fmt, "qcow2") && parse_create_options(a->options, &c))
		return 1;
	if (!strcmp(a->fmt, "qed") &&
	    parse_qed_options(a->options, &qed_cs, &qed_ts))
		return 1;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("img create: %s: %s", path, strerror(errno));
		return 1;
	}
	if (!strcmp(a->fmt, "raw")) {
		r = create_raw(fd, a->size, c.prealloc);
		snprintf(why, sizeof(why), "%s", strerror(-r));
	} else if (!strcmp(a->fmt, "qed")) {
		r = qed_create(fd, a->size, (uint32_t)qed_cs, (uint32_t)qed_ts,
			       a->backing, a->backing_fmt, why, sizeof(why));
	} else {
		c.size = a->size;
		c.backing = a->backing;
		c.backing_format = a->backing_fmt;
		r = qcow2_create(fd, &c, why, sizeof(why));
	}
	close(fd);
	if (r) {
		log_error("img create: %s: %s", path, why);
		return 1;
	}
	return 0;
}

/* --- info --- */

/* The internal snapshots, read from the table (at most 64 MiB of it);
 * an entry that runs past the file ends the list. */
static void load_snapshots(const char *path, const struct qcow2_header *h,
			   struct qcow2_snapshot **out, unsigned *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0, pos = 0;
	ssize_t got;

	*out = NULL;
	*n = 0;
	if (fd < 0 || !h->nb_snapshots || fstat(fd, &st) ||
	    h->snapshots_offset >= (uint64_t)st.st_size)
		goto out;
	len = (uint64_t)st.st_size - h->snapshots_offset;
	len = len < (64u << 20) ? len : (64u << 20);
	buf = malloc(len);
	*out = calloc(h->nb_snapshots < 65536 ? h->nb_snapshots : 65536,
		      sizeof(**out));
	if (!buf || !*out)
		goto out;
	got = pread(fd, buf, len, (off_t)h->snapshots_offset);
	if (got < 0)
		goto out;
	while (*n < h->nb_snapshots && *n < 65536 &&
	       !qcow2_snapshot_parse(buf, (size_t)got, &pos, &(*out)[*n]))
		(*n)++;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
}

/* A size as qemu-img prints one: "0 B", "512 B", "1.5 MiB". */
static void size_str(uint64_t v, char *out, size_t len)
{
	static const char *const units[] = { "B",   "KiB", "MiB",
					     "GiB", "TiB", "PiB" };
	double d = (double)v;
	unsigned u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	snprintf(out, len, "%0.3g %s", d, units[u]);
}

/* As qemu-img info lists them. */
static void print_snapshots(const struct qcow2_snapshot *s, unsigned n)
{
	if (!n)
		return;
	printf("Snapshot list:\nID        TAG               VM SIZE"
	       "                DATE     VM CLOCK     ICOUNT\n");
	for (unsigned i = 0; i < n; i++) {
		time_t t = s[i].date_sec;
		struct tm tm;
		char date[32], size[32];
		uint64_t ms = s[i].vm_clock_nsec / 1000000;

		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		size_str(s[i].vm_state_size, size, sizeof(size));
		printf("%-9s %-17s %7s %19s %02llu:%02llu:%02llu.%03llu %10s\n",
		       s[i].id, s[i].name, size, date,
		       (unsigned long long)(ms / 3600000),
		       (unsigned long long)(ms / 60000 % 60),
		       (unsigned long long)(ms / 1000 % 60),
		       (unsigned long long)(ms % 1000), "0");
	}
}

static void print_snapshots_json(const struct qcow2_snapshot *s, unsigned n)
{
	if (!n)
		return;
	printf("    \"snapshots\": [\n");
	for (unsigned i = 0; i < n; i++)
		printf("        {\n            \"icount\": 0,\n"
		       "            \"vm-clock-nsec\": %llu,\n"
		       "            \"name\": \"%s\",\n"
		       "            \"date-sec\": %u,\n"
		       "            \"date-nsec\": %u,\n"
		       "            \"vm-clock-sec\": %llu,\n"
		       "            \"id\": \"%s\",\n"
		       "            \"vm-state-size\": %u\n        }%s\n",
		       (unsigned long long)(s[i].vm_clock_nsec % 1000000000),
		       s[i].name, s[i].date_sec, s[i].date_nsec,
		       (unsigned long long)(s[i].vm_clock_nsec / 1000000000),
		       s[i].id, s[i].vm_state_size, i + 1 < n ? "," : "");
	printf("    ],\n");
}

static int info(const char *path, const char *fmt, bool json)
{
	struct qcow2_snapshot *snaps = NULL;
	unsigned nsnaps = 0;
	struct blk_node node;
	struct qcow2_header h = { 0 };
	struct stat st;
	bool is_qcow2;
	char why[160];

	if (img_open(&node, path, fmt, false))
		return 1;
	if (!fmt)
		fmt = img_probe(path);
	is_qcow2 = !strcmp(fmt, "qcow2");
	if (is_qcow2) {
		uint8_t *buf = malloc(2u << 20);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 && buf ? pread(fd, buf, 2u << 20, 0) : -1;

		if (fd >= 0)
			fstat(fd, &st);
		if (n < 0 ||
		    qcow2_header_parse(buf, (size_t)n, (uint64_t)st.st_size, &h,
				       why, sizeof(why)))
			is_qcow2 = false;
		if (fd >= 0)
			close(fd);
		free(buf);
	}
	stat(path, &st);
	if (is_qcow2)
		load_snapshots(path, &h, &snaps, &nsnaps);
	if (json) {
		printf("{\n    \"virtual-size\": %" PRIu64 ",\n"
		       "    \"filename\": \"%s\",\n",
		       node.size, path);
		if (is_qcow2)
			printf("    \"cluster-size\": %llu,\n",
			       1ull << h.cluster_bits);
		printf("    \"format\": \"%s\",\n", fmt);
		if (is_qcow2 && h.backing[0])
			printf("    \"backing-filename\": \"%s\",\n"
			       "    \"backing-filename-format\": \"%s\",\n",
			       h.backing,
			       h.backing_format[0] ? h.backing_format : "");
		if (is_qcow2)
			printf("    \"format-specific\": {\n"
			       "        \"type\": \"qcow2\",\n"
			       "        \"data\": {\n"
			       "            \"compat\": \"%s\",\n"
			       "            \"lazy-refcounts\": %s,\n"
			       "            \"refcount-bits\": %u,\n"
			       "            \"corrupt\": %s\n"
			       "        }\n    },\n",
			       h.version == 2 ? "0.10" : "1.1",
			       h.compatible & QCOW2_COMPAT_LAZY_REFCOUNTS
				       ? "true"
				       : "false",
			       1u << h.refcount_order,
			       h.incompatible & QCOW2_INCOMPAT_CORRUPT
				       ? "true"
				       : "false");
		print_snapshots_json(snaps, nsnaps);
		printf("    \"actual-size\": %llu,\n    \"dirty-flag\": %s\n}\n",
		       (unsigned long long)st.st_blocks * 512,
		       h.incompatible & QCOW2_INCOMPAT_DIRTY ? "true"
							     : "false");
	} else {
		printf("image: %s\nfile format: %s\nvirtual size: %" PRIu64
		       " bytes\ndisk size: %llu bytes\n",
		       path, fmt, node.size,
		       (unsigned long long)st.st_blocks * 512);
		if (is_qcow2) {
			printf("cluster_size: %llu\n", 1ull << h.cluster_bits);
			if (h.backing[0])
				printf("backing file: %s\nbacking file "
				       "format: %s\n",
				       h.backing,
				       h.backing_format[0] ? h.backing_format
							   : "(probed)");
			print_snapshots(snaps, nsnaps);
			printf("Format specific information:\n"
			       "    compat: %s\n    lazy refcounts: %s\n"
			       "    refcount bits: %u\n    corrupt: %s\n",
			       h.version == 2 ? "0.10" : "1.1",
			       h.compatible & QCOW2_COMPAT_LAZY_REFCOUNTS
				       ? "true"
				       : "false",
			       1u << h.refcount_order,
			       h.incompatible & QCOW2_INCOMPAT_CORRUPT
				       ? "true"
				       : "false");
		}
	}
	free(snaps);
	blk_close(&node);
	return 0;
}

/* --- convert --- */

bool img_all_zero(const uint8_t *p, size_t n)
{
	return !n || (!p[0] && !memcmp(p, p + 1, n - 1));
}

void img_progress(bool on, uint64_t done, uint64_t total)
{
	if (on)
		fprintf(stderr, "    (%.2f/100%%)\r",
			total ? 100.0 * (double)done / (double)total : 100.0);
}

/* Copies src to dst with DEPTH chunks in flight: each chunk is read,
 * then written unless it is all zeroes (the new image reads zeroes
 * there already). */
static int copy_image(struct blk_ctx *ctx, struct blk_node *src,
		      struct blk_node *dst, const char *dst_path, bool show)
{
	struct img_io io[DEPTH] = { 0 };
	uint64_t next = 0, done = 0;
	int r = 0;

	for (unsigned i = 0; i < DEPTH; i++)
		if (posix_memalign((void **)&io[i].buf, 4096, CHUNK))
			return -ENOMEM;
	/* Rounds: read DEPTH chunks, then write the non-zero ones. */
	while (!r && next < src->size) {
		uint64_t off[DEPTH], len[DEPTH];
		unsigned n = 0;

		for (; n < DEPTH && next < src->size; n++) {
			off[n] = next;
			len[n] = src->size - next < CHUNK ? src->size - next
							  : CHUNK;
			next += len[n];
			r = img_start(ctx, src, &io[n], BLK_OP_READ, off[n],
				      len[n]);
			if (r)
				break;
		}
		for (unsigned i = 0; i < n; i++) {
			int e = img_wait(ctx, &io[i]);

			r = r ? r : e;
		}
		for (unsigned i = 0; i < n && !r; i++)
			if (!img_all_zero(io[i].buf, len[i]))
				r = img_start(ctx, dst, &io[i], BLK_OP_WRITE,
					      off[i], len[i]);
		for (unsigned i = 0; i < n; i++) {
			int e = img_wait(ctx, &io[i]);

			r = r ? r : e;
		}
		done = next;
		img_progress(show, done, src->size);
	}
	if (!r)
		r = img_start(ctx, dst, &io[0], BLK_OP_FLUSH, 0, 0)
			    ?: img_wait(ctx, &io[0]);
	if (show)
		fprintf(stderr, "\n");
	for (unsigned i = 0; i < DEPTH; i++)
		free(io[i].buf);
	if (r)
		log_error("img convert: %s: %s", dst_path, strerror(-r));
	return r;
}

static int convert(const char *src_path, const char *dst_path, const char *fmt,
		   struct img_create_args *out, bool show)
{
	struct blk_node src, dst;
	struct blk_ctx ctx;
	int r;

	if (img_open(&src, src_path, fmt, false))
		return 1;
	out->size = src.size;
	out->have_size = true;
	if (img_create(dst_path, out)) {
		blk_close(&src);
		return 1;
	}
	if (img_open(&dst, dst_path, out->fmt, true)) {
		blk_close(&src);
		return 1;
	}
	r = blk_ctx_init(&ctx, 2 * DEPTH * 4);
	if (r) {
		log_error("img convert: io_uring: %s", strerror(-r));
	} else {
		r = copy_image(&ctx, &src, &dst, dst_path, show);
		blk_ctx_destroy(&ctx);
	}
	blk_close(&dst);
	blk_close(&src);
	return r ? 1 : 0;
}

/* --- check --- */

static void summary(const struct qcow2_check_result *r)
{
	if (!r->corruptions && !r->leaks)
		printf("No errors were found on the image.\n");
	if (r->corruptions)
		printf("\n%llu errors were found on the image.\nData may be "
		       "corrupted, or further writes to the image may corrupt "
		       "it.\n",
		       (unsigned long long)r->corruptions);
	if (r->leaks)
		printf("\n%llu leaked clusters were found on the image.\nThis "
		       "means waste of disk space, but no harm to data.\n",
		       (unsigned long long)r->leaks);
	if (r->total)
		printf("%llu/%llu = %.2f%% allocated, %.2f%% fragmented, %.2f%% "
		       "compressed clusters\n",
		       (unsigned long long)r->allocated,
		       (unsigned long long)r->total,
		       100.0 * (double)r->allocated / (double)r->total,
		       r->allocated ? 100.0 * (double)r->fragmented /
					      (double)r->allocated
				    : 0.0,
		       r->allocated ? 100.0 * (double)r->compressed /
					      (double)r->allocated
				    : 0.0);
	printf("Image end offset: %llu\n", (unsigned long long)r->image_end);
}

/* qemu-img's exit statuses: 0 clean, 2 corruptions, 3 leaks only, 1 the
 * check could not run. */
static int check(const char *path, const char *fmt, const char *repair)
{
	struct qcow2_check_result res;
	int fix = 0, fd, r;
	char why[160];

	if (fmt && strcmp(fmt, "qcow2")) {
		log_error("img check: %s: only qcow2 images can be checked",
			  path);
		return 1;
	}
	if (repair && !strcmp(repair, "leaks"))
		fix = QCOW2_FIX_LEAKS;
	else if (repair && !strcmp(repair, "all"))
		fix = QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS;
	else if (repair) {
		log_error("img check: -r must be leaks or all");
		return 1;
	}
	fd = open(path, (fix ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		log_error("img check: %s: %s", path, strerror(errno));
		return 1;
	}
	r = qcow2_check(fd, fix, stdout, &res, why, sizeof(why));
	if (!r && (res.leaks_fixed || res.corruptions_fixed)) {
		printf("The following inconsistencies were found and "
		       "repaired:\n\n    %llu leaked clusters\n    %llu "
		       "corruptions\n\nDouble checking the fixed image "
		       "now...\n",
		       (unsigned long long)res.leaks_fixed,
		       (unsigned long long)res.corruptions_fixed);
		if (!fsync(fd))
			r = qcow2_check(fd, 0, stdout, &res, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", strerror(errno));
	}
	close(fd);
	if (r) {
		log_error("img check: %s: %s", path, why);
		return 1;
	}
	summary(&res);
	return res.corruptions ? 2 : res.leaks ? 3 : 0;
}

/* --- Command line --- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vmm img create [-f qcow2|qed|raw] [-b BACKING [-F FMT]] "
		"[-o OPTIONS] FILE [SIZE]\n"
		"       vmm img info [-f FMT] [--output=human|json] FILE\n"
		"       vmm img check [-f qcow2] [-r leaks|all] FILE\n"
		"       vmm img convert [-c] [-f FMT] [-O qcow2|qed|raw] "
		"[-o OPTIONS] [-p] SRC DST\n"
		"       vmm img compare [-f FMT] [-F FMT] [-s] [-p] [-q] "
		"FILE1 FILE2\n"
		"       vmm img map [-f FMT] [--output=human|json] FILE\n"
		"       vmm img resize [-f FMT] [--shrink] [-q] FILE "
		"[+|-]SIZE\n"
		"qcow2 OPTIONS: cluster_size=SIZE, compat=0.10|1.1, "
		"lazy_refcounts=on|off, refcount_bits=N,\n"
		"  preallocation=off|metadata|falloc|full (raw: off|falloc|full)\n"
		"qed OPTIONS: cluster_size=SIZE, table_size=N\n"
		"convert -c: compressed clusters (qcow2 output only)\n"
		"compare: exit 0 identical, 1 different, 2 or more an error; "
		"-s: sizes and allocation must match too\n");
}

int img_command(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "output", required_argument, NULL, 'J' },
		{ "shrink", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct img_create_args a = { .fmt = "raw" };
	const char *cmd, *in_fmt = NULL, *repair = NULL, *size = NULL;
	bool json = false, show = false, strict = false, quiet = false;
	bool compress = false, shrink = false;
	int c;

	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "bench"))
		return img_bench(argc - 1, argv + 1);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	argc--;
	argv++;
	/* As qemu-img: resize's size is the last argument, taken before the
	 * options so that "-1G" is not one. */
	if (!strcmp(cmd, "resize") && argc >= 3)
		size = argv[--argc];
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:O:b:F:o:r:pqsch", longs,
				NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(cmd, "create"))
				a.fmt = optarg;
			else
				in_fmt = optarg;
			break;
		case 'O': a.fmt = optarg; break;
		case 'b': a.backing = optarg; break;
		case 'F': a.backing_fmt = optarg; break;
		case 'o': a.options = optarg; break;
		case 'p': show = true; break;
		case 'q': quiet = true; break;
		case 's': strict = true; break;
		case 'c': compress = true; break;
		case 'S': shrink = true; break;
		case 'r': repair = optarg; break;
		case 'J':
			if (strcmp(optarg, "json") && strcmp(optarg, "human")) {
				log_error("img: --output must be human or "
					  "json");
				return 1;
			}
			json = !strcmp(optarg, "json");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (!strcmp(cmd, "create") &&
	    (argc - optind == 1 || argc - optind == 2)) {
		if (argc - optind == 2) {
			if (parse_size(argv[optind + 1], 1, &a.size)) {
				log_error("img create: bad size '%s'",
					  argv[optind + 1]);
				return 1;
			}
			a.have_size = true;
		}
		return img_create(argv[optind], &a) ? 1 : 0;
	}
	if (!strcmp(cmd, "check") && argc - optind == 1)
		return check(argv[optind], in_fmt, repair);
	if (!strcmp(cmd, "info") && argc - optind == 1)
		return info(argv[optind], in_fmt, json);
	if (!strcmp(cmd, "convert") && argc - optind == 2 && compress)
		return img_convert_compressed(argv[optind], in_fmt,
					      argv[optind + 1], &a, show);
	if (!strcmp(cmd, "convert") && argc - optind == 2)
		return convert(argv[optind], argv[optind + 1], in_fmt, &a,
			       show);
	if (!strcmp(cmd, "compare") && argc - optind == 2)
		return img_compare(argv[optind], argv[optind + 1], in_fmt,
				   a.backing_fmt, strict, quiet, show);
	if (!strcmp(cmd, "map") && argc - optind == 1)
		return img_map(argv[optind], in_fmt, json);
	if (!strcmp(cmd, "resize") && size && argc - optind == 1)
		return img_resize(argv[optind], in_fmt, shrink, quiet, size);
	usage(stderr);
	return 1;
}
