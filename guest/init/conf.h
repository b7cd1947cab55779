/* The configuration vmm hands its guest init (/vmm/init.conf in the
 * initramfs): a sequence of records "key=value\0". A value is any bytes
 * but NUL, so a command argument with spaces, quotes, newlines or
 * non-ASCII bytes arrives byte for byte, which the kernel command line
 * (split at spaces, its length capped) cannot promise.
 *
 * Keys (vmm/rig.c writes them, init_conf_parse reads them):
 *   mode=root|rig       boot a 9p root's own init, or run a command
 *   module=PATH         a module file in the initramfs, in load order
 *   tag=T msize=N cache=MODE rootro=0|1   the 9p root share
 *   init=PATH           root mode: the init to exec (default /sbin/init)
 *   tmpfs=DIR overlay=DIR   rig mode: writable places on the root
 *   share=TAG:DIR       rig mode: a read-write 9p share mounted at DIR
 *   sharecache=MODE     its 9p cache mode
 *   uid=N gid=N groups=N,N,...  cwd=DIR  env=NAME=VALUE  arg=ARG
 *   opost=0|1           keep the console's output processing (a host
 *                       terminal) or send the command's bytes unchanged
 *
 * The parser is shared by the init (static, in the guest) and vmm's unit
 * tests; it has no state outside the struct it fills. */
#ifndef GUEST_INIT_CONF_H
#define GUEST_INIT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define INIT_CONF_PATH "/vmm/init.conf"
#define INIT_CONF_MAX_SIZE (4u << 20)
#define INIT_CONF_MAX_MODULES 64
#define INIT_CONF_MAX_DIRS 16
#define INIT_CONF_MAX_SHARES 16
#define INIT_CONF_MAX_GROUPS 64
#define INIT_CONF_MAX_ENV 32
#define INIT_CONF_MAX_ARGS 4096

enum init_mode { INIT_MODE_NONE, INIT_MODE_ROOT, INIT_MODE_RIG };

struct init_share {
	const char *tag;
	const char *path;
};

/* Every pointer points into the buffer init_conf_parse was given. */
struct init_conf {
	enum init_mode mode;
	const char *modules[INIT_CONF_MAX_MODULES];
	unsigned nr_modules;
	const char *tag, *cache;
	unsigned long msize;
	bool root_ro;
	const char *init;
	const char *tmpfs[INIT_CONF_MAX_DIRS];
	unsigned nr_tmpfs;
	const char *overlay[INIT_CONF_MAX_DIRS];
	unsigned nr_overlay;
	struct init_share shares[INIT_CONF_MAX_SHARES];
	unsigned nr_shares;
	const char *share_cache;
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	gid_t groups[INIT_CONF_MAX_GROUPS];
	unsigned nr_groups;
	const char *cwd;
	const char *env[INIT_CONF_MAX_ENV + 1]; /* NULL-terminated */
	unsigned nr_env;
	const char *argv[INIT_CONF_MAX_ARGS + 1]; /* NULL-terminated */
	unsigned argc;
	bool opost;
};

/* Parses buf[0..len) in place (each '=' after a key becomes NUL).
 * 0, or -EINVAL with *why a fixed phrase naming what is wrong. */
int init_conf_parse(char *buf, size_t len, struct init_conf *c,
		    const char **why);

#endif
