/* The system calls that serving 9p needs, for the sandbox roles of the
 * threads that run fs9p_handle (the virtio-9p device's queue thread and
 * workers, `vmm 9p-serve`'s connections). Every call below takes a
 * directory fd from the export, an fd of a fid, or a /proc/self/fd magic
 * link of one (resolve.c, xattr_fd.c): the confinement is the resolver's;
 * the filter keeps the rest of the kernel out of reach. No ioctl at all.
 * Called on the main thread (filter building). */
#include <linux/capability.h>
#include <seccomp.h>

#include "fs9p.h"
#include "lib/sandbox.h"

int fs9p_rules(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		/* lookup and open (openat2 with RESOLVE_BENEATH) */
		SCMP_SYS(openat2),
		SCMP_SYS(openat),
		SCMP_SYS(open),
		SCMP_SYS(close),
		SCMP_SYS(fstat),
		SCMP_SYS(newfstatat),
		SCMP_SYS(statx),
		SCMP_SYS(fstatfs),
		SCMP_SYS(readlinkat),
		SCMP_SYS(fcntl),
		SCMP_SYS(lseek),
		SCMP_SYS(getdents64),
		/* data */
		SCMP_SYS(read),
		SCMP_SYS(write),
		SCMP_SYS(pread64),
		SCMP_SYS(pwrite64),
		SCMP_SYS(preadv),
		SCMP_SYS(pwritev),
		SCMP_SYS(fsync),
		SCMP_SYS(fdatasync),
		SCMP_SYS(ftruncate),
		SCMP_SYS(truncate),
		SCMP_SYS(fallocate),
		/* namespace changes */
		SCMP_SYS(mkdirat),
		SCMP_SYS(mknodat),
		SCMP_SYS(symlinkat),
		SCMP_SYS(linkat),
		SCMP_SYS(unlinkat),
		SCMP_SYS(renameat),
		SCMP_SYS(renameat2),
		/* attributes */
		SCMP_SYS(fchmod),
		SCMP_SYS(fchmodat),
		SCMP_SYS(chmod),
		SCMP_SYS(fchownat),
		SCMP_SYS(utimensat),
		SCMP_SYS(getxattr),
		SCMP_SYS(setxattr),
		SCMP_SYS(listxattr),
		SCMP_SYS(removexattr),
		SCMP_SYS(fgetxattr),
		SCMP_SYS(fsetxattr),
		SCMP_SYS(flistxattr),
		SCMP_SYS(fremovexattr),
	};
	int r = 0;

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	return r;
}

/* Root serving passthrough keeps what lets it create and change files
 * for any guest user: chown, bypassing modes, set-id bits, device nodes.
 * Nothing of the rest (no CAP_SYS_ADMIN, no CAP_SETUID). */
const uint64_t fs9p_passthrough_caps =
	1ULL << CAP_CHOWN | 1ULL << CAP_DAC_OVERRIDE |
	1ULL << CAP_DAC_READ_SEARCH | 1ULL << CAP_FOWNER | 1ULL << CAP_FSETID |
	1ULL << CAP_MKNOD;
