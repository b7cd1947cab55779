/* The passthrough security model: host uid, gid and mode are the guest's.
 * A creation is made by the server and then given the attaching
 * user's uid, the request's gid and the exact mode the client asked for
 * (the process umask does not apply). Any worker thread; no state. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* fd: an O_PATH fd of the new entry. chown first: it clears setuid and
 * setgid bits, which the chmod then sets as asked. With
 * chown_best_effort (a server without root) an EPERM leaves the entry
 * the server's. */
int pt_finish_create(int fd, const struct create_cred *c,
		     bool chown_best_effort)
{
	char path[32];
	struct stat st;

	if (fchownat(fd, "", c->uid, c->gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) &&
	    !(errno == EPERM && chown_best_effort))
		return -errno;
	if (fstat(fd, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return 0; /* a symlink's mode means nothing */
	/* chmod through the fd's magic link reaches this inode and does not
	 * open it, so it is safe for device nodes too. */
	fd_proc_path(fd, path);
	if (chmod(path, c->mode & 07777))
		return -errno;
	return 0;
}
