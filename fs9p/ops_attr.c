/* Tgetattr, Tsetattr, Tstatfs. Any worker thread; the fid is used through
 * a snapshot (fid.c), the host calls act on its fd, never on a path. */
#include <errno.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

static void put_getattr(struct p9_out *o, const struct p9_qid *q,
			const struct stat *st)
{
	p9_put64(o, P9_GETATTR_BASIC);
	p9_put_qid(o, q);
	p9_put32(o, st->st_mode);
	p9_put32(o, st->st_uid);
	p9_put32(o, st->st_gid);
	p9_put64(o, st->st_nlink);
	p9_put64(o, st->st_rdev);
	p9_put64(o, (uint64_t)st->st_size);
	p9_put64(o, (uint64_t)st->st_blksize);
	p9_put64(o, (uint64_t)st->st_blocks);
	p9_put64(o, (uint64_t)st->st_atim.tv_sec);
	p9_put64(o, (uint64_t)st->st_atim.tv_nsec);
	p9_put64(o, (uint64_t)st->st_mtim.tv_sec);
	p9_put64(o, (uint64_t)st->st_mtim.tv_nsec);
	p9_put64(o, (uint64_t)st->st_ctim.tv_sec);
	p9_put64(o, (uint64_t)st->st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++)
		p9_put64(o, 0); /* btime sec/nsec, gen, data_version */
}

int op_getattr(struct req *r)
{
	struct fid_snap sn;
	struct p9_qid q;
	struct stat st;
	uint32_t fid;
	uint64_t mask;
	int err;

	if ((err = p9_get32(&r->in, &fid)) || (err = p9_get64(&r->in, &mask)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	err = attr_stat(r->ex, sn.node, &st);
	if (!err)
		err = qid_from_stat(&r->ex->qids, &st, &q);
	if (!err)
		put_getattr(&r->out, &q, &st);
	fid_snap_release(&sn);
	return err;
}

struct setattr {
	uint32_t valid, mode, uid, gid;
	uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

static int setattr_size(const struct fs9p_node *n, uint64_t size)
{
	char path[32];

	if (size > INT64_MAX)
		return -EINVAL;
	if (!n->opath)
		return ftruncate(n->fd, (off_t)size) ? -errno : 0;
	struct stat st;
	if (fstat(n->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	fd_proc_path(n->fd, path);
	return truncate(path, (off_t)size) ? -errno : 0;
}

static struct timespec setattr_time(uint32_t valid, uint32_t bit,
				    uint32_t setbit, uint64_t sec,
				    uint64_t nsec)
{
	if (!(valid & bit))
		return (struct timespec){ 0, UTIME_OMIT };
	if (!(valid & setbit))
		return (struct timespec){ 0, UTIME_NOW };
	return (struct timespec){ (time_t)sec, (long)nsec };
}

static int setattr_times(const struct fs9p_node *n, const struct setattr *a)
{
	struct timespec ts[2];

	ts[0] = setattr_time(a->valid, P9_SETATTR_ATIME, P9_SETATTR_ATIME_SET,
			     a->atime_sec, a->atime_nsec);
	ts[1] = setattr_time(a->valid, P9_SETATTR_MTIME, P9_SETATTR_MTIME_SET,
			     a->mtime_sec, a->mtime_nsec);
	if ((a->valid & P9_SETATTR_ATIME_SET && a->atime_nsec >= 1000000000) ||
	    (a->valid & P9_SETATTR_MTIME_SET && a->mtime_nsec >= 1000000000))
		return -EINVAL;
	if (utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* Owner, then mode (a chown clears setuid), then size, then times (a
 * truncation moves mtime). A lone CTIME asks for a ctime update, which a
 * no-op chown gives. */
static int setattr_apply(struct fs9p_export *ex, const struct fs9p_node *n,
			 const struct setattr *a)
{
	const uint32_t own = P9_SETATTR_UID | P9_SETATTR_GID;
	const uint32_t times = P9_SETATTR_ATIME | P9_SETATTR_MTIME;
	int err = 0;

	if (a->valid & own)
		err = attr_chown(
			ex, n, a->valid & P9_SETATTR_UID ? a->uid : (uid_t)-1,
			a->valid & P9_SETATTR_GID ? a->gid : (gid_t)-1);
	if (!err && a->valid & P9_SETATTR_MODE)
		err = attr_chmod(ex, n, a->mode);
	if (!err && a->valid & P9_SETATTR_SIZE)
		err = setattr_size(n, a->size);
	if (!err && a->valid & times)
		err = setattr_times(n, a);
	if (!err && a->valid == P9_SETATTR_CTIME &&
	    fchownat(n->fd, "", (uid_t)-1, (gid_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = -errno;
	return err;
}

int op_setattr(struct req *r)
{
	struct setattr a;
	struct fid_snap sn;
	uint32_t fid;
	int err;

	if ((err = p9_get32(&r->in, &fid)) ||
	    (err = p9_get32(&r->in, &a.valid)) ||
	    (err = p9_get32(&r->in, &a.mode)) ||
	    (err = p9_get32(&r->in, &a.uid)) ||
	    (err = p9_get32(&r->in, &a.gid)) ||
	    (err = p9_get64(&r->in, &a.size)) ||
	    (err = p9_get64(&r->in, &a.atime_sec)) ||
	    (err = p9_get64(&r->in, &a.atime_nsec)) ||
	    (err = p9_get64(&r->in, &a.mtime_sec)) ||
	    (err = p9_get64(&r->in, &a.mtime_nsec)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (r->ex->readonly)
		err = -EROFS;
	else if (sn.kind != FID_PATH && sn.kind != FID_OPEN)
		err = -EINVAL;
	else
		err = setattr_apply(r->ex, sn.node, &a);
	fid_snap_release(&sn);
	return err;
}

int op_statfs(struct req *r)
{
	struct fid_snap sn;
	struct statfs sf;
	uint32_t fid;
	int err;

	if ((err = p9_get32(&r->in, &fid)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (fstatfs(sn.node->fd, &sf))
		err = -errno;
	fid_snap_release(&sn);
	if (err)
		return err;
	p9_put32(&r->out, (uint32_t)sf.f_type);
	p9_put32(&r->out, (uint32_t)sf.f_bsize);
	p9_put64(&r->out, sf.f_blocks);
	p9_put64(&r->out, sf.f_bfree);
	p9_put64(&r->out, sf.f_bavail);
	p9_put64(&r->out, sf.f_files);
	p9_put64(&r->out, sf.f_ffree);
	p9_put64(&r->out, (uint32_t)sf.f_fsid.__val[0] |
				  (uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32);
	p9_put32(&r->out, (uint32_t)sf.f_namelen);
	return 0;
}
