/* Main thread at start-up: the CLI builds a --9p-root or test-rig run
 * before the VM exists. Everything is the caller's; no lock.
 *
 * 9p cache modes, chosen for speed where results stay right:
 * - the test rig's root is the host's "/" exported read-only, and the
 *   guest cannot change it. cache=loose caches data and metadata with no
 *   revalidation, which is what makes exec, dynamic linking and path
 *   walks cheap; it is only wrong if a host process changes those files
 *   during the run, and the directories a run works in are meant to be
 *   --rw shares, whose host changes must show;
 * - --rw shares are cache=mmap: no metadata or data cache, so a file the
 *   host changes reads back changed, yet shared writable mmap works (a
 *   linker or a database needs it); the init syncs before it reports
 *   the status, so written data is on the host when vmm exits;
 * - a --9p-root is the guest's own root for the run (the host should not
 *   change it meanwhile): cache=loose, as a disk would cache; the guest
 *   must sync before it ends, as a normal shutdown does.
 * msize: 512 KiB (Linux 6.1's virtio transport caps it at 500 KiB and
 * says so at KERN_INFO; later kernels take it as is). */
#include "rig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/init/conf.h"
#include "lib/log.h"

#define ROOT_CACHE "loose"
#define RW_CACHE "mmap"

struct bytes {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static void put(struct bytes *b, const void *src, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->data, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, n);
	b->len += n;
}

/* One record "key=value\0"; value is any C string, byte for byte. */
static void record(struct bytes *b, const char *key, const char *value)
{
	put(b, key, strlen(key));
	put(b, "=", 1);
	put(b, value, strlen(value) + 1);
}

static void recordf(struct bytes *b, const char *key, const char *fmt,
		    unsigned long v)
{
	char s[32];

	snprintf(s, sizeof(s), fmt, v);
	record(b, key, s);
}

const char *const *rig_module_names(bool test, bool mmio, size_t *n)
{
	static const char *const pci[] = { "virtio_pci", "9pnet_virtio", "9p",
					   "overlay" };
	static const char *const mm[] = { "virtio_mmio", "9pnet_virtio", "9p",
					  "overlay" };

	*n = test ? 4 : 3;
	return mmio ? mm : pci;
}

/* True when path is dir or below it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static const char *const rig_tmpfs[] = { "/run", "/tmp", "/var/tmp",
					 "/dev/shm" };
static const char *const rig_overlays[] = { "/etc", "/var" };

/* The home directory gets an overlay unless a tmpfs would cover it or an
 * overlay already makes it writable. */
static bool home_overlay(const char *home)
{
	if (!home || home[0] != '/' || !strcmp(home, "/"))
		return false;
	for (size_t i = 0; i < sizeof(rig_tmpfs) / sizeof(rig_tmpfs[0]); i++)
		if (under(home, rig_tmpfs[i]))
			return false;
	for (size_t i = 0; i < sizeof(rig_overlays) / sizeof(rig_overlays[0]);
	     i++)
		if (under(home, rig_overlays[i]) ||
		    under(rig_overlays[i], home))
			return false;
	return true;
}

/* The caller's directory under one the rig covers with a fresh tmpfs
 * (a tree in /tmp) would not exist in the guest: it is then shared
 * read-only at its own path, as the rest of the host is, unless a --rw
 * share brings it. It is mounted before the --rw shares, which may lie
 * inside it. */
static bool cwd_share_needed(const struct rig_request *rq)
{
	const char *cwd = rq->user ? rq->user->cwd : NULL;
	bool covered = false;

	if (!rq->test || !cwd)
		return false;
	for (unsigned i = 0; i < rq->nr_rw; i++)
		if (under(cwd, rq->rw[i]))
			return false;
	for (size_t i = 0; i < sizeof(rig_tmpfs) / sizeof(rig_tmpfs[0]); i++)
		covered |= under(cwd, rig_tmpfs[i]);
	return covered;
}

static void share_record(struct bytes *b, const char *tag, const char *path)
{
	put(b, "share=", 6);
	put(b, tag, strlen(tag));
	put(b, ":", 1);
	put(b, path, strlen(path) + 1);
}

static void rig_records(struct bytes *b, const struct rig_request *rq)
{
	const struct rig_user *u = rq->user;
	char groups[RIG_MAX_GROUPS * 11 + 1] = "";
	size_t off = 0;

	for (size_t i = 0; i < sizeof(rig_tmpfs) / sizeof(rig_tmpfs[0]); i++)
		record(b, "tmpfs", rig_tmpfs[i]);
	for (size_t i = 0; i < sizeof(rig_overlays) / sizeof(rig_overlays[0]);
	     i++)
		record(b, "overlay", rig_overlays[i]);
	if (home_overlay(u->home))
		record(b, "overlay", u->home);
	if (cwd_share_needed(rq))
		share_record(b, RIG_CWD_TAG, u->cwd);
	for (unsigned i = 0; i < rq->nr_rw; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "vmmrw%u", i);
		share_record(b, tag, rq->rw[i]);
	}
	record(b, "sharecache", RW_CACHE);
	recordf(b, "uid", "%lu", u->uid);
	recordf(b, "gid", "%lu", u->gid);
	for (unsigned i = 0; i < u->nr_groups; i++)
		off += (size_t)snprintf(groups + off, sizeof(groups) - off,
					"%s%u", i ? "," : "",
					(unsigned)u->groups[i]);
	record(b, "groups", groups);
	record(b, "cwd", u->cwd);
	for (unsigned i = 0; i < u->nr_env; i++)
		record(b, "env", u->env[i]);
	record(b, "opost", u->tty_out ? "1" : "0");
	for (unsigned i = 0; i < rq->argc; i++)
		record(b, "arg", rq->argv[i]);
}

/* init= on a --9p-root's command line names the root's init: the kernel
 * itself runs the initramfs's /init and ignores it. */
static void init_record(struct bytes *b, const char *cmdline)
{
	const char *p = cmdline;

	while (p && *p) {
		size_t n;
		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n > 5 && !strncmp(p, "init=", 5) && p[5] == '/') {
			put(b, "init=", 5);
			put(b, p + 5, n - 5);
			put(b, "", 1);
		}
		p += n;
	}
}

int rig_conf(const struct rig_request *rq, uint8_t **buf, size_t *len)
{
	struct bytes b = { 0 };
	const struct module_list *m = rq->modules;

	record(&b, "mode", rq->test ? "rig" : "root");
	record(&b, "tag", RIG_ROOT_TAG);
	recordf(&b, "msize", "%lu", RIG_MSIZE);
	record(&b, "cache", ROOT_CACHE);
	record(&b, "rootro", rq->test ? "1" : "0");
	for (size_t i = 0; m && i < m->n; i++) {
		char path[64];
		const char *base = strrchr(m->paths[i], '/');
		snprintf(path, sizeof(path), "/vmm/modules/%02zu-", i);
		put(&b, "module=", 7);
		put(&b, path, strlen(path));
		base = base ? base + 1 : m->paths[i];
		put(&b, base, strlen(base) + 1);
	}
	if (rq->test)
		rig_records(&b, rq);
	else
		init_record(&b, rq->user_cmdline);
	if (b.err) {
		free(b.data);
		return b.err;
	}
	*buf = b.data;
	*len = b.len;
	return 0;
}

static int build_cmdline(const struct rig_request *rq, char **out)
{
	const char *user = rq->user_cmdline;
	int n;

	if (!rq->test)
		n = asprintf(out, "%s", user ? user : RIG_ROOT_CMDLINE);
	else
		n = asprintf(out, "%s%s%s", RIG_RIG_CMDLINE, user ? " " : "",
			     user ? user : "");
	return n < 0 ? -ENOMEM : 0;
}

/* The --9p option's argument is comma-separated: a directory with a
 * comma in its name cannot be carried. */
static int share_arg(struct rig_output *o, const char *what, const char *dir,
		     const char *tag, bool readonly)
{
	struct stat st;

	if (dir[0] != '/' || strchr(dir, ',')) {
		log_error("%s %s: needs an absolute path without ','", what,
			  dir);
		return -EINVAL;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		log_error("%s %s: not a directory", what, dir);
		return -EINVAL;
	}
	/* Passthrough also for a user without root: what the guest creates
	 * in a --rw share is then plainly the user's, which is what a build
	 * tree needs (fs9p keeps the server's owner when it cannot chown). */
	if (asprintf(&o->shares[o->nr_shares], "%s,tag=%s%s", dir, tag,
		     readonly ? ",readonly" : "") < 0)
		return -ENOMEM;
	o->nr_shares++;
	return 0;
}

static int build_shares(const struct rig_request *rq, struct rig_output *o)
{
	int r = share_arg(o, rq->test ? "root" : "--9p-root", rq->root,
			  RIG_ROOT_TAG, rq->test);

	if (rq->nr_rw > RIG_MAX_RW) {
		log_error("--rw: at most %d shares", RIG_MAX_RW);
		return -EINVAL;
	}
	if (!r && cwd_share_needed(rq))
		r = share_arg(o, "the current directory", rq->user->cwd,
			      RIG_CWD_TAG, true);
	for (unsigned i = 0; !r && i < rq->nr_rw; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "vmmrw%u", i);
		r = share_arg(o, "--rw", rq->rw[i], tag, false);
	}
	return r;
}

static int add_modules(struct cpio *c, const struct module_list *m)
{
	int r = 0;

	for (size_t i = 0; m && !r && i < m->n; i++) {
		const char *base = strrchr(m->paths[i], '/');
		char name[300];
		base = base ? base + 1 : m->paths[i];
		snprintf(name, sizeof(name), "vmm/modules/%02zu-%s", i, base);
		r = cpio_add_host_file(c, name, 0644, m->paths[i]);
		if (r)
			log_error("module %s: %s", m->paths[i], strerror(-r));
	}
	return r;
}

static int build_initramfs(const struct rig_request *rq, struct cpio *c)
{
	static const char *const dirs[] = { "dev",     "proc", "sys",
					    "newroot", "vmm",  "vmm/modules" };
	uint8_t *conf = NULL;
	size_t len = 0;
	int r = rig_conf(rq, &conf, &len);

	for (size_t i = 0; !r && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		r = cpio_add_dir(c, dirs[i], 0755);
	/* The kernel opens /dev/console for init's stdin/out/err. */
	if (!r)
		r = cpio_add_chardev(c, "dev/console", 0600, 5, 1);
	if (!r)
		r = cpio_add_file(c, "init", 0755, rq->init_bin, rq->init_size);
	if (!r)
		r = cpio_add_file(c, "vmm/init.conf", 0600, conf, len);
	free(conf);
	if (!r)
		r = add_modules(c, rq->modules);
	return r ? r : cpio_finish(c);
}

int rig_build(const struct rig_request *rq, struct rig_output *out)
{
	int r;

	*out = (struct rig_output){ 0 };
	r = build_cmdline(rq, &out->cmdline);
	if (!r)
		r = build_shares(rq, out);
	if (!r)
		r = build_initramfs(rq, &out->initrd);
	if (r == -ENOMEM)
		log_error("building the initramfs: %s", strerror(ENOMEM));
	if (r)
		rig_output_free(out);
	return r;
}

void rig_output_free(struct rig_output *out)
{
	free(out->cmdline);
	for (unsigned i = 0; i < out->nr_shares; i++)
		free(out->shares[i]);
	cpio_free(&out->initrd);
	*out = (struct rig_output){ 0 };
}

/* DIR/NAME holds exactly data[0..len). */
static int dump_file(const char *dir, const char *name, const void *data,
		     size_t len)
{
	char path[PATH_MAX];
	const uint8_t *p = data;
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (!r && len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			p += n, len -= (size_t)n;
	}
	if (close(fd) && !r)
		r = -errno;
	return r;
}

static int dump_shares(const struct rig_output *out, const char *dir)
{
	struct bytes b = { 0 };
	int r;

	for (unsigned i = 0; i < out->nr_shares; i++) {
		put(&b, out->shares[i], strlen(out->shares[i]));
		put(&b, "\n", 1);
	}
	r = b.err ? b.err : dump_file(dir, "shares", b.data, b.len);
	free(b.data);
	return r;
}

int rig_dump(const struct rig_output *out, const char *dir)
{
	int r = 0;

	if (mkdir(dir, 0755) && errno != EEXIST)
		r = -errno;
	if (!r)
		r = dump_file(dir, "initramfs.cpio", out->initrd.data,
			      out->initrd.len);
	if (!r)
		r = dump_file(dir, "cmdline", out->cmdline,
			      strlen(out->cmdline));
	if (!r)
		r = dump_shares(out, dir);
	if (r)
		log_error("--rig-dump %s: %s", dir, strerror(-r));
	return r;
}

static void add_env(struct rig_user *u, const char *name)
{
	extern char **environ;
	size_t n = strlen(name);

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=' &&
		    u->nr_env < RIG_MAX_ENV) {
			u->env[u->nr_env++] = *e;
			return;
		}
}

int rig_user_from_host(struct rig_user *u)
{
	static const char *const names[] = { "PATH", "HOME", "TERM", "USER",
					     "LOGNAME" };
	const char *home = getenv("HOME");
	struct stat st;
	int n;

	*u = (struct rig_user){ .uid = getuid(), .gid = getgid() };
	n = getgroups(RIG_MAX_GROUPS, u->groups);
	u->nr_groups = n > 0 ? (unsigned)n : 0;
	u->cwd = getcwd(NULL, 0);
	if (!u->cwd) {
		log_error("the current directory: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		add_env(u, names[i]);
	if (home && stat(home, &st) == 0 && S_ISDIR(st.st_mode))
		u->home = home;
	u->tty_out = isatty(STDOUT_FILENO);
	return 0;
}

void rig_user_free(struct rig_user *u)
{
	free(u->cwd);
	u->cwd = NULL;
}
