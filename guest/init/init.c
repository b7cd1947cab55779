/* vmm's guest init: PID 1 of a --9p-root or test-rig guest, built as a
 * static binary and embedded in vmm, which puts it at /init in the
 * initramfs it builds, next to its configuration (conf.h) and modules.
 *
 * One thread (PID 1). It mounts /proc, /sys and /dev, loads the modules
 * in the order given, mounts the 9p root at /newroot and switches to it;
 * then it either execs the root's own init (root mode) or makes the
 * read-only host root usable (tmpfs and overlays), mounts the read-write
 * shares, runs the command as the calling user and reports its status
 * through the exit port (rig mode). Every failure prints one line
 * "vmm-init: ..." and ends the VM with status 125 (as chroot(1) and
 * env(1) report their own failures). PID 1 never returns. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define EXIT_PORT 0x501
#define STATUS_INIT_FAILED 125
#define NEWROOT "/newroot"
#define OVL_DIR "/run/vmm-overlay"

extern char **environ;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "vmm-init: ");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere else to report it. */
	}
}

/* Ends the VM with `status`: the exit port where there is one, else an
 * ACPI poweroff (vmm then reports a run without an exit status). */
static __attribute__((noreturn)) void finish(int status)
{
	sync(); /* 9p writeback caches reach the host before the VM ends */
	if (ioperm(EXIT_PORT, 1, 1) == 0)
		outb((unsigned char)status, EXIT_PORT);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static __attribute__((noreturn)) void fail(const char *what, int err)
{
	say("%s: %s", what, strerror(err));
	finish(STATUS_INIT_FAILED);
}

static void do_mount(const char *src, const char *dst, const char *type,
		     unsigned long flags, const char *opts)
{
	char what[256];

	if (mount(src, dst, type, flags, opts) == 0)
		return;
	snprintf(what, sizeof(what), "mount %s (%s) on %s", src, type, dst);
	fail(what, errno);
}

static void mount_kernel_fs(void)
{
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 NULL);
	do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 NULL);
	do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
}

static bool compressed(const char *path)
{
	size_t n = strlen(path);

	return (n > 3 && !strcmp(path + n - 3, ".xz")) ||
	       (n > 4 && !strcmp(path + n - 4, ".zst")) ||
	       (n > 3 && !strcmp(path + n - 3, ".gz"));
}

static void load_module(const char *path)
{
	int flags = compressed(path) ? MODULE_INIT_COMPRESSED_FILE : 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	char what[256];

	if (fd < 0) {
		snprintf(what, sizeof(what), "open module %s", path);
		fail(what, errno);
	}
	/* EEXIST: already loaded, or built into this kernel. */
	if (syscall(SYS_finit_module, fd, "", flags) == 0 || errno == EEXIST) {
		close(fd);
		return;
	}
	err = errno;
	snprintf(what, sizeof(what), "load module %s%s", path,
		 flags && err == EINVAL ? " (compressed: does the kernel have "
					  "CONFIG_MODULE_DECOMPRESS?)"
					: "");
	fail(what, err);
}

/* The virtio-9p channel appears when its driver has probed the device;
 * a driver that probes asynchronously may not have yet (ENOENT). */
static void mount_9p(const char *tag, const char *dst, unsigned long msize,
		     const char *cache, unsigned long flags)
{
	char opts[160], what[256];
	struct timespec pause_10ms = { 0, 10 * 1000 * 1000 };

	snprintf(opts, sizeof(opts),
		 "trans=virtio,version=9p2000.L,msize=%lu,cache=%s,access=any",
		 msize, cache);
	for (int tries = 0; tries < 300; tries++) {
		if (mount(tag, dst, "9p", flags, opts) == 0)
			return;
		if (errno != ENOENT)
			break;
		nanosleep(&pause_10ms, NULL);
	}
	snprintf(what, sizeof(what), "mount 9p share '%s' on %s (%s)%s", tag,
		 dst, opts,
		 errno == ENODEV ? " (no 9p file system: give --modules)" : "");
	fail(what, errno);
}

/* MS_MOVE of /proc, /sys, /dev, then the new root over "/" (as
 * switch_root does); the initramfs stays in RAM, it is small. */
static void switch_root(void)
{
	static const char *const keep[] = { "/proc", "/sys", "/dev" };
	char dst[64];

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		snprintf(dst, sizeof(dst), NEWROOT "%s", keep[i]);
		do_mount(keep[i], dst, NULL, MS_MOVE, NULL);
	}
	if (chdir(NEWROOT))
		fail("chdir " NEWROOT, errno);
	do_mount(".", "/", NULL, MS_MOVE, NULL);
	if (chroot(".") || chdir("/"))
		fail("chroot " NEWROOT, errno);
}

static char *read_conf(size_t *len)
{
	int fd = open(INIT_CONF_PATH, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st))
		fail("open " INIT_CONF_PATH, errno);
	if (st.st_size <= 0 || st.st_size > INIT_CONF_MAX_SIZE)
		fail(INIT_CONF_PATH " size", EINVAL);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		fail("reading " INIT_CONF_PATH, ENOMEM);
	if (read(fd, buf, (size_t)st.st_size) != st.st_size)
		fail("read " INIT_CONF_PATH, errno ? errno : EIO);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* An overlay with a tmpfs upper keeps the directory's contents and makes
 * it writable, writes going nowhere. lowerdir is given as "." after a
 * chdir into the directory, so no character of its path (',' ':' '\')
 * can break the option string; the mount then covers the directory. */
static void make_dir(const char *fmt, const char *base)
{
	char path[128];

	snprintf(path, sizeof(path), fmt, base);
	if (mkdir(path, 0700))
		fail(path, errno);
}

static void mount_overlay(const char *dir, unsigned i)
{
	char base[64], opts[256], what[256];
	struct stat st;

	snprintf(base, sizeof(base), OVL_DIR "/%u", i);
	snprintf(opts, sizeof(opts),
		 "lowerdir=.,upperdir=%s/upper,workdir=%s/work,xino=off", base,
		 base);
	make_dir("%s", base);
	make_dir("%s/upper", base);
	make_dir("%s/work", base);
	/* The merged root shows the upper directory's owner and mode: give
	 * it the lower one's, or a home directory turns root's 0700. */
	snprintf(what, sizeof(what), "%s/upper", base);
	if (stat(dir, &st) || chown(what, st.st_uid, st.st_gid) ||
	    chmod(what, st.st_mode & 07777)) {
		snprintf(what, sizeof(what), "overlay on %s: owner", dir);
		fail(what, errno);
	}
	if (chdir(dir)) {
		snprintf(what, sizeof(what), "overlay on %s: chdir", dir);
		fail(what, errno);
	}
	if (mount("overlay", ".", "overlay", 0, opts)) {
		snprintf(what, sizeof(what),
			 "mount overlay on %s (is overlay built in or in "
			 "--modules?)",
			 dir);
		fail(what, errno);
	}
	if (chdir("/"))
		fail("chdir /", errno);
}

static void mount_tmpfs(const char *dir)
{
	mode_t m = !strcmp(dir, "/tmp") || !strcmp(dir, "/var/tmp") ||
				   !strcmp(dir, "/dev/shm")
			   ? 01777
			   : 0755;
	char opts[32];

	mkdir(dir, 0755); /* /dev/shm is not in a devtmpfs */
	snprintf(opts, sizeof(opts), "mode=%o", (unsigned)m);
	do_mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts);
}

/* A --rw share's host path may lie under a directory that is a fresh
 * tmpfs in the guest (/tmp): its missing components are made there. On
 * the read-only root a missing one stays missing and the mount names it. */
static void make_mount_point(const char *path)
{
	char p[PATH_MAX];

	if (strlen(path) >= sizeof(p))
		return; /* the mount will name it */
	memcpy(p, path, strlen(path) + 1);
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = 0;
		mkdir(p, 0755); /* EEXIST or EROFS: the mount decides */
		if (!s)
			return;
		*s = '/';
	}
}

/* /run first: the overlays' upper directories live in it. Overlays
 * before the tmpfs mounts below them (/var/tmp on /var). */
static void make_writable(const struct init_conf *c)
{
	mount_tmpfs("/run");
	if (mkdir(OVL_DIR, 0700))
		fail("mkdir " OVL_DIR, errno);
	for (unsigned i = 0; i < c->nr_overlay; i++)
		mount_overlay(c->overlay[i], i);
	for (unsigned i = 0; i < c->nr_tmpfs; i++)
		if (strcmp(c->tmpfs[i], "/run"))
			mount_tmpfs(c->tmpfs[i]);
	mkdir("/dev/pts", 0755);
	do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "mode=0620,ptmxmode=0666");
	for (unsigned i = 0; i < c->nr_shares; i++) {
		make_mount_point(c->shares[i].path);
		mount_9p(c->shares[i].tag, c->shares[i].path, c->msize,
			 c->share_cache, 0);
	}
}

/* Best effort: tests often talk to 127.0.0.1. */
static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

/* Without OPOST the serial driver sends the command's bytes as they are
 * (no "\n" -> "\r\n"); vmm asks to keep it when its stdout is a terminal. */
static void console_output(bool opost)
{
	struct termios t;

	if (opost || tcgetattr(STDOUT_FILENO, &t))
		return;
	t.c_oflag &= ~(tcflag_t)OPOST;
	tcsetattr(STDOUT_FILENO, TCSADRAIN, &t);
}

/* In the child: the caller's identity, directory and environment. */
static __attribute__((noreturn)) void exec_command(const struct init_conf *c)
{
	int null = open("/dev/null", O_RDONLY);

	setsid();
	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		say("stdin from /dev/null: %s", strerror(errno));
	if (null > STDIN_FILENO)
		close(null);
	if (setgroups(c->nr_groups, c->groups) || setgid(c->gid) ||
	    setuid(c->uid)) {
		say("setting user %u group %u: %s", (unsigned)c->uid,
		    (unsigned)c->gid, strerror(errno));
		_exit(STATUS_INIT_FAILED);
	}
	if (chdir(c->cwd)) {
		say("chdir %s: %s", c->cwd, strerror(errno));
		_exit(STATUS_INIT_FAILED);
	}
	environ = (char **)c->env;
	execvp(c->argv[0], (char *const *)c->argv);
	say("%s: %s", c->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* PID 1 reaps every orphan until the command itself has ended. */
static int wait_command(pid_t pid)
{
	int st;

	for (;;) {
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			fail("waitpid", errno);
		if (p != pid)
			continue;
		if (WIFEXITED(st))
			return WEXITSTATUS(st);
		if (WIFSIGNALED(st))
			return 128 + WTERMSIG(st);
	}
}

static __attribute__((noreturn)) void run_rig(const struct init_conf *c)
{
	pid_t pid;

	make_writable(c);
	loopback_up();
	console_output(c->opost);
	pid = fork();
	if (pid < 0)
		fail("fork", errno);
	if (pid == 0)
		exec_command(c);
	finish(wait_command(pid));
}

static __attribute__((noreturn)) void exec_root_init(const struct init_conf *c,
						     char **argv)
{
	const char *init = c->init ? c->init : "/sbin/init";

	argv[0] = (char *)init;
	execv(init, argv);
	fail(init, errno);
}

int main(int argc, char **argv)
{
	struct init_conf conf;
	const char *why;
	size_t len;
	char *buf;

	(void)argc;
	if (getpid() != 1) {
		say("must run as PID 1 of a vmm guest");
		return STATUS_INIT_FAILED;
	}
	mount_kernel_fs();
	buf = read_conf(&len);
	if (init_conf_parse(buf, len, &conf, &why)) {
		say(INIT_CONF_PATH ": %s", why);
		finish(STATUS_INIT_FAILED);
	}
	for (unsigned i = 0; i < conf.nr_modules; i++)
		load_module(conf.modules[i]);
	mkdir(NEWROOT, 0755);
	mount_9p(conf.tag, NEWROOT, conf.msize, conf.cache,
		 conf.root_ro ? MS_RDONLY : 0);
	switch_root();
	if (conf.mode == INIT_MODE_RIG)
		run_rig(&conf);
	exec_root_init(&conf, argv);
}
