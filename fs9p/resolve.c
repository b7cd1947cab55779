/* Confined name resolution. Every name a client sends is one component,
 * resolved relative to a directory fd already beneath the export root with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 * never as a path string: a symlink is never followed (a final one is
 * opened as itself, O_PATH | O_NOFOLLOW), and ".." is only taken from a
 * directory that is not the export root (fd_is_root compares st_dev and
 * st_ino), so a walk can never climb out. A client cannot move a
 * directory outside the export (its renames are confined too), so the
 * parent of a directory that is not the root is beneath the root. Any
 * worker thread; no state of its own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* A walk component: not empty, no '/'. ("." and ".." are walkable.) */
int name_check(const char *name)
{
	if (!name[0] || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* A name to create, remove or rename: also not "." or "..". */
int name_check_entry(const char *name)
{
	int r = name_check(name);

	if (r)
		return r;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

int fd_is_root(struct fs9p_export *ex, int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	return st.st_dev == ex->root_dev && st.st_ino == ex->root_ino;
}

static int openat2_beneath(int dirfd, const char *name, uint64_t flags)
{
	struct open_how how = {
		.flags = flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

/* One walk step from dirfd: an O_PATH fd in *out, or -errno. ".." at the
 * root (and "." anywhere) gives the directory itself. */
int resolve_step(struct fs9p_export *ex, int dirfd, const char *name, int *out)
{
	int r = name_check(name), fd;
	const uint64_t fl = O_PATH | O_NOFOLLOW | O_CLOEXEC;

	if (r)
		return r;
	if (!strcmp(name, "..")) {
		r = fd_is_root(ex, dirfd);
		if (r < 0)
			return r;
		/* RESOLVE_BENEATH refuses ".." outright; this is the one
		 * place ".." is taken, from a checked non-root directory. */
		fd = r ? openat(dirfd, ".", fl | O_DIRECTORY)
		       : openat(dirfd, "..", fl | O_DIRECTORY);
		if (fd < 0)
			return -errno;
	} else {
		fd = openat2_beneath(dirfd, name, fl);
		if (fd < 0)
			return fd;
	}
	*out = fd;
	return 0;
}

void fd_proc_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* A real open of the file behind an O_PATH fd. Only regular files and
 * directories: reopening through /proc/self/fd follows the fd's own
 * magic link to its inode (not a path a client names), which is safe for
 * those types, while a symlink would be followed to its target and a
 * device node or FIFO would be opened (see op_lopen). */
int reopen_fd(int fd, int flags)
{
	char path[32];
	struct stat st;
	int nfd;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EPERM;
	fd_proc_path(fd, path);
	nfd = open(path, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) |
				 O_CLOEXEC | O_NOCTTY);
	return nfd < 0 ? -errno : nfd;
}
