/* Main thread at start-up (the kernel loader); no state of its own.
 * Several vmm processes may share the cache: an entry is written under a
 * temporary name and renamed into place, so a reader sees a whole entry or
 * none, and pruning only unlinks names (a process that has an entry open
 * keeps it). */
#include "kernel_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unpack.h"

#define ENTRY_PREFIX "vmlinux-"
#define TMP_PREFIX ".tmp-"
#define TMP_STALE_SECONDS 3600

int kernel_cache_dir(char out[PATH_MAX])
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/vmm/kernels", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/.cache/vmm/kernels", home);
	else
		return -ENOENT;
	return n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* Not for security (a user's own cache): tells kernels apart. 64-bit
 * FNV-1a over 8-byte words, then the tail bytes. */
static uint64_t payload_hash(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

struct seen {
	char name[NAME_MAX + 1];
	struct timespec mtime;
};

static int newer_first(const void *a, const void *b)
{
	const struct timespec *x = &((const struct seen *)a)->mtime,
			      *y = &((const struct seen *)b)->mtime;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? 1 : -1;
	return x->tv_nsec < y->tv_nsec ? 1 : (x->tv_nsec > y->tv_nsec ? -1 : 0);
}

/* Keeps the KERNEL_CACHE_KEEP most recently used entries; removes
 * temporaries left by a vmm that died while unpacking. Best effort: a
 * cache that cannot be pruned still works. */
static void prune(const char *dir)
{
	struct seen *all = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	struct stat st;
	time_t now = time(NULL);
	DIR *dp = opendir(dir);

	if (!dp)
		return;
	while ((d = readdir(dp))) {
		bool entry = !strncmp(d->d_name, ENTRY_PREFIX,
				      strlen(ENTRY_PREFIX)),
		     tmp = !strncmp(d->d_name, TMP_PREFIX, strlen(TMP_PREFIX));
		if ((!entry && !tmp) ||
		    fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (tmp) {
			if (now - st.st_mtime > TMP_STALE_SECONDS)
				unlinkat(dirfd(dp), d->d_name, 0);
			continue;
		}
		if (n == cap) {
			struct seen *m = realloc(
				all, (cap = cap ? cap * 2 : 16) * sizeof(*all));
			if (!m)
				break;
			all = m;
		}
		snprintf(all[n].name, sizeof(all[n].name), "%s", d->d_name);
		all[n++].mtime = st.st_mtim;
	}
	qsort(all, n, sizeof(*all), newer_first);
	for (size_t i = KERNEL_CACHE_KEEP; i < n; i++)
		unlinkat(dirfd(dp), all[i].name, 0);
	free(all);
	closedir(dp);
}

static int open_entry(struct kernel_cache_entry *e)
{
	struct stat st;
	int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	e->fd = fd;
	e->size = (uint64_t)st.st_size;
	return 0;
}

static int fill(const char *dir, const uint8_t *payload, size_t len,
		struct kernel_cache_entry *e, char *why, size_t why_len)
{
	char tmp[PATH_MAX];
	int fd, r;

	if ((r = mkdir_p(dir))) {
		snprintf(why, why_len, "creating %s: %s", dir, strerror(-r));
		return r;
	}
	if (snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "XXXXXX", dir) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, why_len, "creating a file in %s: %s", dir,
			 strerror(-r));
		return r;
	}
	r = unpack_payload(payload, len, fd, why, why_len);
	if (!r && rename(tmp, e->path)) {
		r = -errno;
		snprintf(why, why_len, "renaming into %s: %s", e->path,
			 strerror(-r));
	}
	close(fd);
	if (r) {
		unlink(tmp);
		return r;
	}
	prune(dir);
	r = open_entry(e);
	if (r)
		snprintf(why, why_len, "%s: %s", e->path, strerror(-r));
	return r;
}

int kernel_cache_get(const char *dir, const uint8_t *payload, size_t len,
		     struct kernel_cache_entry *e, char *why, size_t why_len)
{
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	if (snprintf(e->path, sizeof(e->path), "%s/" ENTRY_PREFIX "%016llx-%zu",
		     dir, (unsigned long long)payload_hash(payload, len),
		     len) >= (int)sizeof(e->path)) {
		snprintf(why, why_len, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (!open_entry(e)) {
		e->hit = true;
		futimens(e->fd, NULL); /* most recently used, for prune */
		return 0;
	}
	return fill(dir, payload, len, e, why, why_len);
}

void kernel_cache_drop(struct kernel_cache_entry *e)
{
	unlink(e->path);
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}
