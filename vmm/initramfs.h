/* A newc ("070701") cpio archive written into memory: the initramfs vmm
 * builds for --9p-root and the test rig (its init, configuration and
 * modules), handed to the loader as the initrd without a file. */
#ifndef VMM_INITRAMFS_H
#define VMM_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>

struct cpio {
	uint8_t *data;
	size_t len, cap;
	uint32_t next_ino;
};

#define CPIO_MAGIC "070701"
#define CPIO_HEADER_SIZE 110
#define CPIO_TRAILER "TRAILER!!!"

/* Each appends one entry (name without a leading '/'); 0 or -ENOMEM,
 * -EINVAL for an empty name or a file of 4 GiB or more. */
int cpio_add_dir(struct cpio *c, const char *name, uint32_t perm);
int cpio_add_file(struct cpio *c, const char *name, uint32_t perm,
		  const void *data, size_t size);
int cpio_add_chardev(struct cpio *c, const char *name, uint32_t perm,
		     uint32_t major, uint32_t minor);
/* A host file's contents as NAME; -errno from open/read. */
int cpio_add_host_file(struct cpio *c, const char *name, uint32_t perm,
		       const char *host_path);
/* The trailer entry; the archive is complete after it. */
int cpio_finish(struct cpio *c);
void cpio_free(struct cpio *c);

#endif
