/* Tremove, Tunlinkat, Trename, Trenameat. Names are single checked
 * components under directory fids' fds. Tremove and Trename name the
 * object by a fid, so they use the parent and name it was walked by,
 * after checking that name still holds the fid's own inode (another fid
 * may have renamed it meanwhile). Any worker thread; fids through
 * snapshots. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

/* 0 when name in dirfd is the inode behind fd (sets *isdir), else -errno
 * (-ENOENT when the name now holds something else). */
static int same_entry(int dirfd, const char *name, int fd, bool *isdir)
{
	struct stat a, b;

	if (fstatat(dirfd, name, &a, AT_SYMLINK_NOFOLLOW) || fstat(fd, &b))
		return -errno;
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return -ENOENT;
	*isdir = S_ISDIR(a.st_mode);
	return 0;
}

/* The fid's parent and name, usable to unlink or rename it. */
static int fid_entry(struct req *r, const struct fid_snap *sn, bool *isdir)
{
	int err;

	if (sn->kind == FID_XATTR_READ || sn->kind == FID_XATTR_WRITE)
		return -EINVAL;
	if (!sn->parent || !sn->name[0]) {
		err = fd_is_root(r->ex, sn->node->fd);
		/* The root cannot go; a fid reached by ".." has no name. */
		return err < 0 ? err : err ? -EBUSY : -EINVAL;
	}
	return same_entry(sn->parent->fd, sn->name, sn->node->fd, isdir);
}

/* Tremove clunks the fid whether or not the removal works. */
int op_remove(struct req *r)
{
	struct fs9p_fid *f;
	struct fid_snap sn;
	bool isdir = false;
	uint32_t fid;
	int err;

	if ((err = p9_get32(&r->in, &fid)))
		return err;
	err = fid_snap(&r->s->fids, fid, &sn);
	if (err != -EBADF && (f = fid_remove(&r->s->fids, fid)))
		fid_put(f); /* a stale fid too: Tremove always clunks */
	if (err)
		return err;
	if (r->ex->readonly)
		err = -EROFS;
	else if (!(err = fid_entry(r, &sn, &isdir)) &&
		 unlinkat(sn.parent->fd, sn.name, isdir ? AT_REMOVEDIR : 0))
		err = -errno;
	fid_snap_release(&sn);
	return err;
}

int op_unlinkat(struct req *r)
{
	char name[NAME_MAX + 1];
	struct fid_snap sn;
	uint32_t dfid, flags;
	int err;

	if ((err = p9_get32(&r->in, &dfid)) ||
	    (err = p9_get_str(&r->in, name, sizeof(name))) ||
	    (err = p9_get32(&r->in, &flags)))
		return err;
	if ((err = name_check_entry(name)))
		return err;
	if (flags & ~P9_AT_REMOVEDIR)
		return -EINVAL;
	if ((err = fid_snap(&r->s->fids, dfid, &sn)))
		return err;
	if (r->ex->readonly)
		err = -EROFS;
	else if (sn.kind != FID_PATH && sn.kind != FID_OPEN)
		err = -EINVAL;
	else if (unlinkat(sn.node->fd, name,
			  flags & P9_AT_REMOVEDIR ? AT_REMOVEDIR : 0))
		err = -errno;
	fid_snap_release(&sn);
	return err;
}

static int dir_fid_ok(const struct fid_snap *sn)
{
	return sn->kind == FID_PATH || sn->kind == FID_OPEN ? 0 : -EINVAL;
}

/* After a rename the fid's name is the new one under the new parent, and
 * every fid at or beneath the old path (this one too) is at the new one. */
static void rename_update(struct req *r, struct fid_snap *sn,
			  struct fid_snap *dn, const char *name)
{
	char *from = fid_path_dup(sn->fid), *dir = fid_path_dup(dn->fid);
	char *to = relpath_join(dir, name);

	fid_table_rename(&r->s->fids, from, to);
	pthread_mutex_lock(&sn->fid->lock);
	fid_set_path(sn->fid, sn->fid->node, dn->node, name);
	fid_path_set(sn->fid, to);
	pthread_mutex_unlock(&sn->fid->lock);
	free(dir);
	free(from);
}

/* Trenameat names the entry by a directory fid and a name. */
static void renameat_update(struct req *r, struct fid_snap *on,
			    const char *oname, struct fid_snap *nn,
			    const char *nname)
{
	char *odir = fid_path_dup(on->fid), *ndir = fid_path_dup(nn->fid);
	char *from = relpath_join(odir, oname), *to = relpath_join(ndir, nname);

	fid_table_rename(&r->s->fids, from, to);
	free(to);
	free(from);
	free(ndir);
	free(odir);
}

int op_rename(struct req *r)
{
	struct fid_snap sn, dn;
	char name[NAME_MAX + 1];
	uint32_t fid, dfid;
	bool isdir;
	int err;

	if ((err = p9_get32(&r->in, &fid)) || (err = p9_get32(&r->in, &dfid)) ||
	    (err = p9_get_str(&r->in, name, sizeof(name))))
		return err;
	if ((err = name_check_entry(name)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if ((err = fid_snap(&r->s->fids, dfid, &dn))) {
		fid_snap_release(&sn);
		return err;
	}
	if (r->ex->readonly)
		err = -EROFS;
	else if (!(err = dir_fid_ok(&dn)) &&
		 !(err = fid_entry(r, &sn, &isdir)) &&
		 renameat(sn.parent->fd, sn.name, dn.node->fd, name))
		err = -errno;
	if (!err)
		rename_update(r, &sn, &dn, name);
	fid_snap_release(&dn);
	fid_snap_release(&sn);
	return err;
}

int op_renameat(struct req *r)
{
	char oname[NAME_MAX + 1], nname[NAME_MAX + 1];
	uint32_t ofid, nfid;
	struct fid_snap on, nn;
	int err;

	if ((err = p9_get32(&r->in, &ofid)) ||
	    (err = p9_get_str(&r->in, oname, sizeof(oname))) ||
	    (err = p9_get32(&r->in, &nfid)) ||
	    (err = p9_get_str(&r->in, nname, sizeof(nname))))
		return err;
	if ((err = name_check_entry(oname)) || (err = name_check_entry(nname)))
		return err;
	if ((err = fid_snap(&r->s->fids, ofid, &on)))
		return err;
	if ((err = fid_snap(&r->s->fids, nfid, &nn))) {
		fid_snap_release(&on);
		return err;
	}
	if (r->ex->readonly)
		err = -EROFS;
	else if (!(err = dir_fid_ok(&on)) && !(err = dir_fid_ok(&nn)) &&
		 renameat(on.node->fd, oname, nn.node->fd, nname))
		err = -errno;
	if (!err)
		renameat_update(r, &on, oname, &nn, nname);
	fid_snap_release(&nn);
	fid_snap_release(&on);
	return err;
}
