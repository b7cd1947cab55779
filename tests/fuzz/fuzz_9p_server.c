/* The whole 9p server (fs9p_handle on a session over an export) against
 * sequences of T-messages the input chooses, over a scratch tree made
 * once: /tmp/fuzz9p.XXXXXX/{export/, outside/}, the export holding a few
 * files, a directory, a FIFO and symlinks that lead out of it (which the
 * server must never follow), outside/ holding files whose contents carry
 * a marker.
 *
 * Each input: byte 0 picks the security model (passthrough or mapped),
 * whether the export is read-only, and the reply area's size; then a
 * valid Tversion, Tattach (fid 0) and walks give fids 1-6 (a, d, out,
 * abs, fifo, d/b), so that the input reaches deep; then up to MAX_MSGS
 * messages, each an opcode byte (low 5 bits: the type, or raw bytes;
 * high 3 bits: a full reply area, a small one, scattered buffers, a
 * truncated message or a lying size field) and the fields it needs:
 * fids, names from a pool ("..", "/", "../outside", long names, embedded
 * NULs, names of the input's own bytes), numbers from a table of
 * interesting values or raw.
 *
 * Invariants, after every message: the reply is a well-formed R-message
 * (its size field is the length returned, which fits the reply area, and
 * nothing is written past it; its type is T+1 or Rlerror with a non-zero
 * ecode and 11 bytes; its tag is the request's; its body has the length
 * and the structure its type has: qids, counts no larger than asked,
 * readdir entries with names that are single components); no reply
 * carries the outside files' marker. After every input: outside/ is
 * exactly as made (names, types, modes, owners, sizes, link counts, mtimes
 * and ctimes, contents, link targets); the scratch directory holds only
 * export/ and outside/; a read-only export is unchanged; the session and
 * export free with no fd left open (ASan's leak check covers memory).
 * The export is rebuilt after an input that may have changed it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuzz.h"
#include "fs9p/fs9p.h"
#include "fs9p/proto.h"
#include "lib/bytes.h"

#define MSIZE 65536u
#define MSG_MAX 70000
#define OUT_MAX 70000
#define GUARD_LEN 64
#define MAX_MSGS 48
#define NFIDS 12
#define SNAP_MAX 96
#define N(x) (sizeof(x) / sizeof((x)[0]))
#define MARK "vmm-fuzz9p-outside-4c1d9e07b2a5e6f1"

/* One entry of a tree as lstat and its contents show it. */
struct entry {
	char path[128]; /* relative to the tree's top */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	nlink_t nlink;
	struct timespec mtime, ctime;
	uint64_t sum; /* contents (regular) or target (symlink) */
};

struct snap {
	unsigned n;
	bool overflow;
	struct entry e[SNAP_MAX];
};

static char parent[64], export_dir[96], outside_dir[96];
static struct snap outside_before, export_before;
static int fds_before;
static bool trace; /* FUZZ9P_TRACE set: each message's reply to stderr */

/* ---- trees ---- */

static uint64_t checksum(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t file_sum(int dirfd, const char *name)
{
	uint8_t buf[4096];
	uint64_t h = 1469598103934665603ULL;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	int left = 16; /* the first 64 KiB: a client may make huge files */

	if (fd < 0)
		return 0;
	while (left-- && (n = read(fd, buf, sizeof(buf))) > 0)
		h = checksum(buf, (size_t)n, h);
	close(fd);
	return h;
}

static void snap_dir(struct snap *s, int dirfd, const char *rel, bool sums);

static void snap_one(struct snap *s, int dirfd, const char *name,
		     const char *rel, bool sums)
{
	struct entry *e;
	struct stat st;

	if (s->n == SNAP_MAX) {
		s->overflow = true;
		return;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return;
	e = &s->e[s->n++];
	snprintf(e->path, sizeof(e->path), "%s", rel);
	e->mode = st.st_mode;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->size = st.st_size;
	e->nlink = st.st_nlink;
	e->mtime = st.st_mtim;
	e->ctime = st.st_ctim;
	e->sum = 0;
	if (sums && S_ISREG(st.st_mode)) {
		e->sum = file_sum(dirfd, name);
	} else if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t k = readlinkat(dirfd, name, t, sizeof(t));
		e->sum = checksum(t, k > 0 ? (size_t)k : 0, 1);
	} else if (S_ISDIR(st.st_mode)) {
		int fd =
			openat(dirfd, name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			snap_dir(s, fd, rel, sums);
			close(fd);
		}
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry under dirfd, sorted by name at each level. */
static void snap_dir(struct snap *s, int dirfd, const char *rel, bool sums)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char *names[SNAP_MAX];
	unsigned n = 0;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		s->overflow = true;
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == SNAP_MAX) {
			s->overflow = true;
			break;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (unsigned i = 0; i < n; i++) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/%s", rel, names[i]);
		snap_one(s, dirfd, names[i], sub, sums);
		free(names[i]);
	}
}

static void snap_tree(struct snap *s, const char *top, bool sums)
{
	s->n = 0;
	s->overflow = false;
	snap_one(s, AT_FDCWD, top, ".", sums); /* and all beneath it */
	INVARIANT(s->n > 0);
}

static bool snap_equal(const struct snap *a, const struct snap *b)
{
	if (a->n != b->n || a->overflow || b->overflow)
		return false;
	for (unsigned i = 0; i < a->n; i++) {
		const struct entry *x = &a->e[i], *y = &b->e[i];
		if (strcmp(x->path, y->path) || x->mode != y->mode ||
		    x->uid != y->uid || x->gid != y->gid ||
		    x->size != y->size || x->nlink != y->nlink ||
		    x->mtime.tv_sec != y->mtime.tv_sec ||
		    x->mtime.tv_nsec != y->mtime.tv_nsec ||
		    x->ctime.tv_sec != y->ctime.tv_sec ||
		    x->ctime.tv_nsec != y->ctime.tv_nsec || x->sum != y->sum)
			return false;
	}
	return true;
}

static void write_file(const char *dir, const char *name, const char *text,
		       mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	INVARIANT(fd >= 0);
	INVARIANT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	INVARIANT(chmod(p, mode) == 0);
}

static void make_outside(void)
{
	char p[256];

	INVARIANT(mkdir(outside_dir, 0755) == 0);
	write_file(outside_dir, "secret", MARK " secret\n", 0644);
	write_file(outside_dir, "victim", MARK " truncate me\n", 0600);
	snprintf(p, sizeof(p), "%s/sub", outside_dir);
	INVARIANT(mkdir(p, 0700) == 0);
	write_file(p, "deep", MARK " deeper\n", 0444);
	snprintf(p, sizeof(p), "%s/link", outside_dir);
	INVARIANT(symlink("secret", p) == 0);
	snprintf(p, sizeof(p), "%s/fifo", outside_dir);
	INVARIANT(mkfifo(p, 0666) == 0);
}

/* The export's contents (the directory itself exists). */
static void fill_export(void)
{
	char p[256];

	write_file(export_dir, "a", "file a, inside the export\n", 0644);
	write_file(export_dir, "ro", "read-only\n", 0444);
	snprintf(p, sizeof(p), "%s/d", export_dir);
	INVARIANT(mkdir(p, 0755) == 0);
	write_file(p, "b", "file b\n", 0644);
	snprintf(p, sizeof(p), "%s/sub", export_dir);
	INVARIANT(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/out", export_dir);
	INVARIANT(symlink("../outside/victim", p) == 0);
	snprintf(p, sizeof(p), "%s/abs", export_dir);
	INVARIANT(symlink(outside_dir, p) == 0);
	snprintf(p, sizeof(p), "%s/up", export_dir);
	INVARIANT(symlink("..", p) == 0);
	snprintf(p, sizeof(p), "%s/fifo", export_dir);
	INVARIANT(mkfifo(p, 0644) == 0);
}

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st, (void)flag;
	if (ftw->level > 0) /* not the export itself */
		remove(p);
	return 0;
}

/* Back to the export as made: contents, and the root's owner, mode and
 * xattrs (a client may change those of the directory it attached). */
static void reset_export(void)
{
	char list[4096];
	ssize_t n;

	nftw(export_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	INVARIANT(chown(export_dir, 0, 0) == 0 || geteuid() != 0);
	INVARIANT(chmod(export_dir, 0755) == 0);
	n = listxattr(export_dir, list, sizeof(list));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		removexattr(export_dir, list + i);
	fill_export();
	snap_tree(&export_before, export_dir, true);
	INVARIANT(!export_before.overflow);
}

static int rm_any(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(p);
	return 0;
}

static void cleanup(void)
{
	nftw(parent, rm_any, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("FUZZ9P_TRACE") != NULL;
	snprintf(parent, sizeof(parent), "/tmp/fuzz9p.XXXXXX");
	INVARIANT(mkdtemp(parent));
	snprintf(export_dir, sizeof(export_dir), "%s/export", parent);
	snprintf(outside_dir, sizeof(outside_dir), "%s/outside", parent);
	INVARIANT(mkdir(export_dir, 0755) == 0);
	make_outside();
	reset_export();
	snap_tree(&outside_before, outside_dir, true);
	INVARIANT(!outside_before.overflow);
	atexit(cleanup); /* a crash leaves the tree to look at */
	return 0;
}

/* ---- the input ---- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t take_raw(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)take(in) << (8 * i);
	return v;
}

/* ---- building messages ---- */

struct conn {
	struct fs9p_session *s;
	uint8_t msg[MSG_MAX];
	size_t len;
	uint8_t out[OUT_MAX + GUARD_LEN];
	bool leak_check;  /* the input does not hold the marker itself */
	bool maybe_wrote; /* an input's change of the export succeeded */
	/* What the request asked, for the reply's checks (unknown when
	 * the message was mutated). */
	bool known;
	uint32_t count;
	uint16_t nwname;
};

static struct conn conn;

static void put(struct conn *c, const void *p, size_t n)
{
	size_t room = MSG_MAX - c->len;

	if (n > room)
		n = room;
	memcpy(c->msg + c->len, p, n);
	c->len += n;
}

static void u8(struct conn *c, uint8_t v)
{
	put(c, &v, 1);
}

static void u16(struct conn *c, uint16_t v)
{
	uint8_t b[2];

	put16(b, v);
	put(c, b, 2);
}

static void u32(struct conn *c, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	put(c, b, 4);
}

static void u64(struct conn *c, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	put(c, b, 8);
}

static void strn(struct conn *c, const char *s, size_t n)
{
	u16(c, (uint16_t)n);
	put(c, s, n);
}

static void str(struct conn *c, const char *s)
{
	strn(c, s, strlen(s));
}

static uint32_t fid(struct input *in)
{
	static const uint32_t odd[] = { P9_NOFID, 0x7fffffff, 0x80000000, 16,
					17,	  1000,	      0xfffffffe, 255 };
	uint8_t b = take(in);

	return b < 0xf0 ? b % NFIDS : odd[b & 7];
}

static uint32_t num32(struct input *in)
{
	static const uint32_t v[] = {
		0644,
		0755,
		04755,
		02755,
		01777,
		S_IFREG | 0644,
		S_IFIFO | 0600,
		S_IFCHR | 0666,
		S_IFBLK | 0600,
		S_IFSOCK | 0755,
		S_IFDIR | 0755,
		S_IFLNK | 0777,
		0x7fffffff,
		0xffffffff,
		0x80000000,
		65536,
		65525,
		4096,
		P9_DOTL_DIRECTORY,
		2 | P9_DOTL_TRUNC,
		1 | P9_DOTL_APPEND,
		2 | P9_DOTL_CREATE | P9_DOTL_EXCL,
		P9_DOTL_NOFOLLOW,
		P9_AT_REMOVEDIR,
		P9_SETATTR_MODE | P9_SETATTR_UID | P9_SETATTR_GID,
		P9_SETATTR_SIZE,
		P9_SETATTR_ATIME | P9_SETATTR_MTIME | P9_SETATTR_ATIME_SET |
			P9_SETATTR_MTIME_SET,
		P9_SETATTR_CTIME,
		0x1ff,
		1000,
		65534,
	};
	uint8_t b = take(in);

	if (b < 0x40)
		return b;
	if (b < 0xc0)
		return v[(b - 0x40) % N(v)];
	return (uint32_t)take_raw(in, 4);
}

static uint64_t num64(struct input *in)
{
	static const uint64_t v[] = {
		4096,	    65536,	1ULL << 31,
		1ULL << 32, INT64_MAX,	UINT64_MAX,
		1ULL << 63, UINT32_MAX, 0xffffffff00000000ULL,
		1000000000, 999999999,	(uint64_t)INT64_MAX - 10
	};
	uint8_t b = take(in);

	if (b < 0x40)
		return b;
	if (b < 0xc0)
		return v[(b - 0x40) % N(v)];
	return take_raw(in, 8);
}

/* A name from the pool, of the input's own bytes, long, with a NUL, or
 * with a length that lies. */
static void name(struct conn *c, struct input *in)
{
	static const char *const pool[] = {
		"a",
		"d",
		"b",
		"new",
		"n2",
		"..",
		".",
		"out",
		"abs",
		"up",
		"fifo",
		"outside",
		"/",
		"ro",
		"sub",
		"secret",
		"../outside",
		"d/b",
		"/etc",
		"",
		"...",
		"x y",
		"victim",
		"link",
		"d/..",
		"user.x",
		"user.virtfs.mode",
		"trusted.t",
		"security.capability",
		"system.posix_acl_access",
		"..\\..",
		"n3",
	};
	uint8_t b = take(in), buf[300];

	if (b < 0x80) {
		str(c, pool[b % N(pool)]);
	} else if (b < 0xc0) {
		size_t n = b & 0x3f;
		for (size_t i = 0; i < n; i++)
			buf[i] = take(in);
		strn(c, (const char *)buf, n);
	} else if (b < 0xe0) { /* 255 fits NAME_MAX, 256 and more do not */
		size_t n = 250 + (b & 0x1f);
		memset(buf, 'L', n);
		strn(c, (const char *)buf, n);
	} else if (b < 0xf0) {
		memcpy(buf, "a\0../outside", 12);
		strn(c, (const char *)buf, 1 + (b & 0xf) % 12);
	} else {
		u16(c, (uint16_t)take_raw(in, 2));
		put(c, "abc", 3);
	}
}

static void begin(struct conn *c, uint8_t type, uint16_t tag)
{
	c->len = 0;
	u32(c, 0);
	u8(c, type);
	u16(c, tag);
	c->known = true;
	c->count = 0;
	c->nwname = 0;
}

/* The body of type t, from the input. */
static void body(struct conn *c, uint8_t t, struct input *in)
{
	switch (t) {
	case P9_TVERSION: {
		static const uint32_t ms[] = { MSIZE,	 4096,	  8192,
					       4095,	 0,	  UINT32_MAX,
					       1u << 20, 1u << 21 };
		u32(c, ms[take(in) & 7]);
		if (take(in) & 1)
			str(c, "9P2000.L");
		else
			name(c, in);
		break;
	}
	case P9_TAUTH:
	case P9_TATTACH:
		u32(c, fid(in)), u32(c, take(in) & 1 ? fid(in) : P9_NOFID);
		name(c, in), name(c, in), u32(c, num32(in));
		break;
	case P9_TFLUSH: u16(c, (uint16_t)take_raw(in, 2)); break;
	case P9_TWALK: {
		uint8_t n = take(in);
		n = n < 0xf0 ? n % 5 : n & 0x1f; /* up to 31: more than 16 */
		u32(c, fid(in)), u32(c, fid(in)), u16(c, n);
		c->nwname = n;
		for (unsigned i = 0; i < n; i++)
			name(c, in);
		break;
	}
	case P9_TLOPEN: u32(c, fid(in)), u32(c, num32(in)); break;
	case P9_TLCREATE:
		u32(c, fid(in)), name(c, in), u32(c, num32(in));
		u32(c, num32(in)), u32(c, num32(in));
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		u32(c, fid(in)), u64(c, num64(in));
		c->count = num32(in);
		u32(c, c->count);
		break;
	case P9_TWRITE: {
		uint8_t k = take(in);
		uint32_t n = k < 0x80 ? k : (k & 0x7f) * 64u;
		u32(c, fid(in)), u64(c, num64(in));
		c->count = take(in) < 0xf0 ? n : num32(in);
		u32(c, c->count);
		for (uint32_t i = 0; i < n; i++)
			u8(c, (uint8_t)('A' + i % 26));
		if (c->count > n)
			c->known = false; /* a count that lies */
		break;
	}
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTATFS:
	case P9_TREADLINK: u32(c, fid(in)); break;
	case P9_TSYMLINK:
		u32(c, fid(in)), name(c, in), name(c, in), u32(c, num32(in));
		break;
	case P9_TMKNOD:
		u32(c, fid(in)), name(c, in), u32(c, num32(in));
		u32(c, num32(in)), u32(c, num32(in)), u32(c, num32(in));
		break;
	case P9_TMKDIR:
		u32(c, fid(in)), name(c, in), u32(c, num32(in));
		u32(c, num32(in));
		break;
	case P9_TRENAME:
	case P9_TLINK: u32(c, fid(in)), u32(c, fid(in)), name(c, in); break;
	case P9_TRENAMEAT:
		u32(c, fid(in)), name(c, in), u32(c, fid(in)), name(c, in);
		break;
	case P9_TUNLINKAT:
		u32(c, fid(in)), name(c, in), u32(c, num32(in));
		break;
	case P9_TGETATTR: u32(c, fid(in)), u64(c, num64(in)); break;
	case P9_TSETATTR:
		u32(c, fid(in)), u32(c, num32(in)), u32(c, num32(in));
		u32(c, num32(in)), u32(c, num32(in)), u64(c, num64(in));
		for (int i = 0; i < 4; i++)
			u64(c, num64(in));
		break;
	case P9_TXATTRWALK:
		u32(c, fid(in)), u32(c, fid(in)), name(c, in);
		break;
	case P9_TXATTRCREATE:
		u32(c, fid(in)), name(c, in), u64(c, num64(in));
		u32(c, num32(in));
		break;
	case P9_TFSYNC: u32(c, fid(in)), u32(c, take(in) & 1); break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		u32(c, fid(in)), u8(c, take(in) % 4);
		if (t == P9_TLOCK)
			u32(c, num32(in));
		u64(c, num64(in)), u64(c, num64(in)), u32(c, num32(in));
		name(c, in);
		break;
	default: /* raw bytes */
		for (unsigned i = take(in) % 64; i; i--)
			u8(c, take(in));
	}
}

/* ---- replies ---- */

static void check_readdir(const uint8_t *p, uint32_t count)
{
	size_t at = 0;

	while (at < count) {
		uint16_t n;
		INVARIANT(count - at >= P9_QID_SIZE + 8 + 1 + 2);
		at += P9_QID_SIZE + 8 + 1;
		n = get16(p + at);
		at += 2;
		INVARIANT(n > 0 && n <= count - at);
		INVARIANT(!memchr(p + at, '/', n) && !memchr(p + at, 0, n));
		at += n;
	}
	INVARIANT(at == count);
}

/* The body of a successful reply to type t has its type's shape. */
static void check_body(struct conn *c, uint8_t t, const uint8_t *b, size_t n)
{
	switch (t) {
	case P9_TVERSION:
		INVARIANT(n >= 6 && get16(b + 4) == n - 6);
		INVARIANT(get32(b) >= FS9P_MSIZE_MIN && get32(b) <= MSIZE);
		INVARIANT((n == 14 && !memcmp(b + 6, "9P2000.L", 8)) ||
			  (n == 13 && !memcmp(b + 6, "unknown", 7)));
		break;
	case P9_TAUTH: INVARIANT(!"Tauth succeeded"); break;
	case P9_TATTACH:
	case P9_TSYMLINK:
	case P9_TMKNOD:
	case P9_TMKDIR: INVARIANT(n == P9_QID_SIZE); break;
	case P9_TLOPEN:
	case P9_TLCREATE:
		INVARIANT(n == P9_QID_SIZE + 4 && get32(b + P9_QID_SIZE) == 0);
		break;
	case P9_TWALK:
		INVARIANT(n >= 2 && n == 2 + (size_t)get16(b) * P9_QID_SIZE);
		INVARIANT(get16(b) <= P9_MAXWELEM);
		if (c->known)
			INVARIANT(c->nwname ? get16(b) >= 1 &&
						      get16(b) <= c->nwname
					    : get16(b) == 0);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		INVARIANT(n >= 4 && n == 4 + (size_t)get32(b));
		if (c->known)
			INVARIANT(get32(b) <= c->count);
		if (t == P9_TREADDIR)
			check_readdir(b + 4, get32(b));
		break;
	case P9_TWRITE:
		INVARIANT(n == 4);
		if (c->known)
			INVARIANT(get32(b) <= c->count);
		break;
	case P9_TREADLINK:
		INVARIANT(n >= 2 && n == 2 + (size_t)get16(b));
		INVARIANT(!memchr(b + 2, 0, n - 2));
		break;
	case P9_TGETATTR: INVARIANT(n == 153); break;
	case P9_TSTATFS: INVARIANT(n == 60); break;
	case P9_TXATTRWALK: INVARIANT(n == 8); break;
	case P9_TLOCK: INVARIANT(n == 1 && b[0] <= P9_LOCK_ERROR); break;
	case P9_TGETLOCK:
		INVARIANT(n >= 23 && n == 23 + (size_t)get16(b + 21));
		INVARIANT(b[0] <= P9_LOCK_TYPE_UNLCK);
		break;
	default: INVARIANT(n == 0); break;
	}
}

/* Types whose success may have changed the export. */
static bool changes(uint8_t t)
{
	switch (t) {
	case P9_TLCREATE:
	case P9_TSYMLINK:
	case P9_TMKNOD:
	case P9_TRENAME:
	case P9_TSETATTR:
	case P9_TXATTRCREATE:
	case P9_TLINK:
	case P9_TMKDIR:
	case P9_TRENAMEAT:
	case P9_TUNLINKAT:
	case P9_TWRITE:
	case P9_TREMOVE: return true;
	default: return false;
	}
}

static void check_reply(struct conn *c, size_t room, size_t got)
{
	uint8_t type = c->len > 4 ? c->msg[4] : 0;
	uint8_t rtype = c->out[4];
	uint16_t tag = c->len >= 7 ? get16(c->msg + 5) : P9_NOTAG;

	for (size_t i = room; i < room + GUARD_LEN; i++)
		INVARIANT(c->out[i] == 0x5a); /* nothing past the area */
	if (!got) {
		INVARIANT(room <
			  FS9P_HDR_SIZE + 4); /* only when no Rlerror fits */
		return;
	}
	INVARIANT(got >= FS9P_HDR_SIZE + (rtype == P9_RLERROR ? 4 : 0));
	INVARIANT(got <= room && got <= MSIZE);
	INVARIANT(get32(c->out) == got);
	if (c->len >= 7)
		INVARIANT(get16(c->out + 5) == tag);
	if (rtype == P9_RLERROR) {
		INVARIANT(got == 11 && get32(c->out + 7) != 0);
		return;
	}
	INVARIANT(c->len >= 7 && rtype == (uint8_t)(type + 1));
	check_body(c, type, c->out + FS9P_HDR_SIZE, got - FS9P_HDR_SIZE);
	if (c->leak_check)
		INVARIANT(!memmem(c->out, got, MARK, strlen(MARK)));
	if (changes(type) || (type == P9_TLOPEN && c->len >= 15 &&
			      get32(c->msg + 11) & P9_DOTL_TRUNC))
		c->maybe_wrote = true;
}

/* Scatters buf[0..len) into up to 3 iovecs at points from the input. */
static unsigned scatter(uint8_t *buf, size_t len, struct iovec *iov,
			struct input *in, bool many)
{
	unsigned n = many ? 3 : 1;
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t left = len - at;
		size_t t = i + 1 == n ? left : left * take(in) / 255;
		iov[i] = (struct iovec){ buf + at, t };
		at += t;
	}
	return n;
}

static void send_msg(struct conn *c, size_t room, struct input *in, bool many)
{
	struct iovec iv[3], ov[3];
	unsigned nin = scatter(c->msg, c->len, iv, in, many);
	unsigned nout = scatter(c->out, room, ov, in, many);
	struct fs9p_msg m = { iv, nin, c->len, ov, nout, room };
	size_t got;

	memset(c->out, 0x5a, room + GUARD_LEN);
	got = fs9p_handle(c->s, &m);
	if (trace)
		fprintf(stderr,
			"type %u len %zu room %zu: reply %zu type %u%s%u\n",
			c->len > 4 ? c->msg[4] : 0, c->len, room, got,
			got ? c->out[4] : 0, got >= 11 ? " errno " : " ",
			got >= 11 ? get32(c->out + 7) : 0);
	check_reply(c, room, got);
}

/* A message built whole: size field set, full reply area. */
static void send_valid(struct conn *c)
{
	struct input none = { NULL, 0 };

	put32(c->msg, (uint32_t)c->len);
	send_msg(c, OUT_MAX, &none, false);
}

static void start(struct conn *c)
{
	static const char *const walks[][2] = {
		{ "a", NULL },	 { "d", NULL },	   { "out", NULL },
		{ "abs", NULL }, { "fifo", NULL }, { "d", "b" },
	};

	begin(c, P9_TVERSION, P9_NOTAG);
	u32(c, MSIZE), str(c, "9P2000.L");
	send_valid(c);
	INVARIANT(c->out[4] == P9_TVERSION + 1);
	begin(c, P9_TATTACH, 1);
	u32(c, 0), u32(c, P9_NOFID), str(c, "root"), str(c, ""), u32(c, 0);
	send_valid(c);
	INVARIANT(c->out[4] == P9_TATTACH + 1);
	for (unsigned i = 0; i < N(walks); i++) {
		begin(c, P9_TWALK, (uint16_t)(2 + i));
		u32(c, 0), u32(c, 1 + i), u16(c, walks[i][1] ? 2 : 1);
		c->nwname = walks[i][1] ? 2 : 1;
		str(c, walks[i][0]);
		if (walks[i][1])
			str(c, walks[i][1]);
		send_valid(c);
		INVARIANT(c->out[4] == P9_TWALK + 1);
	}
}

static const uint8_t types[] = {
	P9_TVERSION, P9_TAUTH,	    P9_TATTACH,	     P9_TFLUSH,
	P9_TWALK,    P9_TLOPEN,	    P9_TLCREATE,     P9_TSYMLINK,
	P9_TMKNOD,   P9_TRENAME,    P9_TREADLINK,    P9_TGETATTR,
	P9_TSETATTR, P9_TXATTRWALK, P9_TXATTRCREATE, P9_TREADDIR,
	P9_TFSYNC,   P9_TLOCK,	    P9_TGETLOCK,     P9_TLINK,
	P9_TMKDIR,   P9_TRENAMEAT,  P9_TUNLINKAT,    P9_TREAD,
	P9_TWRITE,   P9_TCLUNK,	    P9_TREMOVE,	     P9_TSTATFS,
};

/* One message from the input. */
static void one(struct conn *c, struct input *in, uint16_t tag)
{
	static const size_t small[] = { 0,  6,	7,  10,	 11,  12,
					20, 24, 64, 100, 160, 4096 };
	uint8_t op = take(in), variant = op >> 5;
	uint8_t t = (op & 31) < N(types) ? types[op & 31] : take(in);
	size_t room = OUT_MAX;

	begin(c, t, tag);
	body(c, t, in);
	put32(c->msg, (uint32_t)c->len);
	switch (variant) {
	case 4: room = small[take(in) % N(small)]; break;
	case 6: /* truncated, the size field saying so or not */
		if (c->len) {
			uint8_t k = take(in);
			c->len = c->len * k / 256;
			if (k & 1 && c->len >= 4)
				put32(c->msg, (uint32_t)c->len);
			c->known = false;
		}
		break;
	case 7: /* a size field that lies */
		put32(c->msg, (uint32_t)(c->len + (int8_t)take(in)));
		c->known = false;
		break;
	default: break;
	}
	send_msg(c, room, in, variant == 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn *c = &conn;
	struct input in = { data, size };
	uint8_t flags = take(&in);
	struct fs9p_export_config cfg = {
		export_dir,
		flags & 1 ? FS9P_MAPPED : FS9P_PASSTHROUGH,
		(flags & 6) == 6,
	};
	struct fs9p_export *ex;
	struct snap now;

	fds_before = fuzz_count_fds();
	c->leak_check = !memmem(data, size, MARK, strlen(MARK));
	c->maybe_wrote = false;
	INVARIANT(fs9p_export_open(&cfg, &ex) == 0);
	INVARIANT(fs9p_session_new(ex, MSIZE, &c->s) == 0);
	start(c);
	for (unsigned i = 0; in.n && i < MAX_MSGS; i++)
		one(c, &in, (uint16_t)(100 + i));
	fs9p_session_free(c->s);
	fs9p_export_close(ex);
	c->s = NULL;
	INVARIANT(fuzz_count_fds() == fds_before);

	/* Nothing outside the export changed, nothing appeared beside it. */
	snap_tree(&now, outside_dir, true);
	INVARIANT(snap_equal(&now, &outside_before));
	{
		DIR *d = opendir(parent);
		struct dirent *e;
		INVARIANT(d);
		while ((e = readdir(d)))
			INVARIANT(!strcmp(e->d_name, ".") ||
				  !strcmp(e->d_name, "..") ||
				  !strcmp(e->d_name, "export") ||
				  !strcmp(e->d_name, "outside"));
		closedir(d);
	}
	snap_tree(&now, export_dir, true);
	if (cfg.readonly)
		INVARIANT(snap_equal(&now, &export_before));
	if (c->maybe_wrote || !snap_equal(&now, &export_before))
		reset_export();
	return 0;
}
