/* The crash tests' writer and verifier (tests/img/crash), on vmm's block
 * layer. `write` stamps blocks of an image in a seeded random order with
 * 4 requests in flight; every FLUSH_EVERY blocks it waits for the writes
 * in flight, flushes, and prints "flushed N" once the flush completed:
 * the first N blocks of the order are then durable. `verify` reads the
 * first N blocks of the same order back and checks every stamp. An
 * optional last argument is the disk's inject= rules (block/blkdebug.h).
 * One
 * thread; the block layer's requests reaped here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"

#define QD 4

struct io {
	struct blk_req req;
	struct iovec iov;
	uint8_t *buf;
	bool busy;
	int result;
};

static void done(struct blk_req *req, int result)
{
	struct io *io = req->opaque;

	io->busy = false;
	io->result = result;
}

static int submit(struct blk_ctx *ctx, struct blk_node *n, struct io *io,
		  enum blk_op op, uint64_t off, uint64_t len)
{
	io->iov = (struct iovec){ io->buf, len };
	io->req = (struct blk_req){ .op = op,
				    .offset = off,
				    .len = len,
				    .iov = &io->iov,
				    .iovcnt = 1,
				    .complete = done,
				    .opaque = io };
	io->busy = true;
	return blk_submit(n, ctx, &io->req);
}

/* A stamp per 8 bytes: the block's place in the order and the seed. */
static void stamp(uint8_t *buf, uint64_t len, uint64_t i, uint64_t seed)
{
	uint64_t v = i << 32 | (seed & 0xffffffff);

	for (uint64_t o = 0; o < len; o += 8)
		memcpy(buf + o, &v, 8);
}

static uint64_t *order_of(uint64_t nblocks, uint64_t seed)
{
	uint64_t *o = malloc(nblocks * sizeof(*o));

	srand((unsigned)seed);
	for (uint64_t i = 0; i < nblocks; i++)
		o[i] = i;
	for (uint64_t i = nblocks - 1; i > 0; i--) {
		uint64_t j = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) %
			     (i + 1),
			 t = o[i];
		o[i] = o[j];
		o[j] = t;
	}
	return o;
}

static int wait_all(struct blk_ctx *ctx, struct io *io)
{
	int r = 0;

	for (unsigned i = 0; i < QD; i++) {
		while (io[i].busy)
			blk_ctx_reap(ctx, true);
		r = r ? r : io[i].result;
		io[i].result = 0;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct blk_node node;
	struct blk_opts o = { 0 };
	struct blk_ctx ctx;
	struct io io[QD] = { 0 };
	uint64_t seed, count, bs, every, nblocks, *order;
	bool verify;
	int r = 0;

	if ((argc != 8 && argc != 9) ||
	    (strcmp(argv[1], "write") && strcmp(argv[1], "verify"))) {
		fprintf(stderr,
			"usage: %s write|verify IMAGE FORMAT SEED COUNT "
			"BLOCK FLUSH_EVERY [INJECT_RULES]\n",
			argv[0]);
		return 2;
	}
	verify = !strcmp(argv[1], "verify");
	seed = strtoull(argv[4], NULL, 0);
	count = strtoull(argv[5], NULL, 0);
	bs = strtoull(argv[6], NULL, 0);
	every = strtoull(argv[7], NULL, 0);
	blk_opts_add(&o, "path", argv[2]);
	blk_opts_add(&o, "format", argv[3]);
	if (verify)
		blk_opts_add(&o, "readonly", "on");
	if (argc == 9)
		blk_opts_add(&o, "inject", argv[8]);
	if (argc == 9)
		blk_opts_add(&o, "inject", argv[8]);
	if (blk_open(&node, &o) || blk_ctx_init(&ctx, 64))
		return 1;
	nblocks = node.size / bs;
	count = count < nblocks ? count : nblocks;
	order = order_of(nblocks, seed);
	for (unsigned i = 0; i < QD; i++)
		if (posix_memalign((void **)&io[i].buf, 4096, bs))
			return 1;
	for (uint64_t i = 0; i < count && !r; i++) {
		struct io *slot = &io[i % QD];

		while (slot->busy)
			blk_ctx_reap(&ctx, true);
		if ((r = slot->result))
			break;
		if (verify) {
			uint8_t *want = malloc(bs);

			r = submit(&ctx, &node, slot, BLK_OP_READ,
				   order[i] * bs, bs);
			while (!r && slot->busy)
				blk_ctx_reap(&ctx, true);
			r = r ? r : slot->result;
			stamp(want, bs, i, seed);
			if (!r && memcmp(want, slot->buf, bs)) {
				printf("block %" PRIu64 " (write %" PRIu64
				       ") lost\n",
				       order[i], i);
				r = -EIO;
			}
			free(want);
			continue;
		}
		stamp(slot->buf, bs, i, seed);
		r = submit(&ctx, &node, slot, BLK_OP_WRITE, order[i] * bs, bs);
		if (!r && (i + 1) % every == 0) {
			r = wait_all(&ctx, io);
			if (!r)
				r = submit(&ctx, &node, &io[0], BLK_OP_FLUSH, 0,
					   0);
			if (!r)
				r = wait_all(&ctx, io);
			if (!r) {
				printf("flushed %" PRIu64 "\n", i + 1);
				fflush(stdout);
			}
		}
	}
	if (!r)
		r = wait_all(&ctx, io);
	blk_ctx_destroy(&ctx);
	blk_close(&node);
	if (r)
		fprintf(stderr, "writer: %s\n", strerror(-r));
	return r ? 1 : 0;
}
