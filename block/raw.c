/* Submission and completion run on the thread that owns the blk_ctx;
 * open and close on the main thread. The node's state is read-only while
 * requests run. */
#include "raw.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

struct raw {
	int fd;
};

enum { ZEROES_BY_ZERO_RANGE, ZEROES_BY_PUNCH_HOLE };

static int raw_fd(const struct blk_node *node)
{
	return ((const struct raw *)node->priv)->fd;
}

static int prep(struct blk_node *node, struct blk_ctx *ctx,
		struct blk_req *req)
{
	struct io_uring_sqe *sqe = blk_ctx_sqe(ctx, req);
	int fd = raw_fd(node);
	int mode;

	if (!sqe)
		return -EAGAIN;
	switch (req->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, fd, req->iov, req->iovcnt, req->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, fd, req->iov, req->iovcnt, req->offset);
		break;
	case BLK_OP_FLUSH:
		/* Drained: it starts only after every earlier submission on
		 * this ring has completed, so it covers them all. */
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
		break;
	case BLK_OP_DISCARD:
		io_uring_prep_fallocate(sqe, fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					req->offset, req->len);
		break;
	case BLK_OP_WRITE_ZEROES:
		mode = req->drv_state == ZEROES_BY_ZERO_RANGE ?
			       FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE :
			       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, fd, mode, req->offset, req->len);
		break;
	}
	return 0;
}

static int raw_submit(struct blk_node *node, struct blk_ctx *ctx,
		      struct blk_req *req)
{
	req->drv_state = ZEROES_BY_ZERO_RANGE;
	return prep(node, ctx, req);
}

/* Drops `done` bytes from the front of the request's iovecs. */
static void advance(struct blk_req *req, uint64_t done)
{
	req->offset += done;
	req->len -= done;
	while (done) {
		uint64_t take = done < req->iov->iov_len ? done : req->iov->iov_len;
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

static void raw_cqe(struct blk_node *node, struct blk_ctx *ctx,
		    struct blk_req *req, int res)
{
	bool rw = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;

	if (res == -EINTR || res == -EAGAIN) {
		resubmit(node, ctx, req);
	} else if (res == -EOPNOTSUPP && req->op == BLK_OP_WRITE_ZEROES &&
		   req->drv_state == ZEROES_BY_ZERO_RANGE) {
		/* tmpfs and some block devices only punch holes, which read
		 * back as zeroes just the same. */
		req->drv_state = ZEROES_BY_PUNCH_HOLE;
		resubmit(node, ctx, req);
	} else if (res < 0) {
		blk_req_done(ctx, req, res);
	} else if (rw && (uint64_t)res < req->len) {
		/* A read that returns 0 inside the node's size means the file
		 * shrank under us; a write that makes no progress is stuck. */
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

static void raw_close(struct blk_node *node)
{
	struct raw *raw = node->priv;

	close(raw->fd);
	free(raw);
	node->priv = NULL;
}

static const struct blk_driver raw_driver = {
	.name = "raw",
	.submit = raw_submit,
	.cqe = raw_cqe,
	.close = raw_close,
};

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

int raw_open(struct blk_node *node, const char *path,
	     const struct raw_opts *opts)
{
	int flags = (opts->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    (opts->direct ? O_DIRECT : 0);
	struct raw *raw = calloc(1, sizeof(*raw));
	struct stat st;
	int r = 0;

	memset(node, 0, sizeof(*node));
	if (!raw)
		return -ENOMEM;
	raw->fd = open(path, flags);
	if (raw->fd < 0 && errno == EINVAL && opts->direct) {
		log_error("disk %s: the file system does not support O_DIRECT "
			  "(cache=none); use cache=writeback", path);
		free(raw);
		return -EINVAL;
	}
	if (raw->fd < 0 || fstat(raw->fd, &st) < 0)
		r = -errno;
	else
		r = size_of(raw->fd, &st, &node->size, &node->block_size);
	if (r) {
		log_error("disk %s: %s", path,
			  r == -EINVAL ? "not a regular file or block device" :
					 strerror(-r));
		if (raw->fd >= 0)
			close(raw->fd);
		free(raw);
		return r;
	}
	node->drv = &raw_driver;
	node->priv = raw;
	node->readonly = opts->readonly;
	node->can_discard = !opts->readonly;
	return 0;
}
