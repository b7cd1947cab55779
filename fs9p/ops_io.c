/* Tlopen, Tread, Twrite, Tfsync. Any worker thread. Data moves straight
 * between the file and the request's iovecs (preadv into m->out after the
 * Rread header, pwritev from m->in after the Twrite header); the fid's
 * lock is held only to snapshot or update it, never across I/O. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

/* Tlopen flags to host open flags: the access mode and the flags that mean
 * something for a file the server opens; O_CREAT, O_EXCL, O_NOFOLLOW and
 * the like are dropped (creation is Tlcreate's, and the server reopens
 * the fid's own inode), O_DIRECT is dropped (guest buffers need not meet
 * its alignment), O_NOATIME and O_NONBLOCK are dropped (the former is
 * refused to non-owners, the latter is meaningless for the files allowed
 * here). */
static int lopen_flags(uint32_t p9, int *host)
{
	static const struct {
		uint32_t p9;
		int host;
	} map[] = {
		{ P9_DOTL_TRUNC, O_TRUNC },
		{ P9_DOTL_APPEND, O_APPEND },
		{ P9_DOTL_DSYNC, O_DSYNC },
		{ P9_DOTL_SYNC, O_SYNC },
		{ P9_DOTL_DIRECTORY, O_DIRECTORY },
		{ P9_DOTL_LARGEFILE, O_LARGEFILE },
	};
	int f;

	switch (p9 & P9_DOTL_ACCMODE) {
	case 0: f = O_RDONLY; break;
	case 1: f = O_WRONLY; break;
	case 2: f = O_RDWR; break;
	default: return -EINVAL;
	}
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (p9 & map[i].p9)
			f |= map[i].host;
	*host = f;
	return 0;
}

/* Device nodes, FIFOs and sockets are refused: opening a FIFO blocks the
 * worker, and opening a device node a guest made with Tmknod (say, c 1 1)
 * would give the guest the host's device. */
static int lopen_check(struct fs9p_export *ex, const struct fs9p_node *n,
		       int flags)
{
	struct stat st;
	int err = attr_stat(ex, n, &st);

	if (err)
		return err;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EPERM;
	if (S_ISDIR(st.st_mode) && (flags & O_ACCMODE) != O_RDONLY)
		return -EISDIR;
	if (ex->readonly &&
	    ((flags & O_ACCMODE) != O_RDONLY || flags & O_TRUNC))
		return -EROFS;
	return 0;
}

static int lopen_commit(struct fs9p_fid *f, int fd, int flags)
{
	struct fs9p_node *n = node_new(fd, false);
	int err = 0;

	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&f->lock);
	if (f->kind != FID_PATH) {
		err = -EINVAL;
	} else {
		node_put(f->node);
		f->node = node_get(n);
		f->kind = FID_OPEN;
		f->oflags = flags;
		f->dirpos = 0;
	}
	pthread_mutex_unlock(&f->lock);
	node_put(n);
	return err;
}

int op_lopen(struct req *r)
{
	uint32_t fid, p9flags;
	struct fid_snap sn;
	struct p9_qid q;
	int err, flags, fd;

	if ((err = p9_get32(&r->in, &fid)) ||
	    (err = p9_get32(&r->in, &p9flags)))
		return err;
	if ((err = lopen_flags(p9flags, &flags)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	err = sn.kind == FID_PATH ? 0 : -EINVAL;
	if (!err)
		err = lopen_check(r->ex, sn.node, flags);
	if (!err)
		err = attr_qid(r->ex, sn.node, &q);
	if (!err && (fd = reopen_fd(sn.node->fd, flags)) < 0)
		err = fd;
	if (!err)
		err = lopen_commit(sn.fid, fd, flags);
	fid_snap_release(&sn);
	if (err)
		return err;
	p9_put_qid(&r->out, &q);
	p9_put32(&r->out, 0); /* iounit: the client uses msize - 24 */
	return 0;
}

static int read_file(struct req *r, int fd, uint64_t off, uint32_t count)
{
	struct iovec iov[IOV_MAX];
	size_t room = r->out.cap - P9_READHDRSZ;
	ssize_t got;
	int n;

	if (off > INT64_MAX)
		return -EINVAL;
	if (count > room)
		count = (uint32_t)room;
	n = iov_slice(r->m->out, r->m->nout, P9_READHDRSZ, count, iov, IOV_MAX);
	if (n < 0)
		return n;
	got = n ? preadv(fd, iov, n, (off_t)off) : 0;
	if (got < 0)
		return -errno;
	p9_put32(&r->out, (uint32_t)got);
	r->out.pos += (size_t)got;
	return 0;
}

int op_read(struct req *r)
{
	struct fid_snap sn;
	uint64_t off;
	uint32_t fid, count;
	int err;

	if ((err = p9_get32(&r->in, &fid)) || (err = p9_get64(&r->in, &off)) ||
	    (err = p9_get32(&r->in, &count)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (sn.kind == FID_XATTR_READ)
		err = xattr_fid_read(r, sn.fid, off, count);
	else if (sn.kind != FID_OPEN)
		err = -EBADF;
	else
		err = read_file(r, sn.node->fd, off, count);
	fid_snap_release(&sn);
	return err;
}

static int write_file(struct req *r, const struct fs9p_node *n, uint64_t off,
		      uint32_t count)
{
	struct iovec iov[IOV_MAX];
	ssize_t put;
	int k, err;

	if (off > INT64_MAX)
		return -EINVAL;
	k = iov_slice(r->m->in, r->m->nin, P9_WRITEHDRSZ, count, iov, IOV_MAX);
	if (k < 0)
		return k;
	if ((err = attr_remove_privs(r->ex, n)))
		return err;
	put = k ? pwritev(n->fd, iov, k, (off_t)off) : 0;
	if (put < 0)
		return -errno;
	p9_put32(&r->out, (uint32_t)put);
	return 0;
}

int op_write(struct req *r)
{
	struct fid_snap sn;
	uint64_t off;
	uint32_t fid, count;
	int err;

	if ((err = p9_get32(&r->in, &fid)) || (err = p9_get64(&r->in, &off)) ||
	    (err = p9_get32(&r->in, &count)))
		return err;
	if (count > r->in.len - r->in.pos)
		return -EINVAL; /* count says more than the message holds */
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (sn.kind == FID_XATTR_WRITE)
		err = xattr_fid_write(r, sn.fid, off, count);
	else if (sn.kind != FID_OPEN)
		err = -EBADF;
	else if (r->ex->readonly)
		err = -EROFS;
	else
		err = write_file(r, sn.node, off, count);
	fid_snap_release(&sn);
	return err;
}

int op_fsync(struct req *r)
{
	struct fid_snap sn;
	uint32_t fid, datasync;
	int err;

	if ((err = p9_get32(&r->in, &fid)) ||
	    (err = p9_get32(&r->in, &datasync)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (sn.kind != FID_OPEN)
		err = -EBADF;
	else if (datasync ? fdatasync(sn.node->fd) : fsync(sn.node->fd))
		err = -errno;
	fid_snap_release(&sn);
	return err;
}
