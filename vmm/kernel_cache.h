/* A per-user cache of unpacked kernel payloads: the ELF inside a bzImage,
 * kept under $XDG_CACHE_HOME/vmm/kernels (default ~/.cache/vmm/kernels)
 * so that booting the same kernel again skips the guest's decompressor.
 * Entries are named by a hash of the compressed payload and its size;
 * the KERNEL_CACHE_KEEP most recently used are kept. */
#ifndef VMM_KERNEL_CACHE_H
#define VMM_KERNEL_CACHE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KERNEL_CACHE_KEEP 4

struct kernel_cache_entry {
	int fd; /* read-only; the caller closes it */
	uint64_t size;
	bool hit; /* false: unpacked by this call */
	char path[PATH_MAX];
};

/* The directory the cache lives in (not created), or -ENOENT when
 * neither XDG_CACHE_HOME nor HOME is an absolute path. */
int kernel_cache_dir(char out[PATH_MAX]);

/* The entry for payload (len bytes, untrusted), unpacked into dir now if
 * it is not there. 0, or -errno with a one-line reason in why. */
int kernel_cache_get(const char *dir, const uint8_t *payload, size_t len,
		     struct kernel_cache_entry *e, char *why, size_t why_len);

/* Removes an entry found unusable (closes e->fd). */
void kernel_cache_drop(struct kernel_cache_entry *e);

#endif
