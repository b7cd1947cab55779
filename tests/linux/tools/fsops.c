/* fsops: a fixed sequence of file-system operations in DIR, printing a
 * transcript of what each one returned and what the tree looks like
 * after. Run on a 9p mount and on a local file system, the two
 * transcripts must be identical: that is the 9p conformance oracle of the
 * lab tests (tests/linux/cases/9p-*.sh, tests/lab9p/).
 *
 *   fsops DIR         (DIR must exist and be empty; run as root)
 *   fsops --tree DIR  only the tree listing of DIR (to compare the host's
 *                     view of a share with a local run's)
 *
 * Only what a correct server must reproduce is printed: names, types,
 * modes, owners, sizes, link counts, contents, explicitly set timestamps
 * and errno names. Inode numbers, devices, block counts, access and
 * change times differ between file systems and are never printed.
 * Single-threaded apart from the forked children it waits for. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int failures;

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "ok";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EISDIR: return "EISDIR";
	case ENOTDIR: return "ENOTDIR";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EROFS: return "EROFS";
	case ENODATA: return "ENODATA";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case EXDEV: return "EXDEV";
	case ELOOP: return "ELOOP";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "other";
	}
}

/* Prints "STEP: result" for a call that returned r (errno on -1). */
static int step(const char *what, long r)
{
	int e = r < 0 ? errno : 0;

	printf("%s: %s\n", what, err_name(e));
	return e;
}

/* A step that must succeed for the rest to make sense. */
static void must(const char *what, long r)
{
	if (step(what, r)) {
		printf("fsops: FAILED at %s (%s)\n", what, strerror(errno));
		failures++;
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

static void pattern(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* Writes n bytes of pattern(seed) in chunks of chunk bytes. */
static int write_pattern(int fd, size_t n, unsigned seed, size_t chunk)
{
	char *buf = malloc(n);

	if (!buf)
		return -1;
	pattern(buf, n, seed);
	for (size_t off = 0; off < n; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;

		if (write(fd, buf + off, len) != (ssize_t)len) {
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}

static uint64_t file_hash(const char *path)
{
	char buf[65536];
	uint64_t h = 1469598103934665603ULL;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		h = fnv(h, buf, (size_t)n);
	close(fd);
	return h;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the tree under path (relative name rel), sorted, one line per
 * entry. */
static void list_tree(const char *path, const char *rel)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (!d) {
		printf("tree %s: opendir %s\n", rel, err_name(errno));
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char p[4096], r[4096], link[256];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		snprintf(r, sizeof(r), "%s/%s", rel, names[i]);
		if (lstat(p, &st)) {
			printf("tree %s: lstat %s\n", r, err_name(errno));
			continue;
		}
		printf("tree %s mode=%o uid=%u gid=%u nlink=%lu", r, st.st_mode,
		       st.st_uid, st.st_gid, (unsigned long)st.st_nlink);
		if (S_ISREG(st.st_mode))
			printf(" size=%lld hash=%016llx", (long long)st.st_size,
			       (unsigned long long)file_hash(p));
		if (S_ISLNK(st.st_mode)) {
			ssize_t l = readlink(p, link, sizeof(link) - 1);

			link[l < 0 ? 0 : l] = 0;
			printf(" -> %s", link);
		}
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			printf(" rdev=%u:%u", major(st.st_rdev),
			       minor(st.st_rdev));
		printf("\n");
		/* a/many is summed up by big_directory. */
		if (S_ISDIR(st.st_mode) && strcmp(r, "./a/many"))
			list_tree(p, r);
		free(names[i]);
	}
	free(names);
}

static void print_stat(const char *what, const char *path)
{
	struct stat st;

	if (lstat(path, &st)) {
		printf("%s: lstat %s\n", what, err_name(errno));
		return;
	}
	printf("%s: mode=%o uid=%u gid=%u nlink=%lu size=%lld\n", what,
	       st.st_mode, st.st_uid, st.st_gid, (unsigned long)st.st_nlink,
	       (long long)st.st_size);
}

static void files_and_links(void)
{
	struct stat st;
	char buf[256];
	ssize_t n;
	int fd;

	must("mkdir a", mkdir("a", 0755));
	must("mkdir a/b", mkdir("a/b", 0750));
	fd = open("a/f1", O_CREAT | O_EXCL | O_RDWR, 0640);
	must("create a/f1", fd);
	must("write a/f1", write_pattern(fd, 100000, 1, 4096));
	must("pwrite a/f1 at 1M", pwrite(fd, "end", 3, 1 << 20));
	must("fsync a/f1", fsync(fd));
	must("fdatasync a/f1", fdatasync(fd));
	must("fstat a/f1", fstat(fd, &st));
	printf("a/f1 size: %lld\n", (long long)st.st_size);
	close(fd);
	step("create a/f1 again O_EXCL",
	     open("a/f1", O_CREAT | O_EXCL | O_RDWR, 0640));
	step("open a/missing", open("a/missing", O_RDONLY));
	step("open a/f1/x", open("a/f1/x", O_RDONLY));
	must("symlink a/l1 -> f1", symlink("f1", "a/l1"));
	must("symlink a/dangling -> ../nowhere",
	     symlink("../nowhere", "a/dangling"));
	n = readlink("a/l1", buf, sizeof(buf) - 1);
	must("readlink a/l1", n);
	buf[n < 0 ? 0 : n] = 0;
	printf("a/l1 -> %s\n", buf);
	must("stat through a/l1", stat("a/l1", &st));
	printf("a/l1 target size: %lld\n", (long long)st.st_size);
	step("stat through a/dangling", stat("a/dangling", &st));
	must("link a/f1 a/h1", link("a/f1", "a/h1"));
	print_stat("a/f1 after link", "a/f1");
	must("rename a/h1 a/b/h2", rename("a/h1", "a/b/h2"));
	fd = open("a/victim", O_CREAT | O_WRONLY, 0600);
	must("create a/victim", fd);
	close(fd);
	must("rename a/victim over a/b/h2", rename("a/victim", "a/b/h2"));
	print_stat("a/f1 after rename over its link", "a/f1");
	must("renameat a/b a/c", renameat(AT_FDCWD, "a/b", AT_FDCWD, "a/c"));
	step("rename a/c into itself", rename("a", "a/c/x"));
}

static void nodes(void)
{
	must("mkfifo a/fifo", mkfifo("a/fifo", 0600));
	must("mknod a/null c 1:3",
	     mknod("a/null", S_IFCHR | 0666, makedev(1, 3)));
	must("mknod a/sock", mknod("a/sock", S_IFSOCK | 0644, 0));
	print_stat("a/fifo", "a/fifo");
	print_stat("a/null", "a/null");
}

static void attributes(void)
{
	struct timespec ts[2] = { { 1234567890, 123456789 },
				  { 1300000000, 987654321 } };
	struct stat st;
	int fd;

	must("chmod a/f1 0604", chmod("a/f1", 0604));
	must("chown a/f1 1234:5678", chown("a/f1", 1234, 5678));
	must("lchown a/l1 42:43", lchown("a/l1", 42, 43));
	must("truncate a/f1 5000", truncate("a/f1", 5000));
	must("utimensat a/f1", utimensat(AT_FDCWD, "a/f1", ts, 0));
	must("stat a/f1", stat("a/f1", &st));
	printf("a/f1 times: atime=%lld.%09ld mtime=%lld.%09ld\n",
	       (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	print_stat("a/f1", "a/f1");
	fd = open("a/f1", O_WRONLY | O_APPEND);
	must("open a/f1 append", fd);
	must("append a/f1", write(fd, "tail", 4));
	must("ftruncate a/f1 6000", ftruncate(fd, 6000));
	close(fd);
	print_stat("a/f1 after append and ftruncate", "a/f1");
}

/* setuid/setgid cleared when an unprivileged owner writes, as a local
 * file system does it. */
static void setid_cleared(void)
{
	int fd = open("a/suid", O_CREAT | O_WRONLY, 0644);
	pid_t pid;
	int status;

	must("create a/suid", fd);
	close(fd);
	must("chown a/suid 65534:65534", chown("a/suid", 65534, 65534));
	must("chmod a/suid 06755", chmod("a/suid", 06755));
	print_stat("a/suid before write", "a/suid");
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = open("a/suid", O_WRONLY);
		if (fd < 0 || write(fd, "x", 1) != 1)
			_exit(3);
		close(fd);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("unprivileged write a/suid: status %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	print_stat("a/suid after write", "a/suid");
}

/* The user.* names of a listxattr result, sorted: the order of the list
 * is the file system's business. */
static void print_user_names(char *list, ssize_t len)
{
	char *names[16];
	size_t n = 0;

	for (ssize_t i = 0; i < len && n < 16;
	     i += (ssize_t)strlen(list + i) + 1)
		if (!strncmp(list + i, "user.", 5))
			names[n++] = list + i;
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++)
		printf("listxattr: %s\n", names[i]);
}

static void xattrs(void)
{
	char buf[256];
	ssize_t n;

	must("setxattr a/f1 user.test",
	     setxattr("a/f1", "user.test", "hello", 5, XATTR_CREATE));
	step("setxattr a/f1 user.test XATTR_CREATE again",
	     setxattr("a/f1", "user.test", "again", 5, XATTR_CREATE));
	must("setxattr a/f1 user.other",
	     setxattr("a/f1", "user.other", "", 0, 0));
	n = getxattr("a/f1", "user.test", buf, sizeof(buf));
	must("getxattr a/f1 user.test", n);
	printf("user.test = %.*s\n", (int)(n < 0 ? 0 : n), buf);
	n = getxattr("a/f1", "user.test", NULL, 0);
	printf("user.test size query: %zd\n", n);
	step("getxattr a/f1 user.missing",
	     getxattr("a/f1", "user.missing", buf, sizeof(buf)));
	n = listxattr("a/f1", buf, sizeof(buf));
	must("listxattr a/f1", n);
	print_user_names(buf, n);
	must("removexattr a/f1 user.other", removexattr("a/f1", "user.other"));
	step("removexattr a/f1 user.other again",
	     removexattr("a/f1", "user.other"));
}

static void locks(void)
{
	struct flock fl = { .l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 0,
			    .l_len = 100 };
	int fd = open("a/f1", O_RDWR);
	pid_t pid;
	int status;

	must("open a/f1 for locking", fd);
	must("F_SETLK write [0,100)", fcntl(fd, F_SETLK, &fl));
	pid = fork();
	if (pid == 0) {
		int cfd = open("a/f1", O_RDWR);
		struct flock q = { .l_type = F_WRLCK,
				   .l_whence = SEEK_SET,
				   .l_start = 50,
				   .l_len = 10 };
		struct flock other = q;

		other.l_start = 200;
		if (cfd < 0 || fcntl(cfd, F_GETLK, &q))
			_exit(10);
		if (fcntl(cfd, F_SETLK, &other))
			_exit(11);
		/* 1: the range is locked by the parent; then 0 when the
		 * lock attempt on it fails with EAGAIN/EACCES. */
		if (q.l_type != F_WRLCK)
			_exit(12);
		q.l_type = F_WRLCK;
		if (fcntl(cfd, F_SETLK, &q) == 0)
			_exit(13);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("child lock checks: status %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	fl.l_type = F_UNLCK;
	must("F_SETLK unlock", fcntl(fd, F_SETLK, &fl));
	close(fd);
}

static void big_directory(void)
{
	char name[300];
	DIR *d;
	struct dirent *e;
	int count = 0, fd;
	uint64_t h = 0;

	must("mkdir a/many", mkdir("a/many", 0755));
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name),
			 "a/many/entry-%04d-with-a-longer-name-to-fill-"
			 "the-reply-%0*d",
			 i, i % 7 * 20 + 1, 0);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (fd < 0) {
			must(name, fd);
			return;
		}
		close(fd);
	}
	d = opendir("a/many");
	must("opendir a/many", d ? 0 : -1);
	while (d && (e = readdir(d))) {
		count++;
		/* Order-independent: a sum of per-name hashes. */
		h += fnv(1469598103934665603ULL, e->d_name, strlen(e->d_name));
	}
	if (d)
		closedir(d);
	printf("a/many: %d entries, name sum %016llx\n", count,
	       (unsigned long long)h);
}

static void unlinked_but_open(void)
{
	struct stat st;
	char buf[16] = { 0 };
	int fd = open("a/u", O_CREAT | O_RDWR, 0600);

	must("create a/u", fd);
	must("write a/u", write_pattern(fd, 8192, 3, 8192));
	must("unlink a/u", unlink("a/u"));
	must("fstat unlinked a/u", fstat(fd, &st));
	printf("unlinked a/u: nlink=%lu size=%lld\n",
	       (unsigned long)st.st_nlink, (long long)st.st_size);
	must("ftruncate unlinked a/u 4096", ftruncate(fd, 4096));
	must("fstat unlinked a/u again", fstat(fd, &st));
	printf("unlinked a/u: size=%lld\n", (long long)st.st_size);
	must("pread unlinked a/u", pread(fd, buf, 10, 100));
	printf("unlinked a/u bytes 100..110: %s\n", buf);
	close(fd);
}

static void big_file(void)
{
	int fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0644);

	must("create big", fd);
	must("write big 8 MiB", write_pattern(fd, 8 << 20, 5, 1 << 20));
	close(fd);
	printf("big hash: %016llx\n", (unsigned long long)file_hash("big"));
}

static void removal(void)
{
	struct statfs sf;

	step("rmdir a/c (not empty)", rmdir("a/c"));
	must("unlink a/c/h2", unlink("a/c/h2"));
	must("rmdir a/c", rmdir("a/c"));
	step("rmdir a/f1 (a file)", rmdir("a/f1"));
	step("unlink a/many (a directory)", unlink("a/many"));
	must("statfs .", statfs(".", &sf));
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--tree")) {
		if (chdir(argv[2])) {
			perror(argv[2]);
			return 2;
		}
		list_tree(".", ".");
		return 0;
	}
	if (argc != 2 || chdir(argv[1])) {
		fprintf(stderr, "usage: fsops DIR (an existing empty dir)\n");
		return 2;
	}
	umask(0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	files_and_links();
	nodes();
	attributes();
	setid_cleared();
	xattrs();
	locks();
	big_directory();
	unlinked_but_open();
	big_file();
	removal();
	list_tree(".", ".");
	printf("fsops: %s\n", failures ? "FAILED" : "done");
	return failures ? 1 : 0;
}
