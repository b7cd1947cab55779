/* File attributes as the client sees them under the export's security
 * model: a host fstat, overlaid with the user.virtfs.* values in the
 * mapped model; chmod and chown go to the host (passthrough) or to those
 * xattrs (mapped). Any worker thread; no state. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"

int attr_stat(struct fs9p_export *ex, const struct fs9p_node *n,
	      struct stat *st)
{
	if (fstat(n->fd, st))
		return -errno;
	if (ex->security == FS9P_MAPPED)
		return mapped_overlay(n, st);
	return 0;
}

int attr_qid(struct fs9p_export *ex, const struct fs9p_node *n,
	     struct p9_qid *q)
{
	struct stat st;
	int r = attr_stat(ex, n, &st);

	return r ? r : qid_from_stat(&ex->qids, &st, q);
}

int attr_chmod(struct fs9p_export *ex, const struct fs9p_node *n, mode_t mode)
{
	char path[32];
	struct stat st;

	if (ex->security == FS9P_MAPPED)
		return mapped_set_mode(n, mode);
	if (!n->opath)
		return fchmod(n->fd, mode & 07777) ? -errno : 0;
	if (fstat(n->fd, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EOPNOTSUPP; /* following the link would chmod its target */
	fd_proc_path(n->fd, path);
	return chmod(path, mode & 07777) ? -errno : 0;
}

int attr_chown(struct fs9p_export *ex, const struct fs9p_node *n, uid_t uid,
	       gid_t gid)
{
	if (ex->security == FS9P_MAPPED)
		return mapped_set_owner(n, uid, gid);
	if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* Clears setuid (and setgid when group-executable) before a write, as a
 * local file system does for a writer without CAP_FSETID: vmm usually
 * runs as root, so the kernel would leave them. */
int attr_remove_privs(struct fs9p_export *ex, const struct fs9p_node *n)
{
	struct stat st;
	mode_t kill = S_ISUID;
	int r = attr_stat(ex, n, &st);

	if (r)
		return r;
	if (st.st_mode & S_IXGRP)
		kill |= S_ISGID;
	if (!(st.st_mode & kill) || !S_ISREG(st.st_mode))
		return 0;
	return attr_chmod(ex, n, st.st_mode & ~kill);
}
