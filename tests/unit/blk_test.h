/* What the block-layer unit tests share (test_qcow2.c, test_qed.c,
 * test_qcow2_hostile.c, test_qed_hostile.c, test_format_overlap.c):
 * shell commands and whole-range file reads and writes to make and
 * check images with qemu-img, one request at a time through the block
 * layer, and writer threads. All on the test's thread but
 * blk_test_pump and blk_test_writer_thread, each run on a writer thread
 * with a blk_ctx of its own. Test-only; header-only (static inline: a
 * test uses what it needs). */
#ifndef TESTS_UNIT_BLK_TEST_H
#define TESTS_UNIT_BLK_TEST_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"

#define BLK_TEST_PENDING 1 /* a request's result before it completes */
#define BLK_TEST_QD 8	   /* a writer's requests in flight */

/* --- Files and commands --- */

/* system() of a printf-formatted command, which must exit 0. */
static inline void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* len bytes at off of the file at path, all of them. */
static inline void read_file(const char *path, void *buf, size_t len,
			     uint64_t off)
{
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static inline void write_file(const char *path, const void *buf, size_t len,
			      uint64_t off)
{
	int fd = open(path, O_WRONLY);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static inline uint64_t file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* a[0..n) in a random order (rand()). */
static inline void blk_test_shuffle(unsigned *a, unsigned n)
{
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)rand() % (i + 1), t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

/* After close: qemu-img check (of format fmt) finds no error and no
 * leak (status 0), and qemu-img reads the size bytes of shadow from img
 * (converted to raw, a scratch file). */
static inline void blk_test_qemu_agrees(const char *img, const char *fmt,
					const char *raw, const uint8_t *shadow,
					size_t size)
{
	uint8_t *qemu = malloc(size);

	sh("qemu-img check -q -f %s %s", fmt, img);
	sh("qemu-img convert -f %s -O raw %s %s", fmt, img, raw);
	read_file(raw, qemu, size, 0);
	cr_assert_eq(memcmp(qemu, shadow, size), 0,
		     "qemu-img reads other data");
	free(qemu);
}

/* --- The block layer, one request at a time --- */

/* Opens n on path as format fmt, read-only when ro, with cache= when
 * cache is set: blk_open's result, and in why (why_len bytes, when
 * given) the reason it gave. */
static inline int blk_test_open(struct blk_node *n, const char *path,
				const char *fmt, bool ro, const char *cache,
				char *why, size_t why_len)
{
	struct blk_opts o = { 0 };
	int r;

	blk_opts_add(&o, "path", path);
	blk_opts_add(&o, "format", fmt);
	if (ro)
		blk_opts_add(&o, "readonly", "on");
	if (cache)
		blk_opts_add(&o, "cache", cache);
	r = blk_open(n, &o);
	if (why)
		snprintf(why, why_len, "%s", o.why);
	return r;
}

/* A request's complete: its result into the int opaque points at. */
static inline void blk_test_done(struct blk_req *req, int result)
{
	*(int *)req->opaque = result;
}

/* One request of op at off on ctx, reaped until it completes; buf (len
 * bytes) its one iovec for a read or write, none for other ops. With
 * must_submit blk_submit must take it, else its error is returned;
 * then the request's result. *at (when given): the offset the request
 * carried when it completed. */
static inline int blk_test_run(struct blk_node *n, struct blk_ctx *ctx,
			       enum blk_op op, uint64_t off, void *buf,
			       uint64_t len, uint64_t *at, bool must_submit)
{
	struct iovec v = { buf, len };
	bool data = op == BLK_OP_READ || op == BLK_OP_WRITE;
	int result = BLK_TEST_PENDING, r;
	struct blk_req req = { .op = op,
			       .offset = off,
			       .len = len,
			       .iov = data ? &v : NULL,
			       .iovcnt = data ? 1 : 0,
			       .complete = blk_test_done,
			       .opaque = &result };

	r = blk_submit(n, ctx, &req);
	if (must_submit)
		cr_assert_eq(r, 0);
	if (r)
		return r;
	while (result == BLK_TEST_PENDING)
		blk_ctx_reap(ctx, true);
	if (at)
		*at = req.offset;
	return result;
}

/* blk_submit must take it: the request's result. */
static inline int blk_test_req(struct blk_node *n, struct blk_ctx *ctx,
			       enum blk_op op, uint64_t off, void *buf,
			       uint64_t len, uint64_t *at)
{
	return blk_test_run(n, ctx, op, off, buf, len, at, true);
}

/* blk_submit's error, or the request's result. */
static inline int blk_test_try(struct blk_node *n, struct blk_ctx *ctx,
			       enum blk_op op, uint64_t off, void *buf,
			       uint64_t len)
{
	return blk_test_run(n, ctx, op, off, buf, len, NULL, false);
}

/* blk_test_try on a ctx of its own. */
static inline int blk_test_io(struct blk_node *n, enum blk_op op, uint64_t off,
			      void *buf, uint64_t len)
{
	struct blk_ctx ctx;
	int r;

	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	r = blk_test_try(n, &ctx, op, off, buf, len);
	blk_ctx_destroy(&ctx);
	return r;
}

/* The whole disk (size bytes) in one read, on a ctx of its own. */
static inline void blk_test_read_all(struct blk_node *n, uint8_t *out,
				     uint64_t size)
{
	struct blk_ctx ctx;

	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	cr_assert_eq(blk_test_req(n, &ctx, BLK_OP_READ, 0, out, size, NULL), 0);
	blk_ctx_destroy(&ctx);
}

/* --- Writer threads --- */

/* A writer thread's loop: a blk_ctx of its own whose completions signal
 * an eventfd. Each round fill(arg, ctx) submits what it can, the ctx is
 * kicked, the eventfd waited for (10 ms at most) and completions
 * reaped; until fill returns false (nothing in flight, nothing left). */
static inline void blk_test_pump(bool (*fill)(void *arg, struct blk_ctx *ctx),
				 void *arg)
{
	struct blk_ctx ctx;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	bool more;

	cr_assert_eq(blk_ctx_init(&ctx, 64), 0);
	cr_assert_eq(blk_ctx_set_event_fd(&ctx, efd), 0);
	do {
		more = fill(arg, &ctx);
		blk_ctx_kick(&ctx);
		struct pollfd p = { .fd = efd, .events = POLLIN };
		uint64_t v;
		poll(&p, 1, 10);
		(void)!read(efd, &v, sizeof(v)); /* empty is fine */
		blk_ctx_reap(&ctx, false);
	} while (more);
	blk_ctx_destroy(&ctx);
	close(efd);
}

/* Sectors of 512 bytes written BLK_TEST_QD at a time. */
struct blk_test_writer {
	struct blk_node *node;
	const uint8_t *shadow; /* sector s's bytes at shadow + s * 512 */
	unsigned *order, n;    /* its sectors, in random order */
	uint64_t *offs;	       /* or, when set, these offsets */
	uint8_t *pats;	       /* written with these bytes */
	uint8_t (*buf)[512];   /* one buffer per slot */
	struct blk_req req[BLK_TEST_QD];
	struct iovec iov[BLK_TEST_QD];
	bool busy[BLK_TEST_QD];
	unsigned next; /* order's or offs' next to write */
	int errors;
};

static inline void blk_test_writer_done(struct blk_req *req, int result)
{
	struct blk_test_writer *w = req->opaque;

	w->busy[req - w->req] = false;
	if (result)
		w->errors++;
}

static inline bool blk_test_writer_fill(void *arg, struct blk_ctx *ctx)
{
	struct blk_test_writer *w = arg;
	unsigned busy = 0;

	for (unsigned i = 0; i < BLK_TEST_QD; i++) {
		if (!w->busy[i] && w->next < w->n) {
			unsigned s = w->order ? w->order[w->next] : 0;
			uint64_t off =
				w->offs ? w->offs[w->next] : (uint64_t)s * 512;

			if (w->offs)
				memset(w->buf[i], w->pats[w->next], 512);
			else
				memcpy(w->buf[i], w->shadow + s * 512, 512);
			w->next++;
			w->iov[i] = (struct iovec){ w->buf[i], 512 };
			w->req[i] = (struct blk_req){
				.op = BLK_OP_WRITE,
				.offset = off,
				.len = 512,
				.iov = &w->iov[i],
				.iovcnt = 1,
				.complete = blk_test_writer_done,
				.opaque = w,
			};
			w->busy[i] = true;
			cr_assert_eq(blk_submit(w->node, ctx, &w->req[i]), 0);
		}
		busy += w->busy[i];
	}
	return busy || w->next < w->n;
}

static inline void *blk_test_writer_thread(void *arg)
{
	blk_test_pump(blk_test_writer_fill, arg);
	return NULL;
}

/* Two writers over the disk (sectors of 512 bytes) whose contents are
 * in shadow: first a random half of its sectors (rand() seeded with
 * seed) gets new bytes in shadow; then w[0] writes the even sectors and
 * w[1] the odd ones, each in a random order, so that every cluster is
 * allocated by both at once. */
static inline void blk_test_two_writers(struct blk_test_writer *w,
					struct blk_node *n, uint8_t *shadow,
					unsigned sectors, unsigned seed)
{
	srand(seed);
	for (unsigned s = 0; s < sectors; s++)
		if (rand() & 1)
			memset(shadow + s * 512, (int)(s * 7 + 1), 512);
	for (unsigned t = 0; t < 2; t++) {
		w[t].node = n;
		w[t].shadow = shadow;
		w[t].order = calloc(sectors, sizeof(unsigned));
		w[t].buf = aligned_alloc(4096, BLK_TEST_QD * 512);
		for (unsigned s = t; s < sectors; s += 2)
			w[t].order[w[t].n++] = s;
		blk_test_shuffle(w[t].order, w[t].n);
	}
}

static inline void blk_test_writers_free(struct blk_test_writer *w, unsigned n)
{
	for (unsigned t = 0; t < n; t++) {
		free(w[t].order);
		free(w[t].buf);
	}
}

/* Runs n writers, a thread each, to the end: none may see an error. */
static inline void blk_test_writers_run(struct blk_test_writer *w, unsigned n)
{
	pthread_t th[n];
	int errors = 0;

	for (unsigned t = 0; t < n; t++)
		cr_assert_eq(pthread_create(&th[t], NULL,
					    blk_test_writer_thread, &w[t]),
			     0);
	for (unsigned t = 0; t < n; t++)
		pthread_join(th[t], NULL);
	for (unsigned t = 0; t < n; t++)
		errors += w[t].errors;
	cr_assert_eq(errors, 0);
}

#endif
