/* Extended attributes of a node whose fd may be O_PATH (the f*xattr calls
 * refuse O_PATH fds). An O_PATH regular file or directory is reached
 * through its /proc/self/fd magic link, which names the fd's own inode;
 * a symlink or special file is refused (following the link would reach
 * the symlink's target, and the server never touches a node's target).
 * Any worker thread; no state. */
#include <errno.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"

/* The /proc path for an O_PATH node after checking its type. */
static int node_xpath(const struct fs9p_node *n, char path[32])
{
	struct stat st;

	if (fstat(n->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EOPNOTSUPP;
	fd_proc_path(n->fd, path);
	return 0;
}

ssize_t fdx_get(const struct fs9p_node *n, const char *name, void *v,
		size_t size)
{
	char path[32];
	ssize_t r;

	if (!n->opath) {
		r = fgetxattr(n->fd, name, v, size);
	} else {
		if ((r = node_xpath(n, path)))
			return r;
		r = getxattr(path, name, v, size);
	}
	return r < 0 ? -errno : r;
}

int fdx_set(const struct fs9p_node *n, const char *name, const void *v,
	    size_t size, int flags)
{
	char path[32];
	int r;

	if (!n->opath) {
		r = fsetxattr(n->fd, name, v, size, flags);
	} else {
		if ((r = node_xpath(n, path)))
			return r;
		r = setxattr(path, name, v, size, flags);
	}
	return r < 0 ? -errno : 0;
}

ssize_t fdx_list(const struct fs9p_node *n, char *list, size_t size)
{
	char path[32];
	ssize_t r;

	if (!n->opath) {
		r = flistxattr(n->fd, list, size);
	} else {
		if ((r = node_xpath(n, path)))
			return r == -EOPNOTSUPP ? 0 : r;
		r = listxattr(path, list, size);
	}
	return r < 0 ? -errno : r;
}

int fdx_remove(const struct fs9p_node *n, const char *name)
{
	char path[32];
	int r;

	if (!n->opath) {
		r = fremovexattr(n->fd, name);
	} else {
		if ((r = node_xpath(n, path)))
			return r;
		r = removexattr(path, name);
	}
	return r < 0 ? -errno : 0;
}
