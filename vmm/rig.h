/* --9p-root and the test rig (`vmm run [options] -- CMD [ARGS...]`):
 * what vmm gives the guest so that our own init (guest/init/, embedded
 * in vmm) mounts a 9p root and boots it or runs CMD in it. From a
 * request (the command, the shares, the caller's identity, the modules)
 * this builds the kernel command line, the --9p arguments of the shares
 * (added through the device table as if the user had typed them), and
 * the initramfs: the init, its configuration (guest/init/conf.h) and
 * the modules.
 *
 * 9p cache modes (the reasons are in rig.c): the test rig's read-only
 * host root is mounted cache=loose, its --rw shares cache=mmap, a
 * --9p-root cache=loose; msize is RIG_MSIZE. */
#ifndef VMM_RIG_H
#define VMM_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "initramfs.h"
#include "modules.h"

#define RIG_ROOT_TAG "vmmroot"
#define RIG_CWD_TAG "vmmcwd"
#define RIG_MSIZE (512u << 10)
/* The root and a current directory under a guest tmpfs take two of the
 * VM's eight virtio devices (VDEV_MAX); the --rw shares get the rest. */
#define RIG_MAX_RW 6
#define RIG_MAX_ENV 8
#define RIG_MAX_GROUPS 64
#define RIG_RIG_CMDLINE "console=ttyS0 quiet loglevel=0 panic=-1"
#define RIG_ROOT_CMDLINE "console=ttyS0"

/* The caller as the command will run: identity, directory, environment
 * (rig_user_from_host fills it from this process). */
struct rig_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[RIG_MAX_GROUPS];
	unsigned nr_groups;
	char *cwd;		      /* rig_user_free frees it */
	const char *env[RIG_MAX_ENV]; /* "NAME=VALUE", from environ */
	unsigned nr_env;
	const char *home; /* overlaid when set */
	bool tty_out;	  /* stdout is a terminal: keep \n -> \r\n */
};

struct rig_request {
	bool test;	       /* the test rig; false: --9p-root */
	const char *root;      /* exported as the root: "/" for the rig */
	const char *const *rw; /* the rig's read-write shares */
	unsigned nr_rw;
	char *const *argv; /* the rig's command */
	unsigned argc;
	const char *user_cmdline; /* --cmdline, or NULL */
	const struct module_list *modules;
	const struct rig_user *user; /* the rig's */
	const uint8_t *init_bin;     /* the init executable */
	size_t init_size;
};

struct rig_output {
	char *cmdline;
	struct cpio initrd;
	/* --9p arguments: the root, the current directory's when it lies
	 * under a guest tmpfs, then the --rw shares */
	char *shares[2 + RIG_MAX_RW];
	unsigned nr_shares;
};

/* The modules a rig needs (transport, 9p, overlay for the test rig):
 * NULL-terminated names for modules_resolve. */
const char *const *rig_module_names(bool test, bool mmio, size_t *n);

/* The init's configuration records (guest/init/conf.h) in *buf. */
int rig_conf(const struct rig_request *rq, uint8_t **buf, size_t *len);

/* Everything at once; 0, -ENOMEM, or -EINVAL after one logged line (a
 * path the --9p option cannot carry, a share that is no directory). */
int rig_build(const struct rig_request *rq, struct rig_output *out);
void rig_output_free(struct rig_output *out);

/* --rig-dump DIR: what a run would boot, written instead of booted, so
 * another VMM (bench/9p rig: QEMU) can boot the same rig. DIR (created if
 * missing) gets initramfs.cpio, cmdline (the exact command line, no
 * newline) and shares (the --9p arguments, one a line, the root first).
 * 0 or -errno after one logged line. */
int rig_dump(const struct rig_output *out, const char *dir);

int rig_user_from_host(struct rig_user *u);
void rig_user_free(struct rig_user *u);

/* The init embedded in vmm (vmm/init_blob.S). */
extern const uint8_t vmm_guest_init[], vmm_guest_init_end[];

#endif
