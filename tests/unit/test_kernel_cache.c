/* vmm/kernel_cache.c: where the cache lives, a miss that unpacks and a
 * hit that does not, distinct payloads kept apart, pruning to the most
 * recently used, leftovers of a dead vmm, failures that leave nothing
 * behind, and two processes filling one entry at once. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "vmm/kernel_cache.h"

#include "read_whole.h"

static char top[64], dir[PATH_MAX];

static void setup(void)
{
	snprintf(top, sizeof(top), "/tmp/vmm-kcache-XXXXXX");
	cr_assert_not_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/cache/vmm/kernels", top);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(kernel_cache, .init = setup, .fini = teardown);

/* A gzip payload (gzip's trailer holds the size, as in a bzImage) of
 * `size` bytes all equal to `fill`; the caller frees it. */
static uint8_t *payload(uint8_t fill, size_t size, size_t *len)
{
	char path[PATH_MAX], cmd[PATH_MAX * 2];
	uint8_t *data = malloc(size);
	FILE *fp;

	memset(data, fill, size);
	snprintf(path, sizeof(path), "%s/raw", top);
	fp = fopen(path, "wb");
	cr_assert_eq(fwrite(data, 1, size, fp), size);
	fclose(fp);
	free(data);
	snprintf(cmd, sizeof(cmd), "gzip -n <%s/raw >%s/raw.gz", top, top);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/raw.gz", top);
	return read_whole(path, len, 0);
}

static unsigned count(const char *prefix)
{
	struct dirent *d;
	unsigned n = 0;
	DIR *dp = opendir(dir);

	if (!dp)
		return 0;
	while ((d = readdir(dp)))
		n += !strncmp(d->d_name, prefix, strlen(prefix));
	closedir(dp);
	return n;
}

static void assert_entry(const struct kernel_cache_entry *e, uint8_t fill,
			 size_t size)
{
	uint8_t *b = malloc(size + 1);

	cr_assert_eq(e->size, size);
	cr_assert_eq(pread(e->fd, b, size + 1, 0), (ssize_t)size);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(b[i], fill, "byte %zu", i);
	free(b);
}

Test(kernel_cache, directory_from_xdg_or_home)
{
	char out[PATH_MAX];

	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	setenv("HOME", "/home/u", 1);
	cr_assert_eq(kernel_cache_dir(out), 0);
	cr_assert_str_eq(out, "/x/cache/vmm/kernels");
	/* A relative XDG_CACHE_HOME is invalid by the XDG spec: ignored. */
	setenv("XDG_CACHE_HOME", "rel", 1);
	cr_assert_eq(kernel_cache_dir(out), 0);
	cr_assert_str_eq(out, "/home/u/.cache/vmm/kernels");
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "", 1);
	cr_assert_eq(kernel_cache_dir(out), -ENOENT);
	unsetenv("HOME");
	cr_assert_eq(kernel_cache_dir(out), -ENOENT);
}

Test(kernel_cache, miss_then_hit)
{
	struct kernel_cache_entry e;
	struct stat st;
	char why[256] = "";
	size_t len;
	uint8_t *p = payload('a', 100000, &len);

	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_not(e.hit);
	assert_entry(&e, 'a', 100000);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	close(e.fd);
	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0);
	cr_assert(e.hit);
	assert_entry(&e, 'a', 100000);
	close(e.fd);
	cr_assert_eq(count("vmlinux-"), 1);
	cr_assert_eq(count(".tmp-"), 0);
	free(p);
}

Test(kernel_cache, different_payloads_different_entries)
{
	struct kernel_cache_entry a, b;
	char why[256];
	size_t la, lb;
	uint8_t *pa = payload('a', 5000, &la), *pb = payload('b', 5000, &lb);

	cr_assert_eq(la, lb, "same length, so only the hash tells them apart");
	cr_assert_eq(kernel_cache_get(dir, pa, la, &a, why, sizeof(why)), 0);
	cr_assert_eq(kernel_cache_get(dir, pb, lb, &b, why, sizeof(why)), 0);
	cr_assert_not(b.hit);
	cr_assert_str_neq(a.path, b.path);
	assert_entry(&a, 'a', 5000);
	assert_entry(&b, 'b', 5000);
	close(a.fd);
	close(b.fd);
	free(pa);
	free(pb);
}

/* Six kernels: the four used last stay. Using an old one makes it recent. */
Test(kernel_cache, prunes_to_the_most_recently_used)
{
	struct kernel_cache_entry e[6], again;
	struct timespec old[2] = { { 1000000, 0 }, { 1000000, 0 } };
	char why[256];
	size_t len[6];
	uint8_t *p[6];

	for (int i = 0; i < 6; i++) {
		p[i] = payload((uint8_t)('a' + i), 3000, &len[i]);
		cr_assert_eq(kernel_cache_get(dir, p[i], len[i], &e[i], why,
					      sizeof(why)),
			     0);
		close(e[i].fd);
		/* Age each entry so mtime order is the order of use. */
		old[0].tv_sec = old[1].tv_sec = 1000000 + i * 10;
		cr_assert_eq(utimensat(AT_FDCWD, e[i].path, old, 0), 0);
		if (i == 3) { /* use the first again: now the newest */
			cr_assert_eq(kernel_cache_get(dir, p[0], len[0], &again,
						      why, sizeof(why)),
				     0);
			cr_assert(again.hit);
			close(again.fd);
		}
	}
	cr_assert_eq(count("vmlinux-"), KERNEL_CACHE_KEEP);
	cr_assert_eq(access(e[0].path, F_OK), 0, "used at i=3: kept");
	cr_assert_neq(access(e[1].path, F_OK), 0);
	cr_assert_neq(access(e[2].path, F_OK), 0);
	for (int i = 3; i < 6; i++)
		cr_assert_eq(access(e[i].path, F_OK), 0, "entry %d", i);
	for (int i = 0; i < 6; i++)
		free(p[i]);
}

/* A temporary older than an hour is a dead vmm's; a fresh one may be a
 * running vmm's and stays. Files that are not the cache's stay. */
Test(kernel_cache, removes_a_dead_fill_only)
{
	struct kernel_cache_entry e;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char path[PATH_MAX + 32], why[256];
	size_t len;
	uint8_t *p = payload('z', 1000, &len);
	int fd;

	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0);
	close(e.fd);
	snprintf(path, sizeof(path), "%s/.tmp-dead", dir);
	cr_assert_geq(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	snprintf(path, sizeof(path), "%s/.tmp-live", dir);
	cr_assert_geq(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/notes", dir);
	cr_assert_geq(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	free(p);
	p = payload('y', 1000, &len); /* a fill prunes */
	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0);
	close(e.fd);
	cr_assert_eq(count(".tmp-"), 1);
	snprintf(path, sizeof(path), "%s/.tmp-live", dir);
	cr_assert_eq(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/notes", dir);
	cr_assert_eq(access(path, F_OK), 0);
	free(p);
}

Test(kernel_cache, a_failed_unpack_leaves_nothing)
{
	struct kernel_cache_entry e;
	char why[256];
	size_t len;
	uint8_t *p = payload('q', 20000, &len);

	p[len - 8] ^= 0xff; /* the CRC in gzip's trailer */
	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), -EIO);
	cr_assert(strstr(why, "gzip failed (exit status"), "%s", why);
	cr_assert_eq(e.fd, -1);
	cr_assert_eq(count("vmlinux-"), 0);
	cr_assert_eq(count(".tmp-"), 0);
	free(p);
}

Test(kernel_cache, drop_removes_the_entry)
{
	struct kernel_cache_entry e;
	char why[256];
	size_t len;
	uint8_t *p = payload('d', 2000, &len);

	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0);
	kernel_cache_drop(&e);
	cr_assert_eq(e.fd, -1);
	cr_assert_eq(count("vmlinux-"), 0);
	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0);
	cr_assert_not(e.hit);
	close(e.fd);
	free(p);
}

Test(kernel_cache, unwritable_directory_is_an_error)
{
	struct kernel_cache_entry e;
	char why[PATH_MAX + 64], want[PATH_MAX + 64];
	size_t len;
	uint8_t *p = payload('w', 2000, &len);

	int fd;

	/* Below a regular file: no directory can be made there. */
	snprintf(dir, sizeof(dir), "%s/file", top);
	cr_assert_geq(fd = open(dir, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	snprintf(dir, sizeof(dir), "%s/file/kernels", top);
	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)),
		     -ENOTDIR);
	snprintf(want, sizeof(want), "creating %s: %s", dir, strerror(ENOTDIR));
	cr_assert_str_eq(why, want);
	free(p);
}

/* Two processes miss the same entry at once: both end with a whole one. */
Test(kernel_cache, concurrent_fills)
{
	struct kernel_cache_entry e;
	char why[256];
	size_t len;
	uint8_t *p = payload('c', 2000000, &len);
	pid_t kids[2];
	int status;

	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		cr_assert_geq(kids[i], 0);
		if (kids[i] == 0) {
			struct kernel_cache_entry ce;
			char w[256];
			uint8_t b[4096];
			int r = kernel_cache_get(dir, p, len, &ce, w,
						 sizeof(w));
			if (r || ce.size != 2000000 ||
			    pread(ce.fd, b, sizeof(b), 1000000) != sizeof(b))
				_exit(1);
			for (size_t j = 0; j < sizeof(b); j++)
				if (b[j] != 'c')
					_exit(2);
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(waitpid(kids[i], &status, 0), kids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "child %d: status %#x", i, status);
	}
	cr_assert_eq(kernel_cache_get(dir, p, len, &e, why, sizeof(why)), 0);
	cr_assert(e.hit);
	assert_entry(&e, 'c', 2000000);
	close(e.fd);
	cr_assert_eq(count(".tmp-"), 0);
	free(p);
}
