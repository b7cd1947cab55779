/* Pure; any thread. */
#include "open_input.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int open_input(const char *path, int flags)
{
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC), fl;

	if (fd < 0)
		return -errno;
	/* Reads of the regular file or block device it is checked to be
	 * then behave as usual. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}
