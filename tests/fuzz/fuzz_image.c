/* Hostile image files through the qcow2 and QED drivers (block/qcow2*.c,
 * block/qed*.c) and the block layer: the input, after a first byte that
 * picks the format and the requests, is written to a file and opened
 * read-write (read-only for odd first bytes); when the open succeeds, a
 * few reads, writes, a discard and a flush run over the whole virtual
 * disk, then the node is closed.
 *
 * Checked for every input: no sanitizer report; the open either
 * succeeds or fails with a negative errno and a reason; every request
 * completes (no hang: the ring is reaped until it does) with 0 or a
 * negative errno; a read-only open leaves the file's bytes unchanged; a
 * request refused for a read-only node is -EROFS; no file descriptor is
 * left open after the close. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"
#include "tests/fuzz/fuzz.h"

#define MAX_REQ (64u << 10)

static char path[64];

static void done(struct blk_req *req, int result)
{
	*(int *)req->opaque = result;
}

/* One request on ctx, reaped until it completes; its result. */
static int one(struct blk_node *n, struct blk_ctx *ctx, enum blk_op op,
	       uint64_t off, uint8_t *buf, uint64_t len)
{
	struct iovec v = { buf, len };
	int result = 1;
	struct blk_req req = { .op = op,
			       .offset = off,
			       .len = len,
			       .iov = buf ? &v : NULL,
			       .iovcnt = buf ? 1 : 0,
			       .complete = done,
			       .opaque = &result };
	int r = blk_submit(n, ctx, &req);

	if (r)
		return r;
	while (result == 1)
		blk_ctx_reap(ctx, true);
	INVARIANT(result <= 0);
	return result;
}

static void requests(struct blk_node *n, uint8_t pick, bool ro)
{
	static uint8_t buf[MAX_REQ] __attribute__((aligned(4096)));
	struct blk_ctx ctx;
	uint64_t size = n->size, step, off;

	INVARIANT(blk_ctx_init(&ctx, 16) == 0);
	/* Reads across the disk: its start, eight spots, its end. */
	step = size / 8 ? size / 8 : 1;
	for (off = 0; off < size; off += step) {
		uint64_t len = size - off < 4096 ? size - off : 4096;

		len &= ~511ull;
		if (len)
			one(n, &ctx, BLK_OP_READ, off, buf, len);
		if (step > size - off)
			break;
	}
	if (size >= 512) {
		uint64_t at = (size / 512 - 1) * 512;
		uint64_t len = pick & 0x10 ? 512 : 4096;
		int r;

		len = len < size - (pick & 0x20 ? at : 0)
			      ? len
			      : (size - (pick & 0x20 ? at : 0)) & ~511ull;
		memset(buf, 0x5a, sizeof(buf));
		r = one(n, &ctx, BLK_OP_WRITE, pick & 0x20 ? at : 0, buf, len);
		INVARIANT(!ro || r == -EROFS);
		r = one(n, &ctx, BLK_OP_WRITE_ZEROES, 0, NULL,
			size < 8192 ? size & ~511ull : 8192);
		INVARIANT(!ro || r == -EROFS);
		if (n->can_discard)
			one(n, &ctx, BLK_OP_DISCARD, 0, NULL,
			    size < 65536 ? size & ~511ull : 65536);
		one(n, &ctx, BLK_OP_READ, 0, buf,
		    size < MAX_REQ ? size & ~511ull : MAX_REQ);
	}
	one(n, &ctx, BLK_OP_FLUSH, 0, NULL, 0);
	blk_ctx_destroy(&ctx);
}

static void write_file(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	INVARIANT(fd >= 0);
	INVARIANT(write(fd, data, size) == (ssize_t)size);
	close(fd);
}

static bool file_is(const uint8_t *data, size_t size)
{
	static uint8_t back[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	INVARIANT(fd >= 0);
	n = read(fd, back, sizeof(back));
	close(fd);
	return n == (ssize_t)size && !memcmp(back, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_opts o = { 0 };
	struct blk_node node;
	bool ro;
	int fds, r;

	if (!size || size > (1u << 20))
		return 0;
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz-image-%d", getpid());
	ro = data[0] & 1;
	write_file(data + 1, size - 1);
	fds = fuzz_count_fds();
	blk_opts_add(&o, "path", path);
	blk_opts_add(&o, "format", data[0] & 2 ? "qed" : "qcow2");
	if (ro)
		blk_opts_add(&o, "readonly", "on");
	memset(&node, 0, sizeof(node));
	r = blk_open(&node, &o);
	if (r) {
		INVARIANT(r < 0 && o.why[0]);
	} else {
		INVARIANT(!ro || node.readonly);
		requests(&node, data[0], node.readonly);
		blk_close(&node);
	}
	INVARIANT(fuzz_count_fds() == fds);
	if (ro)
		INVARIANT(file_is(data + 1, size - 1));
	unlink(path);
	return 0;
}
