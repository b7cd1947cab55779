/* Tlcreate, Tmkdir, Tsymlink, Tmknod. Each creates one checked name in the
 * directory of a fid's fd (never a path), opens what it made with
 * O_NOFOLLOW, and gives it the guest's owner and mode under the security
 * model; when that fails the new entry is removed again. Any worker
 * thread; the directory fid is used through a snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

#define MAPPED_FILE_MODE 0600
#define MAPPED_DIR_MODE 0700

struct create {
	struct fid_snap dir;
	char name[NAME_MAX + 1];
	struct create_cred c;
	struct p9_qid qid;
};

/* Parses dfid and name (the op parses the rest before create_snap). */
static int create_parse(struct req *r, struct create *k, uint32_t *dfid)
{
	int err;

	if ((err = p9_get32(&r->in, dfid)) ||
	    (err = p9_get_str(&r->in, k->name, sizeof(k->name))))
		return err;
	return 0;
}

/* Checks the name, snapshots the directory fid, checks readonly. */
static int create_snap(struct req *r, struct create *k, uint32_t dfid)
{
	int err;

	if ((err = name_check_entry(k->name)))
		return err;
	if ((err = fid_snap(&r->s->fids, dfid, &k->dir)))
		return err;
	if (r->ex->readonly)
		err = -EROFS;
	else if (k->dir.kind != FID_PATH && k->dir.kind != FID_OPEN)
		err = -EINVAL;
	if (err)
		fid_snap_release(&k->dir);
	return err;
}

/* Gives the new entry (fd: O_PATH or open) its owner and mode, and reads
 * its qid; on failure removes it. */
static int create_finish(struct req *r, struct create *k, struct fs9p_node *n)
{
	int err;

	if (r->ex->security == FS9P_MAPPED)
		err = mapped_finish_create(n, &k->c);
	else
		err = pt_finish_create(n->fd, &k->c, r->ex->chown_best_effort);
	if (!err)
		err = attr_qid(r->ex, n, &k->qid);
	if (err)
		unlinkat(k->dir.node->fd, k->name,
			 S_ISDIR(k->c.mode) ? AT_REMOVEDIR : 0);
	return err;
}

/* Opens what was just made as O_PATH and finishes it. */
static int create_open_finish(struct req *r, struct create *k, int extra)
{
	struct fs9p_node *n;
	int fd = openat(k->dir.node->fd, k->name,
			O_PATH | O_NOFOLLOW | O_CLOEXEC | extra);
	int err;

	if (fd < 0) {
		err = -errno;
		unlinkat(k->dir.node->fd, k->name,
			 S_ISDIR(k->c.mode) ? AT_REMOVEDIR : 0);
		return err;
	}
	if (!(n = node_new(fd, true))) {
		close(fd);
		return -ENOMEM;
	}
	err = create_finish(r, k, n);
	node_put(n);
	if (!err)
		p9_put_qid(&r->out, &k->qid);
	return err;
}

int op_mkdir(struct req *r)
{
	struct create k;
	uint32_t dfid, mode, gid;
	int err;

	if ((err = create_parse(r, &k, &dfid)) ||
	    (err = p9_get32(&r->in, &mode)) || (err = p9_get32(&r->in, &gid)) ||
	    (err = create_snap(r, &k, dfid)))
		return err;
	k.c = (struct create_cred){ k.dir.uid, gid, S_IFDIR | (mode & 07777),
				    0 };
	if (mkdirat(k.dir.node->fd, k.name,
		    r->ex->security == FS9P_MAPPED ? MAPPED_DIR_MODE
						   : mode & 07777)) {
		err = -errno;
		goto out;
	}
	err = create_open_finish(r, &k, O_DIRECTORY);
out:
	fid_snap_release(&k.dir);
	return err;
}

/* Mapped symlinks are regular files holding the target. */
static int symlink_mapped(struct req *r, struct create *k, const char *target)
{
	size_t len = strlen(target);
	int fd = openat(k->dir.node->fd, k->name,
			O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			MAPPED_FILE_MODE);
	ssize_t w;

	if (fd < 0)
		return -errno;
	w = write(fd, target, len);
	close(fd);
	if (w != (ssize_t)len) {
		unlinkat(k->dir.node->fd, k->name, 0);
		return w < 0 ? -errno : -EIO;
	}
	(void)r;
	return 0;
}

int op_symlink(struct req *r)
{
	char target[PATH_MAX];
	struct create k;
	uint32_t dfid, gid;
	int err;

	if ((err = create_parse(r, &k, &dfid)) ||
	    (err = p9_get_str(&r->in, target, sizeof(target))) ||
	    (err = p9_get32(&r->in, &gid)) || (err = create_snap(r, &k, dfid)))
		return err;
	k.c = (struct create_cred){ k.dir.uid, gid, S_IFLNK | 0777, 0 };
	if (r->ex->security == FS9P_MAPPED)
		err = symlink_mapped(r, &k, target);
	else if (symlinkat(target, k.dir.node->fd, k.name))
		err = -errno;
	if (!err)
		err = create_open_finish(r, &k, 0);
	fid_snap_release(&k.dir);
	return err;
}

int op_mknod(struct req *r)
{
	uint32_t dfid, mode, major, minor, gid;
	struct create k;
	int err;

	if ((err = create_parse(r, &k, &dfid)) ||
	    (err = p9_get32(&r->in, &mode)) ||
	    (err = p9_get32(&r->in, &major)) ||
	    (err = p9_get32(&r->in, &minor)) ||
	    (err = p9_get32(&r->in, &gid)) || (err = create_snap(r, &k, dfid)))
		return err;
	err = -EINVAL;
	if (!S_ISCHR(mode) && !S_ISBLK(mode) && !S_ISFIFO(mode) &&
	    !S_ISSOCK(mode) && !S_ISREG(mode))
		goto out;
	k.c = (struct create_cred){ k.dir.uid, gid,
				    (mode & S_IFMT) | (mode & 07777),
				    makedev(major, minor) };
	/* Mapped: an empty regular file; the type is in the mode xattr. */
	if (r->ex->security == FS9P_MAPPED
		    ? mknodat(k.dir.node->fd, k.name,
			      S_IFREG | MAPPED_FILE_MODE, 0)
		    : mknodat(k.dir.node->fd, k.name, k.c.mode, k.c.rdev)) {
		err = -errno;
		goto out;
	}
	err = create_open_finish(r, &k, 0);
out:
	fid_snap_release(&k.dir);
	return err;
}

/* Tlcreate flags: the access mode and the flags lopen keeps; the file is
 * always made new (O_EXCL: the client asks only after a failed lookup,
 * and an existing FIFO or device is never opened). */
static int lcreate_flags(uint32_t p9)
{
	int f = (p9 & 3) == 1 ? O_WRONLY : (p9 & 3) == 2 ? O_RDWR : O_RDONLY;

	if (p9 & P9_DOTL_APPEND)
		f |= O_APPEND;
	if (p9 & P9_DOTL_DSYNC)
		f |= O_DSYNC;
	if (p9 & P9_DOTL_SYNC)
		f |= O_SYNC;
	return f | O_LARGEFILE;
}

/* The fid (the directory) becomes the open new file. */
static int lcreate_commit(struct create *k, struct fs9p_node *n, int flags)
{
	struct fs9p_fid *f = k->dir.fid;
	int err;

	pthread_mutex_lock(&f->lock);
	err = fid_set_path(f, n, k->dir.node, k->name);
	if (!err) {
		f->kind = FID_OPEN;
		f->oflags = flags;
		fid_path_set(f, relpath_join(f->path, k->name));
	}
	pthread_mutex_unlock(&f->lock);
	return err;
}

int op_lcreate(struct req *r)
{
	uint32_t dfid, p9flags, mode, gid;
	struct fs9p_node *n;
	struct create k;
	int err, fd, flags;

	if ((err = create_parse(r, &k, &dfid)) ||
	    (err = p9_get32(&r->in, &p9flags)) ||
	    (err = p9_get32(&r->in, &mode)) || (err = p9_get32(&r->in, &gid)) ||
	    (err = create_snap(r, &k, dfid)))
		return err;
	flags = lcreate_flags(p9flags);
	k.c = (struct create_cred){ k.dir.uid, gid, S_IFREG | (mode & 07777),
				    0 };
	fd = openat(k.dir.node->fd, k.name,
		    flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    r->ex->security == FS9P_MAPPED ? MAPPED_FILE_MODE
						   : mode & 07777);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (!(n = node_new(fd, false))) {
		close(fd);
		unlinkat(k.dir.node->fd, k.name, 0);
		err = -ENOMEM;
		goto out;
	}
	err = create_finish(r, &k, n);
	if (!err)
		err = lcreate_commit(&k, n, flags);
	node_put(n);
	if (!err) {
		p9_put_qid(&r->out, &k.qid);
		p9_put32(&r->out, 0);
	}
out:
	fid_snap_release(&k.dir);
	return err;
}
