/* The mapped security model: guest credentials in user.virtfs.* xattrs in
 * QEMU's layout, special files as regular host files, the guest's own
 * user.virtfs.* hidden; and the readonly option. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "fs9p_client.h"

static uint32_t xa32(const char *path, const char *name)
{
	uint8_t b[4];

	cr_assert_eq(getxattr(path, name, b, 4), 4, "%s %s", path, name);
	return get32(b);
}

Test(fs9p_mapped, creations_keep_guest_credentials_in_xattrs)
{
	struct tc *c = tc_open(FS9P_MAPPED, false);
	char p[PATH_MAX], buf[64];
	struct tattr a;
	struct stat st;
	struct tqid q;
	uint8_t b[8];

	cr_assert_eq(tc_attach(c, 1, 1000, NULL), 0);
	cr_assert_eq(tc_walk1(c, 1, 2, NULL, NULL), 0);
	cr_assert_eq(tc_lcreate(c, 2, "f", O_RDWR, 04755, 100, NULL), 0);
	cr_assert_eq(stat(tc_path(c, "f", p), &st), 0);
	cr_assert_eq(st.st_mode, 0100600, "host mode");
	cr_assert_eq(st.st_uid, 0, "server's own uid");
	cr_assert_eq(xa32(p, "user.virtfs.uid"), 1000);
	cr_assert_eq(xa32(p, "user.virtfs.gid"), 100);
	cr_assert_eq(xa32(p, "user.virtfs.mode"), 0104755);
	cr_assert_eq(tc_getattr(c, 2, &a), 0);
	cr_assert_eq(a.uid, 1000);
	cr_assert_eq(a.gid, 100);
	cr_assert_eq(a.mode, 0104755);
	cr_assert_eq(tc_write(c, 2, 0, "x", 1), 1);
	cr_assert_eq(xa32(p, "user.virtfs.mode"), 0100755, "setuid cleared");

	cr_assert_eq(tc_mkdir(c, 1, "d", 0751, 5, &q), 0);
	cr_assert_eq(stat(tc_path(c, "d", p), &st), 0);
	cr_assert_eq(st.st_mode, 040700);
	cr_assert_eq(xa32(p, "user.virtfs.mode"), 040751);

	cr_assert_eq(tc_symlink(c, 1, "l", "/target", 5, &q), 0);
	cr_assert_eq(q.type, P9_QTSYMLINK);
	cr_assert_eq(lstat(tc_path(c, "l", p), &st), 0);
	cr_assert(S_ISREG(st.st_mode), "a regular host file");
	cr_assert_eq(xa32(p, "user.virtfs.mode"), 0120777);
	cr_assert_eq(tc_walk1(c, 1, 3, "l", NULL), 1);
	cr_assert_eq(tc_readlink(c, 3, buf, sizeof(buf)), 7);
	cr_assert_str_eq(buf, "/target");
	cr_assert_eq(tc_lopen(c, 3, O_RDONLY, NULL), -ELOOP);

	cr_assert_eq(tc_mknod(c, 1, "null", S_IFCHR | 0666, 1, 3, 0, &q), 0);
	cr_assert_eq(lstat(tc_path(c, "null", p), &st), 0);
	cr_assert_eq(st.st_mode, 0100600);
	cr_assert_eq(getxattr(p, "user.virtfs.rdev", b, 8), 8);
	cr_assert_eq(get64(b), makedev(1, 3));
	cr_assert_eq(tc_walk1(c, 1, 4, "null", NULL), 1);
	cr_assert_eq(tc_getattr(c, 4, &a), 0);
	cr_assert_eq(a.mode, 020666);
	cr_assert_eq(a.rdev, makedev(1, 3));
	cr_assert_eq(tc_lopen(c, 4, O_RDWR, NULL), -EPERM);

	/* chmod / chown go to the xattrs */
	cr_assert_eq(
		tc_setattr(c, 4,
			   P9_SETATTR_MODE | P9_SETATTR_UID | P9_SETATTR_GID,
			   0640, 7, 8, 0, 0, 0, 0, 0),
		0);
	cr_assert_eq(tc_getattr(c, 4, &a), 0);
	cr_assert_eq(a.mode, 020640, "type kept");
	cr_assert_eq(a.uid, 7);
	cr_assert_eq(a.gid, 8);
	cr_assert_eq(lstat(p, &st), 0);
	cr_assert_eq(st.st_mode, 0100600);
	cr_assert_eq(st.st_uid, 0);
	tc_close(c);
}

Test(fs9p_mapped, virtfs_xattrs_hidden)
{
	struct tc *c = tc_open(FS9P_MAPPED, false);
	char buf[256];
	long long n;

	cr_assert_eq(tc_walk1(c, 0, 1, NULL, NULL), 0);
	cr_assert_eq(tc_lcreate(c, 1, "f", O_RDWR, 0644, 0, NULL), 0);
	cr_assert_eq(tc_walk1(c, 0, 2, "f", NULL), 1);
	cr_assert_eq(tc_xattrwalk(c, 2, 3, "user.virtfs.uid"), -ENODATA);
	cr_assert_eq(tc_xattrcreate(c, 2, "user.virtfs.uid", 4, 0), -EACCES);
	cr_assert_eq(tc_walk1(c, 0, 4, "f", NULL), 1);
	cr_assert_eq(tc_xattrcreate(c, 4, "user.mine", 2, 0), 0);
	cr_assert_eq(tc_write(c, 4, 0, "hi", 2), 2);
	cr_assert_eq(tc_clunk(c, 4), 0);
	n = tc_xattrwalk(c, 2, 3, "");
	cr_assert_eq(n, 10, "only user.mine listed");
	cr_assert_eq(tc_read(c, 3, 0, sizeof(buf), buf), 10);
	cr_assert_str_eq(buf, "user.mine");
	tc_close(c);
}

/* An unprivileged server: files it makes are its own, yet the guest sees
 * root-owned files and a device node. */
Test(fs9p_mapped, unprivileged_server)
{
	char d[64];
	pid_t pid;
	int status;

	tc_mkdtemp(d);
	cr_assert_eq(chown(d, 65534, 65534), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct tattr a;
		struct tc *c;
		char p[PATH_MAX];
		struct stat st;
		int ok = 1;

		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		c = tc_open_dir(d, FS9P_MAPPED, false);
		ok &= tc_walk1(c, 0, 1, NULL, NULL) == 0;
		ok &= tc_lcreate(c, 1, "rootfile", O_RDWR, 0600, 0, NULL) == 0;
		ok &= tc_getattr(c, 1, &a) == 0 && a.uid == 0 && a.gid == 0 &&
		      a.mode == 0100600;
		ok &= tc_mknod(c, 0, "sda", S_IFBLK | 0660, 8, 0, 6, NULL) == 0;
		ok &= tc_walk1(c, 0, 2, "sda", NULL) == 1;
		ok &= tc_getattr(c, 2, &a) == 0 && a.uid == 0 && a.gid == 6 &&
		      a.mode == (S_IFBLK | 0660) && a.rdev == makedev(8, 0);
		ok &= stat(tc_path(c, "sda", p), &st) == 0 &&
		      st.st_uid == 65534 && S_ISREG(st.st_mode);
		ok &= tc_link(c, 0, 1, "hard") == 0;
		tc_close(c);
		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	tc_rm_rf(d);
}

Test(fs9p_mapped, readonly_refuses_every_change)
{
	char d[64], p[PATH_MAX];
	struct tc *c;

	tc_mkdtemp(d);
	snprintf(p, sizeof(p), "%s/f", d);
	fclose(fopen(p, "w"));
	snprintf(p, sizeof(p), "%s/sub", d);
	cr_assert_eq(mkdir(p, 0755), 0);
	c = tc_open_dir(d, FS9P_PASSTHROUGH, true);
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_walk1(c, 0, 2, NULL, NULL), 0);
	cr_assert_eq(tc_lcreate(c, 2, "n", O_RDWR, 0644, 0, NULL), -EROFS);
	cr_assert_eq(tc_mkdir(c, 0, "n", 0755, 0, NULL), -EROFS);
	cr_assert_eq(tc_symlink(c, 0, "n", "t", 0, NULL), -EROFS);
	cr_assert_eq(tc_mknod(c, 0, "n", S_IFIFO | 0644, 0, 0, 0, NULL),
		     -EROFS);
	cr_assert_eq(tc_link(c, 0, 1, "n"), -EROFS);
	cr_assert_eq(tc_rename(c, 1, 0, "n"), -EROFS);
	cr_assert_eq(tc_renameat(c, 0, "f", 0, "n"), -EROFS);
	cr_assert_eq(tc_unlinkat(c, 0, "f", 0), -EROFS);
	cr_assert_eq(
		tc_setattr(c, 1, P9_SETATTR_MODE, 0600, 0, 0, 0, 0, 0, 0, 0),
		-EROFS);
	cr_assert_eq(tc_xattrcreate(c, 1, "user.x", 1, 0), -EROFS);
	cr_assert_eq(tc_lopen(c, 1, O_WRONLY, NULL), -EROFS);
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY | 01000, NULL), -EROFS, "O_TRUNC");
	cr_assert_eq(tc_walk1(c, 0, 3, "f", NULL), 1);
	cr_assert_eq(tc_remove(c, 3), -EROFS);
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), 0, "reading is fine");
	cr_assert_eq(tc_write(c, 1, 0, "x", 1), -EROFS);
	snprintf(p, sizeof(p), "%s/f", d);
	cr_assert_eq(access(p, F_OK), 0);
	tc_close(c);
}

/* Type byte of the readdir entry called name, or -1 when absent. */
static int entry_type_of(struct tc *c, int count, const char *name)
{
	size_t pos = 11, end = 11 + (size_t)count;

	while (pos < end) {
		uint16_t len = get16(c->out + pos + 22);

		cr_assert(pos + 24 + len <= end);
		if (len == strlen(name) &&
		    !memcmp(c->out + pos + 24, name, len))
			return c->out[pos + 21];
		pos += 24 + len;
	}
	return -1;
}

/* A mapped symlink is a plain host file: its entry must not claim to be
 * a regular file (DT_UNKNOWN makes the client ask); a directory stays
 * DT_DIR. */
Test(fs9p_mapped, readdir_leaves_mapped_types_to_getattr)
{
	struct tc *c = tc_open(FS9P_MAPPED, false);
	struct tqid q;
	int n;

	cr_assert_eq(tc_attach(c, 1, 0, NULL), 0);
	cr_assert_eq(tc_symlink(c, 1, "l", "/target", 0, &q), 0);
	cr_assert_eq(tc_mkdir(c, 1, "d", 0755, 0, &q), 0);
	cr_assert_eq(tc_walk1(c, 1, 2, NULL, NULL), 0);
	cr_assert_eq(tc_lopen(c, 2, O_RDONLY, NULL), 0);
	n = tc_readdir(c, 2, 0, 4096);
	cr_assert_gt(n, 0);
	cr_assert_eq(entry_type_of(c, n, "l"), DT_UNKNOWN);
	cr_assert_eq(entry_type_of(c, n, "d"), DT_DIR);
	tc_close(c);
}
