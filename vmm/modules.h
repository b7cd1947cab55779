/* The guest kernel's modules for --9p-root and the test rig: which
 * kernel version an image is (so a kernel other than the host's finds its
 * own /lib/modules/VERSION), and the modules to load, in dependency
 * order, from a module tree's modules.dep and modules.builtin. */
#ifndef VMM_MODULES_H
#define VMM_MODULES_H

#include <stddef.h>
#include <stdint.h>

#define KERNEL_VERSION_MAX 128

/* The release string of a kernel image: from a bzImage's setup header
 * (its kernel_version pointer, boot protocol 2.00 and later), else from
 * the "Linux version " banner an uncompressed ELF vmlinux carries.
 * 0, or -ENOENT when the image names no version. */
int kernel_version(const uint8_t *img, size_t size,
		   char out[KERNEL_VERSION_MAX]);
/* The same for a file; -errno from reading it. */
int kernel_version_file(const char *path, char out[KERNEL_VERSION_MAX]);

struct module_list {
	char **paths; /* host paths, each module after its dependencies */
	size_t n;
};

/* Resolves `names` (as modprobe spells them: '-' and '_' alike) in the
 * tree at dir: each one and its dependencies from modules.dep, those
 * built in (modules.builtin) left out. 0, -ENOENT (one line logged)
 * when a name is neither a module nor built in or dir has no
 * modules.dep, -EINVAL for a malformed modules.dep, -ENOMEM. */
int modules_resolve(const char *dir, const char *const *names, size_t n,
		    struct module_list *out);
void module_list_free(struct module_list *l);

/* NAME of a module file: its basename without .ko[.xz|.zst|.gz], with
 * '-' as '_'. Writes at most size bytes; 0 or -EINVAL. */
int module_name(const char *path, char *name, size_t size);

#endif
