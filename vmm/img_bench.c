/* `vmm img bench` (vmm/img_bench.h): qemu-img bench's options, offsets
 * and output on vmm's block layer, so that the two run side by side on
 * the same image: COUNT requests of SIZE bytes, DEPTH in flight, offsets
 * from OFFSET advancing by STEP modulo the image size (as qemu-img 7.2
 * advances them), reads or writes (-w), an optional flush every N
 * requests. Main thread only, one blk_ctx; state on the stack. */
#include "img_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "lib/log.h"
#include "lib/parse.h"

#define MAX_DEPTH 1024

struct bench {
	struct blk_node node;
	struct blk_ctx ctx;
	struct blk_req *req;
	struct iovec *iov;
	uint8_t *buf;
	uint64_t count, size, step, offset, flush_every, pattern;
	unsigned depth, in_flight;
	uint64_t submitted, done;
	bool write, drain, flushing;
	int error;
};

static void done(struct blk_req *req, int result)
{
	struct bench *b = req->opaque;

	b->in_flight--;
	if (req->op == BLK_OP_FLUSH) {
		b->flushing = false;
	} else {
		b->done++;
		req->len = 0; /* the slot is free */
	}
	if (result && !b->error)
		b->error = result;
}

static int submit_one(struct bench *b, unsigned slot)
{
	struct blk_req *r = &b->req[slot];

	b->iov[slot] = (struct iovec){ b->buf, b->size };
	*r = (struct blk_req){ .op = b->write ? BLK_OP_WRITE : BLK_OP_READ,
			       .offset = b->offset,
			       .len = b->size,
			       .iov = &b->iov[slot],
			       .iovcnt = 1,
			       .complete = done,
			       .opaque = b };
	b->offset += b->step;
	b->offset = b->node.size ? b->offset % b->node.size : 0;
	b->in_flight++;
	b->submitted++;
	return blk_submit(&b->node, &b->ctx, r);
}

/* The flush request has its own slot, past the data slots. */
static int submit_flush(struct bench *b)
{
	struct blk_req *r = &b->req[b->depth];

	*r = (struct blk_req){ .op = BLK_OP_FLUSH,
			       .complete = done,
			       .opaque = b };
	b->flushing = true;
	b->in_flight++;
	return blk_submit(&b->node, &b->ctx, r);
}

/* Keeps depth requests in flight; every flush_every completed requests
 * a flush, after the ones in flight have completed (qemu-img's drain)
 * or beside them (--no-drain). */
static int run(struct bench *b)
{
	uint64_t next_flush = b->flush_every;
	int r = 0;

	while (!r && !b->error && (b->done < b->count || b->in_flight)) {
		bool gate;

		if (b->flush_every && !b->flushing && b->done >= next_flush &&
		    (!b->drain || !b->in_flight)) {
			next_flush += b->flush_every;
			r = submit_flush(b);
			continue;
		}
		gate = b->flush_every && b->drain && b->submitted >= next_flush;
		for (unsigned i = 0;
		     !gate && !r && i < b->depth && b->submitted < b->count;
		     i++) {
			if (!b->req[i].len)
				r = submit_one(b, i);
			gate = b->flush_every && b->drain &&
			       b->submitted >= next_flush;
		}
		if (!r)
			blk_ctx_reap(&b->ctx, true);
	}
	return r ? r : b->error;
}

static const char *probe(const char *path)
{
	uint8_t m[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, m, 4) != 4)
			memset(m, 0, 4);
		close(fd);
	}
	if (!memcmp(m, "QFI\xfb", 4))
		return "qcow2";
	if (!memcmp(m, "QED", 4))
		return "qed";
	return "raw";
}

static int usage(void)
{
	fprintf(stderr, "usage: vmm img bench [-c COUNT] [-d DEPTH] [-f FMT] "
			"[--flush-interval=N] [--no-drain] [-o OFFSET] "
			"[--pattern=BYTE] [-s SIZE] "
			"[-S STEP] [-t none|writeback] [-w] FILE\n");
	return 1;
}

int img_bench(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "flush-interval", required_argument, NULL, 'F' },
		{ "no-drain", no_argument, NULL, 'N' },
		{ "pattern", required_argument, NULL, 'P' },
		{ 0 },
	};
	struct bench b = {
		.count = 75000, .size = 4096, .depth = 64, .drain = true
	};
	struct blk_opts o = { 0 };
	const char *fmt = NULL, *cache = "writeback";
	bool step_set = false;
	struct timespec t0, t1;
	uint64_t v;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:f:o:s:S:t:w", longs, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, 1, INT32_MAX, &b.count))
				return log_error("img bench: bad count"), 1;
			break;
		case 'd':
			if (parse_uint(optarg, 1, MAX_DEPTH, &v))
				return log_error("img bench: depth must be 1 "
						 "to %d",
						 MAX_DEPTH),
				       1;
			b.depth = (unsigned)v;
			break;
		case 'f': fmt = optarg; break;
		case 'o':
			if (parse_size(optarg, 1, &b.offset))
				return log_error("img bench: bad offset"), 1;
			break;
		case 's':
			if (parse_size(optarg, 1, &b.size) || !b.size ||
			    b.size > (64u << 20))
				return log_error("img bench: bad size"), 1;
			break;
		case 'S':
			if (parse_size(optarg, 1, &b.step))
				return log_error("img bench: bad step"), 1;
			step_set = true;
			break;
		case 't': cache = optarg; break;
		case 'w': b.write = true; break;
		case 'F':
			if (parse_uint(optarg, 0, INT32_MAX, &b.flush_every))
				return log_error("img bench: bad flush "
						 "interval"),
				       1;
			break;
		case 'N': b.drain = false; break;
		case 'P':
			if (parse_uint(optarg, 0, 255, &b.pattern))
				return log_error("img bench: the pattern must "
						 "be 0 to 255"),
				       1;
			break;
		default: return usage();
		}
	}
	if (argc - optind != 1)
		return usage();
	if (!step_set)
		b.step = b.size;
	blk_opts_add(&o, "path", argv[optind]);
	blk_opts_add(&o, "format", fmt ? fmt : probe(argv[optind]));
	blk_opts_add(&o, "cache", cache);
	if (!b.write)
		blk_opts_add(&o, "readonly", "on");
	if (blk_open(&b.node, &o))
		return 1;
	if (b.offset + b.size > b.node.size) {
		log_error("img bench: %s: %" PRIu64 " bytes at %" PRIu64
			  " run past the image's %" PRIu64,
			  argv[optind], b.size, b.offset, b.node.size);
		blk_close(&b.node);
		return 1;
	}
	b.req = calloc(b.depth + 1, sizeof(*b.req));
	b.iov = calloc(b.depth, sizeof(*b.iov));
	r = !b.req || !b.iov || posix_memalign((void **)&b.buf, 4096, b.size)
		    ? -ENOMEM
		    : blk_ctx_init(&b.ctx, 2 * (b.depth + 1) > 4096
						   ? 4096
						   : 2 * (b.depth + 1));
	if (!r) {
		/* qemu-img bench's buffer: the pattern, 0 unless given. */
		memset(b.buf, (int)b.pattern, b.size);
		printf("Sending %" PRIu64 " %s requests, %" PRIu64
		       " bytes each, %u in parallel (starting at offset "
		       "%" PRIu64 ", step size %" PRIu64 ")\n",
		       b.count, b.write ? "write" : "read", b.size, b.depth,
		       b.offset, b.step);
		fflush(stdout);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = run(&b);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		while (b.in_flight)
			blk_ctx_reap(&b.ctx, true);
		blk_ctx_destroy(&b.ctx);
		if (!r)
			printf("Run completed in %3.3f seconds.\n",
			       (double)(t1.tv_sec - t0.tv_sec) +
				       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	if (r)
		log_error("img bench: %s: %s", argv[optind], strerror(-r));
	free(b.req);
	free(b.iov);
	free(b.buf);
	blk_close(&b.node);
	return r ? 1 : 0;
}
