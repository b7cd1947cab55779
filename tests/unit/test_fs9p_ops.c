/* fs9p message handlers end to end through fs9p_handle against a temporary
 * export directory (passthrough model, run as root). */
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "fs9p_client.h"

Test(fs9p_ops, version_negotiates_and_resets)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	uint32_t msize;
	char v[32];

	cr_assert_eq(tc_version(c, 8192, "9P2000.L", &msize, v), 0);
	cr_assert_eq(msize, 8192);
	cr_assert_eq(fs9p_session_msize(c->s), 8192);
	cr_assert_eq(tc_version(c, 1u << 30, "9P2000.L", &msize, v), 0);
	cr_assert_eq(msize, TC_MSIZE, "capped at the session's max");
	cr_assert_eq(tc_version(c, 4095, "9P2000.L", &msize, v), -EINVAL);
	cr_assert_eq(tc_version(c, 8192, "9P2000.u", &msize, v), 0);
	cr_assert_str_eq(v, "unknown");
	/* Tversion clunked fid 0 */
	cr_assert_eq(tc_clunk(c, 0), -EBADF);
	tc_close(c);
}

Test(fs9p_ops, attach_auth_flush)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	struct tqid q;
	struct stat st;

	cr_assert_eq(stat(c->dir, &st), 0);
	cr_assert_eq(tc_attach(c, 1, 1000, &q), 0);
	cr_assert_eq(q.type, P9_QTDIR);
	cr_assert_eq(q.path, st.st_ino, "root device gets prefix 0");
	cr_assert_eq(tc_attach(c, 1, 0, &q), -EINVAL, "fid in use");
	tb_begin(c, P9_TATTACH);
	tb_u32(c, 2);
	tb_u32(c, 7); /* afid not NOFID */
	tb_str(c, "");
	tb_str(c, "");
	tb_u32(c, 0);
	cr_assert_eq(tc_call(c), -EINVAL);
	tb_begin(c, P9_TAUTH);
	tb_u32(c, 3);
	tb_str(c, "");
	tb_str(c, "");
	tb_u32(c, 0);
	cr_assert_eq(tc_call(c), -EOPNOTSUPP);
	tb_begin(c, P9_TFLUSH);
	tb_u16(c, 5);
	cr_assert_eq(tc_call(c), 0);
	cr_assert_eq(c->rlen, 7);
	tc_close(c);
}

Test(fs9p_ops, create_write_read_getattr)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], buf[64];
	struct tqid q, q2;
	struct tattr a;
	struct stat st;

	cr_assert_eq(tc_walk1(c, 0, 1, NULL, NULL), 0, "clone");
	cr_assert_eq(tc_lcreate(c, 1, "f", O_RDWR, 0100640, 1234, &q), 0);
	cr_assert_eq(q.type, P9_QTFILE);
	cr_assert_eq(tc_write(c, 1, 0, "hello world", 11), 11);
	cr_assert_eq(tc_read(c, 1, 6, 100, buf), 5);
	cr_assert_eq(memcmp(buf, "world", 5), 0);
	cr_assert_eq(tc_read(c, 1, 11, 100, buf), 0, "EOF");
	cr_assert_eq(tc_read(c, 1, 0, 3, buf), 3, "never longer than asked");
	cr_assert_eq(stat(tc_path(c, "f", p), &st), 0);
	cr_assert_eq(st.st_mode, 0100640);
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_gid, 1234);
	cr_assert_eq(tc_walk1(c, 0, 2, "f", &q2), 1);
	cr_assert_eq(q2.path, q.path);
	cr_assert_eq(tc_getattr(c, 2, &a), 0);
	cr_assert_eq(a.valid, 0x7ff);
	cr_assert_eq(a.qid.path, st.st_ino);
	cr_assert_eq(a.mode, 0100640);
	cr_assert_eq(a.gid, 1234);
	cr_assert_eq(a.size, 11);
	cr_assert_eq(a.nlink, 1);
	cr_assert_eq(a.mtime_sec, (uint64_t)st.st_mtim.tv_sec);
	cr_assert_eq(a.mtime_nsec, (uint64_t)st.st_mtim.tv_nsec);
	cr_assert_eq(a.gen, 0);
	cr_assert_eq(a.dver, 0);
	cr_assert_eq(tc_fsync(c, 1, 0), 0);
	cr_assert_eq(tc_fsync(c, 1, 1), 0);
	cr_assert_eq(tc_fsync(c, 2, 0), -EBADF, "not open");
	cr_assert_eq(tc_read(c, 2, 0, 10, buf), -EBADF, "not open");
	cr_assert_eq(tc_lopen(c, 2, O_RDONLY, &q2), 0);
	cr_assert_eq(tc_read(c, 2, 0, 5, buf), 5);
	cr_assert_eq(tc_write(c, 2, 0, "x", 1), -EBADF, "opened read-only");
	tc_close(c);
}

Test(fs9p_ops, attach_uid_owns_creations)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX];
	struct stat st;

	cr_assert_eq(tc_attach(c, 9, 1001, NULL), 0);
	cr_assert_eq(tc_mkdir(c, 9, "d", 0750, 1002, NULL), 0);
	cr_assert_eq(stat(tc_path(c, "d", p), &st), 0);
	cr_assert_eq(st.st_mode, 040750, "exact mode, no umask");
	cr_assert_eq(st.st_uid, 1001);
	cr_assert_eq(st.st_gid, 1002);
	tc_close(c);
}

Test(fs9p_ops, mkdir_symlink_mknod_readlink_link)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], buf[256];
	struct tqid q;
	struct stat st;

	cr_assert_eq(tc_mkdir(c, 0, "d", 0755, 0, &q), 0);
	cr_assert_eq(q.type, P9_QTDIR);
	cr_assert_eq(tc_mkdir(c, 0, "d", 0755, 0, &q), -EEXIST);
	cr_assert_eq(tc_symlink(c, 0, "l", "/etc/passwd", 0, &q), 0);
	cr_assert_eq(q.type, P9_QTSYMLINK);
	cr_assert_eq(tc_walk1(c, 0, 1, "l", NULL), 1);
	cr_assert_eq(tc_readlink(c, 1, buf, sizeof(buf)), 11);
	cr_assert_str_eq(buf, "/etc/passwd");
	cr_assert_eq(tc_mknod(c, 0, "fifo", S_IFIFO | 0644, 0, 0, 0, &q), 0);
	cr_assert_eq(tc_mknod(c, 0, "chr", S_IFCHR | 0600, 1, 3, 0, &q), 0);
	cr_assert_eq(stat(tc_path(c, "chr", p), &st), 0);
	cr_assert(S_ISCHR(st.st_mode));
	cr_assert_eq(st.st_rdev, makedev(1, 3));
	cr_assert_eq(tc_mknod(c, 0, "bad", 0170000 | 0644, 0, 0, 0, &q),
		     -EINVAL);
	cr_assert_eq(tc_mknod(c, 0, "sock", S_IFSOCK | 0644, 0, 0, 0, &q), 0);
	cr_assert_eq(lstat(tc_path(c, "sock", p), &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	tc_host_file(c, "f", "abc");
	cr_assert_eq(tc_walk1(c, 0, 2, "f", NULL), 1);
	cr_assert_eq(tc_walk1(c, 0, 3, "d", NULL), 1);
	cr_assert_eq(tc_link(c, 3, 2, "hard"), 0);
	cr_assert_eq(stat(tc_path(c, "d/hard", p), &st), 0);
	cr_assert_eq(st.st_nlink, 2);
	tc_close(c);
}

Test(fs9p_ops, unlinkat_rename_renameat_remove)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX];

	cr_assert_eq(tc_mkdir(c, 0, "d", 0755, 0, NULL), 0);
	cr_assert_eq(tc_mkdir(c, 0, "e", 0755, 0, NULL), 0);
	tc_host_file(c, "f", "x");
	cr_assert_eq(tc_walk1(c, 0, 1, "d", NULL), 1);
	cr_assert_eq(tc_renameat(c, 0, "f", 1, "g"), 0);
	cr_assert_eq(access(tc_path(c, "d/g", p), F_OK), 0);
	cr_assert_eq(tc_walk1(c, 1, 2, "g", NULL), 1);
	cr_assert_eq(tc_rename(c, 2, 0, "h"), 0);
	cr_assert_eq(access(tc_path(c, "h", p), F_OK), 0);
	cr_assert_eq(tc_remove(c, 2), 0, "uses the new name");
	cr_assert_eq(access(tc_path(c, "h", p), F_OK), -1);
	cr_assert_eq(tc_clunk(c, 2), -EBADF, "remove clunked it");
	cr_assert_eq(tc_unlinkat(c, 0, "e", 0), -EISDIR);
	cr_assert_eq(tc_unlinkat(c, 0, "e", P9_AT_REMOVEDIR), 0);
	cr_assert_eq(tc_unlinkat(c, 0, "e", P9_AT_REMOVEDIR), -ENOENT);
	cr_assert_eq(tc_unlinkat(c, 0, "d", 0x1), -EINVAL, "unknown flag");
	cr_assert_eq(tc_remove(c, 0), -EBUSY, "the root stays");
	tc_close(c);
}

Test(fs9p_ops, remove_checks_the_name_still_holds_the_file)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX];

	tc_host_file(c, "a", "1");
	cr_assert_eq(tc_walk1(c, 0, 1, "a", NULL), 1);
	cr_assert_eq(tc_renameat(c, 0, "a", 0, "b"), 0);
	tc_host_file(c, "a", "2");
	cr_assert_eq(tc_remove(c, 1), -ENOENT);
	cr_assert_eq(access(tc_path(c, "a", p), F_OK), 0, "other file kept");
	tc_close(c);
}

Test(fs9p_ops, setattr_everything)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX];
	struct tattr a;
	struct stat st;

	tc_host_file(c, "f", "0123456789");
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_setattr(c, 1,
				P9_SETATTR_MODE | P9_SETATTR_UID |
					P9_SETATTR_GID | P9_SETATTR_SIZE,
				0604, 77, 88, 4, 0, 0, 0, 0),
		     0);
	cr_assert_eq(tc_setattr(c, 1,
				P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET |
					P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET,
				0, 0, 0, 0, 1000000000, 123456789, 1500000000,
				987654321),
		     0);
	cr_assert_eq(stat(tc_path(c, "f", p), &st), 0);
	cr_assert_eq(st.st_mode, 0100604);
	cr_assert_eq(st.st_uid, 77);
	cr_assert_eq(st.st_gid, 88);
	cr_assert_eq(st.st_size, 4);
	cr_assert_eq(tc_getattr(c, 1, &a), 0);
	cr_assert_eq(a.atime_sec, 1000000000);
	cr_assert_eq(a.atime_nsec, 123456789, "sub-second atime kept");
	cr_assert_eq(a.mtime_sec, 1500000000);
	cr_assert_eq(a.mtime_nsec, 987654321, "sub-second mtime kept");
	/* MTIME without MTIME_SET: now */
	cr_assert_eq(tc_setattr(c, 1, P9_SETATTR_MTIME, 0, 0, 0, 0, 0, 0, 0, 0),
		     0);
	cr_assert_eq(tc_getattr(c, 1, &a), 0);
	cr_assert_gt(a.mtime_sec, 1600000000);
	cr_assert_eq(a.atime_sec, 1000000000, "atime untouched");
	cr_assert_eq(tc_setattr(c, 1, P9_SETATTR_CTIME, 0, 0, 0, 0, 0, 0, 0, 0),
		     0);
	cr_assert_eq(tc_setattr(c, 1, P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET,
				0, 0, 0, 0, 1, 1000000000, 0, 0),
		     -EINVAL, "nsec out of range");
	tc_close(c);
}

Test(fs9p_ops, write_clears_setuid)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX];
	struct stat st;

	tc_host_file(c, "f", "");
	cr_assert_eq(chmod(tc_path(c, "f", p), 06755), 0);
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_lopen(c, 1, O_WRONLY, NULL), 0);
	cr_assert_eq(tc_write(c, 1, 0, "x", 1), 1);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	tc_host_file(c, "g", "");
	cr_assert_eq(chmod(tc_path(c, "g", p), 02640), 0);
	cr_assert_eq(tc_walk1(c, 0, 2, "g", NULL), 1);
	cr_assert_eq(tc_lopen(c, 2, O_WRONLY, NULL), 0);
	cr_assert_eq(tc_write(c, 2, 0, "x", 1), 1);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 02640,
		     "setgid without group exec stays");
	tc_close(c);
}

Test(fs9p_ops, open_unlink_fstat_ftruncate_read)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	struct tattr a;
	char buf[16];

	tc_host_file(c, "f", "0123456789");
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_lopen(c, 1, O_RDWR, NULL), 0);
	cr_assert_eq(tc_unlinkat(c, 0, "f", 0), 0);
	cr_assert_eq(tc_walk1(c, 0, 2, "f", NULL), -ENOENT);
	cr_assert_eq(tc_getattr(c, 1, &a), 0);
	cr_assert_eq(a.nlink, 0);
	cr_assert_eq(a.size, 10);
	cr_assert_eq(tc_setattr(c, 1, P9_SETATTR_SIZE, 0, 0, 0, 3, 0, 0, 0, 0),
		     0);
	cr_assert_eq(tc_getattr(c, 1, &a), 0);
	cr_assert_eq(a.size, 3);
	cr_assert_eq(tc_read(c, 1, 0, 16, buf), 3);
	cr_assert_eq(memcmp(buf, "012", 3), 0);
	tc_close(c);
}

/* Parses readdir data into names (joined by ' ') and the last offset. */
static int dirents(struct tc *c, int count, char *names, uint64_t *last)
{
	size_t pos = 11, end = 11 + (size_t)count;
	int n = 0;

	while (pos < end) {
		uint8_t qt = c->out[pos];
		uint16_t len;

		*last = get64(c->out + pos + 13);
		len = get16(c->out + pos + 22);
		cr_assert(pos + 24 + len <= end);
		strncat(names, (char *)c->out + pos + 24, len);
		strcat(names, qt == P9_QTDIR ? "/ " : " ");
		pos += 24 + len;
		n++;
	}
	return n;
}

Test(fs9p_ops, readdir_fills_and_resumes)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char names[8192] = "", all[8192] = "";
	uint64_t last = 0;
	int n, total = 0;
	char nm[32];

	for (int i = 0; i < 50; i++) {
		snprintf(nm, sizeof(nm), "file%02d", i);
		tc_host_file(c, nm, "");
	}
	cr_assert_eq(tc_walk1(c, 0, 1, NULL, NULL), 0);
	cr_assert_eq(tc_readdir(c, 1, 0, 100), -EBADF, "not opened");
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY | O_DIRECTORY, NULL), 0);
	n = tc_readdir(c, 1, 0, 100);
	/* entries are 24 + 6 bytes ("file00"), "." and ".." 25 and 26 */
	cr_assert_gt(n, 60);
	cr_assert_leq(n, 100);
	total += dirents(c, n, all, &last);
	while ((n = tc_readdir(c, 1, last, 4096)) > 0)
		total += dirents(c, n, all, &last);
	cr_assert_eq(n, 0);
	cr_assert_eq(total, 52, "every entry once: %s", all);
	cr_assert(strstr(all, "./ "));
	cr_assert(strstr(all, "../ "));
	cr_assert(strstr(all, "file49 "));
	/* from the start again: all of it in one reply */
	n = tc_readdir(c, 1, 0, 60000);
	cr_assert_eq(dirents(c, n, names, &last), 52);
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), -EINVAL, "already open");
	tc_close(c);
}

Test(fs9p_ops, readdir_root_dotdot_is_root)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	struct stat st;
	size_t pos = 11;
	int n;

	cr_assert_eq(stat(c->dir, &st), 0);
	cr_assert_eq(tc_walk1(c, 0, 1, NULL, NULL), 0);
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), 0);
	n = tc_readdir(c, 1, 0, 4096);
	cr_assert_eq(n, 51, "just . and ..");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(get64(c->out + pos + 5), st.st_ino);
		pos += 24 + get16(c->out + pos + 22);
	}
	tc_close(c);
}

Test(fs9p_ops, statfs)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	uint32_t type, namelen;

	cr_assert_eq(tc_statfs(c, 0, &type, &namelen), 0);
	cr_assert_eq(namelen, 255);
	cr_assert_neq(type, 0);
	tc_close(c);
}

Test(fs9p_ops, xattr_walk_read_create)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], buf[64];
	ssize_t n;

	tc_host_file(c, "f", "");
	cr_assert_eq(setxattr(tc_path(c, "f", p), "user.a", "value", 5, 0), 0);
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_xattrwalk(c, 1, 2, "user.a"), 5);
	cr_assert_eq(tc_read(c, 2, 0, 64, buf), 5);
	cr_assert_eq(memcmp(buf, "value", 5), 0);
	cr_assert_eq(tc_read(c, 2, 2, 64, buf), 3);
	cr_assert_eq(tc_clunk(c, 2), 0);
	cr_assert_eq(tc_xattrwalk(c, 1, 2, "user.none"), -ENODATA);
	cr_assert_eq(tc_xattrwalk(c, 1, 2, ""), 7, "the list: user.a\\0");
	cr_assert_eq(tc_read(c, 2, 0, 64, buf), 7);
	cr_assert_str_eq(buf, "user.a");
	cr_assert_eq(tc_clunk(c, 2), 0);
	/* create: Twrite fills, Tclunk sets */
	cr_assert_eq(tc_walk1(c, 1, 3, NULL, NULL), 0);
	cr_assert_eq(tc_xattrcreate(c, 3, "user.b", 6, 0), 0);
	cr_assert_eq(tc_write(c, 3, 0, "abc", 3), 3);
	cr_assert_eq(tc_write(c, 3, 3, "defg", 4), -ENOSPC);
	cr_assert_eq(tc_write(c, 3, 3, "def", 3), 3);
	cr_assert_eq(getxattr(p, "user.b", buf, sizeof(buf)), -1, "not yet");
	cr_assert_eq(tc_clunk(c, 3), 0);
	n = getxattr(p, "user.b", buf, sizeof(buf));
	cr_assert_eq(n, 6);
	cr_assert_eq(memcmp(buf, "abcdef", 6), 0);
	/* XATTR_CREATE on an existing name fails at clunk */
	cr_assert_eq(tc_walk1(c, 1, 3, NULL, NULL), 0);
	cr_assert_eq(tc_xattrcreate(c, 3, "user.b", 1, XATTR_CREATE), 0);
	cr_assert_eq(tc_write(c, 3, 0, "z", 1), 1);
	cr_assert_eq(tc_clunk(c, 3), -EEXIST);
	/* short write: EINVAL at clunk */
	cr_assert_eq(tc_walk1(c, 1, 3, NULL, NULL), 0);
	cr_assert_eq(tc_xattrcreate(c, 3, "user.c", 4, 0), 0);
	cr_assert_eq(tc_clunk(c, 3), -EINVAL);
	/* removal: size 0, XATTR_REPLACE */
	cr_assert_eq(tc_walk1(c, 1, 3, NULL, NULL), 0);
	cr_assert_eq(tc_xattrcreate(c, 3, "user.b", 0, XATTR_REPLACE), 0);
	cr_assert_eq(tc_clunk(c, 3), 0);
	cr_assert_eq(getxattr(p, "user.b", buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ENODATA);
	cr_assert_eq(tc_xattrcreate(c, 1, "user.big", 65537, 0), -E2BIG);
	tc_close(c);
}

Test(fs9p_ops, lock_and_getlock_never_block)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);

	tc_host_file(c, "f", "0123456789");
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_walk1(c, 0, 2, "f", NULL), 1);
	cr_assert_eq(tc_lock(c, 1, P9_LOCK_TYPE_WRLCK, 0, 0, 0), -EBADF);
	cr_assert_eq(tc_lopen(c, 1, O_RDWR, NULL), 0);
	cr_assert_eq(tc_lopen(c, 2, O_RDWR, NULL), 0);
	cr_assert_eq(tc_lock(c, 1, P9_LOCK_TYPE_WRLCK, 0, 0, 5),
		     P9_LOCK_SUCCESS);
	cr_assert_eq(
		tc_lock(c, 2, P9_LOCK_TYPE_WRLCK, P9_LOCK_FLAGS_BLOCK, 2, 1),
		P9_LOCK_BLOCKED, "a blocking request is not blocked on");
	cr_assert_eq(tc_lock(c, 2, P9_LOCK_TYPE_RDLCK, 0, 5, 0),
		     P9_LOCK_SUCCESS, "no overlap");
	tb_begin(c, P9_TGETLOCK);
	tb_u32(c, 2);
	tb_u8(c, P9_LOCK_TYPE_WRLCK);
	tb_u64(c, 0);
	tb_u64(c, 0);
	tb_u32(c, 7);
	tb_str(c, "guest");
	cr_assert_eq(tc_call(c), 0);
	cr_assert_eq(tr_u8(c), P9_LOCK_TYPE_WRLCK);
	cr_assert_eq(tr_u64(c), 0);
	cr_assert_eq(tr_u64(c), 5);
	tr_u32(c);
	cr_assert_eq(tc_lock(c, 1, P9_LOCK_TYPE_UNLCK, 0, 0, 0),
		     P9_LOCK_SUCCESS);
	cr_assert_eq(tc_lock(c, 2, P9_LOCK_TYPE_WRLCK, 0, 0, 5),
		     P9_LOCK_SUCCESS);
	cr_assert_eq(tc_lock(c, 2, 3, 0, 0, 5), -EINVAL, "bad type");
	tc_close(c);
}

Test(fs9p_ops, lopen_of_device_fifo_refused)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);

	cr_assert_eq(tc_mknod(c, 0, "fifo", S_IFIFO | 0666, 0, 0, 0, NULL), 0);
	cr_assert_eq(tc_mknod(c, 0, "mem", S_IFCHR | 0666, 1, 1, 0, NULL), 0);
	cr_assert_eq(tc_symlink(c, 0, "l", "fifo", 0, NULL), 0);
	cr_assert_eq(tc_walk1(c, 0, 1, "fifo", NULL), 1);
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), -EPERM, "would block");
	cr_assert_eq(tc_walk1(c, 0, 2, "mem", NULL), 1);
	cr_assert_eq(tc_lopen(c, 2, O_RDWR, NULL), -EPERM, "host device");
	cr_assert_eq(tc_walk1(c, 0, 3, "l", NULL), 1);
	cr_assert_eq(tc_lopen(c, 3, O_RDONLY, NULL), -ELOOP);
	cr_assert_eq(tc_walk1(c, 0, 4, NULL, NULL), 0);
	cr_assert_eq(tc_lopen(c, 4, O_RDWR, NULL), -EISDIR);
	cr_assert_eq(tc_lcreate(c, 4, "fifo", O_RDWR, 0644, 0, NULL), -EEXIST,
		     "never opens an existing node");
	tc_close(c);
}

/* Passthrough served by an unprivileged user (the test rig's --rw shares):
 * a creation for another uid keeps the server's owner, as QEMU's
 * security_model=none does, while an explicit chown to another uid fails
 * with EPERM as on a local file system. */
Test(fs9p_ops, passthrough_unprivileged_creations_stay_the_servers)
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
		int step = 1;

		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(100);
		c = tc_open_dir(d, FS9P_PASSTHROUGH, false);
		if (tc_walk1(c, 0, 1, NULL, NULL) != 0)
			_exit(step);
		step++;
		/* attach uid 0 and gid 0 asked for: not grantable */
		if (tc_lcreate(c, 1, "f", O_RDWR, 0640, 0, NULL) != 0)
			_exit(step);
		step++;
		if (stat(tc_path(c, "f", p), &st) || st.st_uid != 65534 ||
		    (st.st_mode & 07777) != 0640)
			_exit(step);
		step++;
		if (tc_getattr(c, 1, &a) || a.uid != 65534)
			_exit(step);
		step++;
		if (tc_setattr(c, 1, P9_SETATTR_UID, 0, 0, 0, 0, 0, 0, 0, 0) !=
		    -EPERM)
			_exit(step);
		step++;
		if (tc_mkdir(c, 0, "dir", 0750, 0, NULL) != 0)
			_exit(step);
		tc_close(c);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "failed at step %d",
		     WEXITSTATUS(status));
	tc_rm_rf(d);
}
