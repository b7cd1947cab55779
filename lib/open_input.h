/* Opening a file named by the user (a kernel, an initrd, a module, a
 * disk) without waiting: open(2) of a FIFO for reading blocks until a
 * writer comes, and vmm has SIGINT and SIGTERM blocked by then, so only
 * SIGKILL would end it. Pure; any thread. */
#ifndef LIB_OPEN_INPUT_H
#define LIB_OPEN_INPUT_H

/* open(path, flags) with O_NONBLOCK during the open only (and O_CLOEXEC):
 * a fd whose type the caller then checks with fstat, or -errno. */
int open_input(const char *path, int flags);

#endif
