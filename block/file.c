/* The file protocol: a host regular file or block device, byte for byte,
 * through the ctx's io_uring on its registered (fixed) file. Submission
 * and completion run on the thread that owns the blk_ctx; open and close
 * on the main thread. The node is read-only while requests run. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "lib/open_input.h"

enum { ZEROES_BY_ZERO_RANGE, ZEROES_BY_PUNCH_HOLE };

/* Per-request state. */
struct file_req {
	int index;	/* the file's fixed index on this ctx */
	uint8_t zeroes; /* which fallocate mode write-zeroes tries */
};

static void prep_zeroes(struct io_uring_sqe *sqe, struct blk_req *req,
			const struct file_req *st)
{
	int mode = st->zeroes == ZEROES_BY_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE
						      : FALLOC_FL_PUNCH_HOLE;

	io_uring_prep_fallocate(sqe, st->index, mode | FALLOC_FL_KEEP_SIZE,
				req->offset, req->len);
}

static int prep(struct blk_node *node, struct blk_ctx *ctx, struct blk_req *req)
{
	struct io_uring_sqe *sqe = blk_ctx_sqe(ctx, node, req);
	struct file_req *st = req->state;

	if (!sqe)
		return -EAGAIN;
	switch (req->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, st->index, req->iov, req->iovcnt,
				    req->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, st->index, req->iov, req->iovcnt,
				     req->offset);
		break;
	case BLK_OP_FLUSH:
		/* Drained: it starts only after every earlier submission on
		 * this ring has completed, so it covers them all. */
		io_uring_prep_fsync(sqe, st->index, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
		break;
	case BLK_OP_DISCARD:
		io_uring_prep_fallocate(sqe, st->index,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					req->offset, req->len);
		break;
	case BLK_OP_WRITE_ZEROES: prep_zeroes(sqe, req, st); break;
	case BLK_OP_PREALLOCATE:
		io_uring_prep_fallocate(sqe, st->index, 0, req->offset,
					req->len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	return 0;
}

static int file_submit(struct blk_node *node, struct blk_ctx *ctx,
		       struct blk_req *req)
{
	struct file_req *st = req->state;
	int index = blk_ctx_file(ctx, node);

	if (index < 0)
		return index; /* not attached: a driver bug */
	st->index = index;
	st->zeroes = ZEROES_BY_ZERO_RANGE;
	return prep(node, ctx, req);
}

/* Drops `done` bytes from the front of the request's iovecs. */
static void advance(struct blk_req *req, uint64_t done)
{
	req->offset += done;
	req->len -= done;
	while (done) {
		uint64_t take =
			done < req->iov->iov_len ? done : req->iov->iov_len;
		req->iov->iov_base = (uint8_t *)req->iov->iov_base + take;
		req->iov->iov_len -= take;
		done -= take;
		if (!req->iov->iov_len) {
			req->iov++;
			req->iovcnt--;
		}
	}
}

static void resubmit(struct blk_node *node, struct blk_ctx *ctx,
		     struct blk_req *req)
{
	int r = prep(node, ctx, req);

	if (r)
		blk_req_done(ctx, req, r);
}

static void file_cqe(struct blk_node *node, struct blk_ctx *ctx,
		     struct blk_req *req, int res)
{
	bool rw = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;
	struct file_req *st = req->state;

	if (res == -EINTR || res == -EAGAIN) {
		resubmit(node, ctx, req);
	} else if (res == -EOPNOTSUPP && req->op == BLK_OP_WRITE_ZEROES &&
		   st->zeroes == ZEROES_BY_ZERO_RANGE) {
		/* tmpfs and some block devices only punch holes, which read
		 * back as zeroes just the same. */
		st->zeroes = ZEROES_BY_PUNCH_HOLE;
		resubmit(node, ctx, req);
	} else if (res < 0) {
		blk_req_done(ctx, req, res);
	} else if (rw && (uint64_t)res < req->len) {
		/* A read that returns 0 inside the node's size means the file
		 * shrank under us; a write that makes no progress is stuck.
		 * An image format's file (growable) is read past its end
		 * when an aligned read covers its last, unaligned bytes (a
		 * compressed cluster at the end): that reads as zeroes. */
		if (!res && req->op == BLK_OP_READ && node->growable) {
			for (unsigned i = 0; i < req->iovcnt; i++)
				memset(req->iov[i].iov_base, 0,
				       req->iov[i].iov_len);
			blk_req_done(ctx, req, 0);
			return;
		}
		if (!res) {
			blk_req_done(ctx, req, -EIO);
			return;
		}
		advance(req, (uint64_t)res);
		resubmit(node, ctx, req);
	} else {
		blk_req_done(ctx, req, 0);
	}
}

static void file_close(struct blk_node *node)
{
	if (node->fd >= 0)
		close(node->fd);
	node->fd = -1;
}

static int size_of(int fd, const struct stat *st, uint64_t *size,
		   uint32_t *block)
{
	int lbs = 512;

	*block = 512;
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (!S_ISBLK(st->st_mode))
		return -EINVAL;
	if (ioctl(fd, BLKGETSIZE64, size) < 0)
		return -errno;
	if (ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs >= 512)
		*block = (uint32_t)lbs;
	return 0;
}

/* cache=none (O_DIRECT) or writeback (the page cache, the default). */
static int opt_direct(struct blk_opts *o, bool *direct)
{
	const char *v = blk_opt(o, "cache", NULL);

	*direct = v && !strcmp(v, "none");
	if (v && !*direct && strcmp(v, "writeback"))
		return blk_open_fail(o, -EINVAL,
				     "cache must be none or writeback");
	return 0;
}

static int open_fd(struct blk_opts *o, const char *path, bool ro, bool direct)
{
	int fd = open_input(path,
			    (ro ? O_RDONLY : O_RDWR) | (direct ? O_DIRECT : 0));

	if (fd == -EINVAL && direct)
		return blk_open_fail(o, -EINVAL,
				     "the file system does not "
				     "support O_DIRECT (cache=none); use "
				     "cache=writeback");
	if (fd < 0)
		return blk_open_fail(o, fd, "%s", strerror(-fd));
	return fd;
}

static int file_open(struct blk_node *node, struct blk_opts *o)
{
	const char *path = blk_opt(o, "path", NULL);
	bool ro, direct;
	struct stat st;
	int r;

	if (!path || !*path)
		return blk_open_fail(o, -EINVAL, "no path");
	if ((r = blk_opt_bool(o, "readonly", false, &ro)) ||
	    (r = opt_direct(o, &direct)))
		return r;
	node->fd = open_fd(o, path, ro, direct);
	if (node->fd < 0)
		return node->fd;
	if (fstat(node->fd, &st) < 0)
		return blk_open_fail(o, -errno, "%s", strerror(errno));
	r = size_of(node->fd, &st, &node->size, &node->block_size);
	if (r)
		return blk_open_fail(
			o, r, "%s",
			r == -EINVAL ? "not a regular file or block device"
				     : strerror(-r));
	node->readonly = ro;
	node->can_discard = !ro;
	return 0;
}

const struct blk_driver blk_file_driver = {
	.name = "file",
	.kind = BLK_DRV_PROTOCOL,
	.req_state_size = sizeof(struct file_req),
	.sqe_ops = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
		     IORING_OP_FALLOCATE },
	.nsqe_ops = 4,
	.sqe_flags = IOSQE_IO_DRAIN,
	.open = file_open,
	.submit = file_submit,
	.cqe = file_cqe,
	.close = file_close,
};
