/* Treadlink and Tlink. Any worker thread; fids through snapshots. The
 * server never follows a symlink: readlink returns the text (the client
 * resolves it on its side), and Tlink's source is a fid, an inode already
 * beneath the export, so no link to an outside file can be made. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

/* Mapped symlinks are regular files whose content is the target. */
static ssize_t readlink_mapped(struct fs9p_export *ex,
			       const struct fs9p_node *n, char *buf,
			       size_t size)
{
	struct stat st;
	ssize_t got;
	int fd, err = attr_stat(ex, n, &st);

	if (err)
		return err;
	if (!S_ISLNK(st.st_mode))
		return -EINVAL;
	if ((fd = reopen_fd(n->fd, O_RDONLY)) < 0)
		return fd;
	got = pread(fd, buf, size, 0);
	close(fd);
	return got < 0 ? -errno : got;
}

int op_readlink(struct req *r)
{
	char buf[PATH_MAX];
	struct fid_snap sn;
	uint32_t fid;
	ssize_t len;
	int err;

	if ((err = p9_get32(&r->in, &fid)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (r->ex->security == FS9P_MAPPED)
		len = readlink_mapped(r->ex, sn.node, buf, sizeof(buf));
	else if ((len = readlinkat(sn.node->fd, "", buf, sizeof(buf))) < 0)
		len = -errno;
	fid_snap_release(&sn);
	if (len < 0)
		return (int)len;
	if ((size_t)len >= sizeof(buf))
		return -ENAMETOOLONG;
	p9_put_str(&r->out, buf, (size_t)len);
	return 0;
}

/* linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; without it (mapped
 * model, unprivileged) the fd's /proc magic link names the same inode. */
static int link_fd(const struct fs9p_node *n, int dirfd, const char *name)
{
	char path[32];
	struct stat st;

	if (!linkat(n->fd, "", dirfd, name, AT_EMPTY_PATH))
		return 0;
	if (errno != ENOENT)
		return -errno;
	if (fstat(n->fd, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EPERM; /* following the magic link is not for symlinks */
	fd_proc_path(n->fd, path);
	return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) ? -errno
								      : 0;
}

int op_link(struct req *r)
{
	char name[NAME_MAX + 1];
	struct fid_snap dn, sn;
	uint32_t dfid, fid;
	int err;

	if ((err = p9_get32(&r->in, &dfid)) || (err = p9_get32(&r->in, &fid)) ||
	    (err = p9_get_str(&r->in, name, sizeof(name))))
		return err;
	if ((err = name_check_entry(name)))
		return err;
	if ((err = fid_snap(&r->s->fids, dfid, &dn)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn))) {
		fid_snap_release(&dn);
		return err;
	}
	if (r->ex->readonly)
		err = -EROFS;
	else if (dn.kind != FID_PATH && dn.kind != FID_OPEN)
		err = -EINVAL;
	else
		err = link_fd(sn.node, dn.node->fd, name);
	fid_snap_release(&sn);
	fid_snap_release(&dn);
	return err;
}
