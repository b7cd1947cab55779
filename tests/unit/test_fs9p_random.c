/* The fs9p core against a seeded stream of random and mutated-valid
 * T-messages (no transport): valid messages built from a small grammar
 * (fids from a small range, names from a pool with "..", "/", very long
 * names and embedded NULs), then sometimes mutated (bit flips, byte
 * overwrites, truncation, a lying size field, appended junk) or replaced
 * by random bytes; reply areas of random size and split.
 *
 * After every message: the reply is well-formed (its size field is the
 * returned length, which fits the reply area; its type is Rlerror or T+1;
 * its tag is the request's). Every CHECK_EVERY messages and at the end:
 * the canary tree beside the export (in the same parent directory) is
 * unchanged (names, types, sizes, modes, contents, link targets) and
 * nothing appeared in the parent but the export and the canary tree.
 *
 * Environment: FS9P_RANDOM_SEED overrides each test's seed,
 * FS9P_RANDOM_OPS the message count, FS9P_RANDOM_TRACE=1 prints every
 * message's type and reply.
 *
 * Threads: the test thread only (fs9p_handle called directly). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs9p/fs9p.h"
#include "fs9p/proto.h"
#include "lib/bytes.h"

#define DEFAULT_OPS 30000
#define CHECK_EVERY 500
#define MSG_MAX 70000
#define OUT_MAX 70000
#define MSIZE 65536
#define NFIDS 12
#define SNAP_MAX 64
#define N(x) (sizeof(x) / sizeof((x)[0]))

struct rng {
	uint64_t s;
};

/* One entry of the canary tree as it was made. */
struct entry {
	char path[PATH_MAX];
	mode_t mode;
	off_t size;
	uint64_t sum; /* content (regular) or target (link) checksum */
};

struct snap {
	unsigned n;
	struct entry e[SNAP_MAX];
};

struct fuzz {
	unsigned seed, op, ops;
	bool trace, mapped;
	struct rng rng;
	char parent[64], export[PATH_MAX], canary[PATH_MAX];
	struct fs9p_export *ex;
	struct fs9p_session *s;
	struct snap before;
	uint8_t msg[MSG_MAX];
	size_t len;
	uint8_t out[OUT_MAX + 64];
	unsigned replies[256]; /* reply types seen */
	unsigned ok, errors;   /* of the random messages */
};

#define FAIL(f, ...)                                                           \
	cr_assert_fail(                                                        \
		"seed %u op %u: %s", (f)->seed, (f)->op,                       \
		(snprintf(errbuf, sizeof(errbuf), __VA_ARGS__), errbuf))

static char errbuf[512]; /* the failing thread's message; read-only else */

/* ---- randomness: splitmix64 ---- */

static uint64_t rnd(struct fuzz *f)
{
	uint64_t z = (f->rng.s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(struct fuzz *f, unsigned n)
{
	return (unsigned)(rnd(f) % n);
}

/* ---- the canary tree ---- */

static uint64_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t file_sum(const char *path)
{
	static uint8_t buf[1 << 16];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;
	uint64_t h;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	cr_assert(n >= 0);
	h = checksum(buf, (size_t)n);
	return h;
}

/* Records path (and, for a directory, everything under it, sorted). */
static void snap_walk(struct snap *s, const char *path)
{
	struct entry *e;
	struct stat st;
	struct dirent **names;
	int n;

	cr_assert(s->n < SNAP_MAX, "canary tree too large");
	cr_assert_eq(lstat(path, &st), 0, "lstat %s: %s", path,
		     strerror(errno));
	e = &s->e[s->n++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->mode = st.st_mode;
	e->size = st.st_size;
	e->sum = 0;
	if (S_ISREG(st.st_mode)) {
		e->sum = file_sum(path);
	} else if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t k = readlink(path, t, sizeof(t));
		cr_assert(k >= 0);
		e->sum = checksum(t, (size_t)k);
	}
	if (!S_ISDIR(st.st_mode))
		return;
	n = scandir(path, &names, NULL, alphasort);
	cr_assert(n >= 0);
	for (int i = 0; i < n; i++) {
		char sub[PATH_MAX];
		if (strcmp(names[i]->d_name, ".") &&
		    strcmp(names[i]->d_name, "..")) {
			snprintf(sub, sizeof(sub), "%s/%s", path,
				 names[i]->d_name);
			snap_walk(s, sub);
		}
		free(names[i]);
	}
	free(names);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);

	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, content, strlen(content)),
		     (ssize_t)strlen(content));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

/* parent/canary: files, a subdirectory, a symlink; the export gets a few
 * entries of its own (some linking out, which the server must never
 * follow). */
static void make_trees(struct fuzz *f)
{
	char p[PATH_MAX + 32];

	snprintf(f->parent, sizeof(f->parent), "/tmp/vmm-fs9p-random-XXXXXX");
	cr_assert_not_null(mkdtemp(f->parent));
	snprintf(f->export, sizeof(f->export), "%s/export", f->parent);
	snprintf(f->canary, sizeof(f->canary), "%s/canary", f->parent);
	cr_assert_eq(mkdir(f->export, 0755), 0);
	cr_assert_eq(mkdir(f->canary, 0755), 0);
	snprintf(p, sizeof(p), "%s/secret", f->canary);
	write_file(p, "do not touch\n", 0644);
	snprintf(p, sizeof(p), "%s/victim", f->canary);
	write_file(p, "truncate me if you can\n", 0600);
	snprintf(p, sizeof(p), "%s/sub", f->canary);
	cr_assert_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub/deep", f->canary);
	write_file(p, "deeper\n", 0444);
	snprintf(p, sizeof(p), "%s/link", f->canary);
	cr_assert_eq(symlink("secret", p), 0);
	snprintf(p, sizeof(p), "%s/a", f->export);
	write_file(p, "file a, inside the export\n", 0644);
	snprintf(p, sizeof(p), "%s/d", f->export);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/d/b", f->export);
	write_file(p, "file b\n", 0644);
	snprintf(p, sizeof(p), "%s/out", f->export);
	cr_assert_eq(symlink("../canary/victim", p), 0);
	snprintf(p, sizeof(p), "%s/abs", f->export);
	cr_assert_eq(symlink(f->canary, p), 0);
	snap_walk(&f->before, f->canary);
}

/* The canary tree is as made, and the parent holds only it and the
 * export. */
static void check_canary(struct fuzz *f)
{
	struct snap now = { 0 };
	DIR *d = opendir(f->parent);
	struct dirent *e;

	snap_walk(&now, f->canary);
	if (now.n != f->before.n)
		FAIL(f, "canary tree has %u entries, had %u", now.n,
		     f->before.n);
	for (unsigned i = 0; i < now.n; i++) {
		const struct entry *a = &f->before.e[i], *b = &now.e[i];
		if (strcmp(a->path, b->path) || a->mode != b->mode ||
		    a->size != b->size || a->sum != b->sum)
			FAIL(f, "canary %s changed (mode %o size %ld)", a->path,
			     b->mode, (long)b->size);
	}
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "export") && strcmp(e->d_name, "canary"))
			FAIL(f, "%s appeared beside the export", e->d_name);
	closedir(d);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

/* ---- message building ---- */

static void put(struct fuzz *f, const void *p, size_t n)
{
	size_t room = f->len < MSG_MAX ? MSG_MAX - f->len : 0;

	if (n > room)
		n = room;
	memcpy(f->msg + f->len, p, n);
	f->len += n;
}

static void u8(struct fuzz *f, uint8_t v)
{
	put(f, &v, 1);
}

static void u16(struct fuzz *f, uint16_t v)
{
	uint8_t b[2];

	put16(b, v);
	put(f, b, 2);
}

static void u32(struct fuzz *f, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	put(f, b, 4);
}

static void u64(struct fuzz *f, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	put(f, b, 8);
}

static void strn(struct fuzz *f, const char *s, size_t n)
{
	u16(f, (uint16_t)n);
	put(f, s, n);
}

static uint32_t fid(struct fuzz *f)
{
	static const uint32_t odd[] = { P9_NOFID, 0x7fffffff, 0x80000000,
					16,	  17,	      1000 };

	return below(f, 10) ? below(f, NFIDS) : odd[below(f, N(odd))];
}

static uint64_t num64(struct fuzz *f)
{
	static const uint64_t v[] = { 0,
				      1,
				      7,
				      4096,
				      65536,
				      (1ULL << 31),
				      INT64_MAX,
				      UINT64_MAX,
				      (1ULL << 63),
				      UINT32_MAX,
				      0xffffffff00000000ULL };

	return below(f, 3) ? below(f, 100000) : v[below(f, N(v))];
}

static uint32_t num32(struct fuzz *f)
{
	static const uint32_t v[] = { 0,	  1,	      7,     011,
				      0644,	  0755,	      04755, 0x7fffffff,
				      0xffffffff, 0x80000000, 65536, 65525 };

	return below(f, 3) ? (uint32_t)rnd(f) : v[below(f, N(v))];
}

/* A name from the pool: good ones, the confinement classics, long ones,
 * ones with '/' or NUL in them. */
static void name(struct fuzz *f)
{
	static const char *const pool[] = {
		"a",	"d",	"b",	  "new",    "n2",   "..",
		".",	"out",	"abs",	  "canary", "/",    "../canary",
		"d/b",	"/etc", "..\\..", "x y",    "",	    "victim",
		"link", "sub",	"f.fifo", "...",    "dev0", "d/..",
	};
	static const char *const good[] = { "a",  "d",	"b",   "new",
					    "n2", "n3", "sub", "x" };
	char buf[300];
	unsigned k = below(f, 20);

	if (k < 8) {
		const char *s = good[below(f, N(good))];
		strn(f, s, strlen(s));
	} else if (k < 14) {
		const char *s = pool[below(f, N(pool))];
		strn(f, s, strlen(s));
	} else if (k < 16) { /* long: 255 fits NAME_MAX, 256+ does not */
		size_t n = 250 + below(f, 12);
		memset(buf, 'L', n);
		strn(f, buf, n);
	} else if (k < 18) { /* an embedded NUL */
		memcpy(buf, "a\0../canary", 11);
		strn(f, buf, 1 + below(f, 11));
	} else if (k < 19) { /* random bytes */
		size_t n = below(f, 20);
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)rnd(f);
		strn(f, buf, n);
	} else { /* a length that lies */
		u16(f, (uint16_t)rnd(f));
		put(f, "abc", 3);
	}
}

static void begin(struct fuzz *f, uint8_t type)
{
	f->len = 0;
	u32(f, 0);
	u8(f, type);
	u16(f, (uint16_t)(below(f, 4) ? below(f, 64) : rnd(f)));
}

/* The body of a valid-looking message of type t. */
static void body(struct fuzz *f, uint8_t t)
{
	switch (t) {
	case P9_TVERSION:
		u32(f, below(f, 2) ? MSIZE : num32(f));
		if (below(f, 4))
			strn(f, "9P2000.L", 8);
		else
			name(f);
		break;
	case P9_TAUTH:
		u32(f, fid(f)), name(f), name(f), u32(f, num32(f));
		break;
	case P9_TATTACH:
		u32(f, fid(f)), u32(f, below(f, 8) ? P9_NOFID : fid(f));
		name(f), name(f), u32(f, below(f, 2) ? 0 : num32(f));
		break;
	case P9_TFLUSH: u16(f, (uint16_t)rnd(f)); break;
	case P9_TWALK: {
		unsigned n = below(f, 8) ? below(f, 4) : below(f, 20);
		u32(f, fid(f)), u32(f, fid(f)), u16(f, (uint16_t)n);
		for (unsigned i = 0; i < n; i++)
			name(f);
		break;
	}
	case P9_TLOPEN: u32(f, fid(f)), u32(f, num32(f) & 0x7fffff); break;
	case P9_TLCREATE:
		u32(f, fid(f)), name(f), u32(f, num32(f) & 0xfffff);
		u32(f, num32(f)), u32(f, 0);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		u32(f, fid(f)), u64(f, num64(f)), u32(f, num32(f));
		break;
	case P9_TWRITE: {
		uint32_t n = below(f, 300);
		u32(f, fid(f)), u64(f, num64(f));
		u32(f, below(f, 6) ? n : num32(f));
		for (uint32_t i = 0; i < n; i++)
			u8(f, (uint8_t)('A' + i % 26));
		break;
	}
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTATFS:
	case P9_TREADLINK: u32(f, fid(f)); break;
	case P9_TSYMLINK: u32(f, fid(f)), name(f), name(f), u32(f, 0); break;
	case P9_TMKNOD: {
		static const uint32_t types[] = { S_IFREG, S_IFIFO,  S_IFCHR,
						  S_IFBLK, S_IFSOCK, S_IFDIR,
						  S_IFLNK, 0 };
		u32(f, fid(f)), name(f);
		u32(f, types[below(f, N(types))] | (num32(f) & 07777));
		u32(f, below(f, 8)), u32(f, below(f, 8)), u32(f, 0);
		break;
	}
	case P9_TMKDIR:
		u32(f, fid(f)), name(f), u32(f, num32(f)), u32(f, 0);
		break;
	case P9_TRENAME: u32(f, fid(f)), u32(f, fid(f)), name(f); break;
	case P9_TRENAMEAT:
		u32(f, fid(f)), name(f), u32(f, fid(f)), name(f);
		break;
	case P9_TUNLINKAT:
		u32(f, fid(f)), name(f);
		u32(f, below(f, 2) ? P9_AT_REMOVEDIR * below(f, 2) : num32(f));
		break;
	case P9_TLINK: u32(f, fid(f)), u32(f, fid(f)), name(f); break;
	case P9_TGETATTR: u32(f, fid(f)), u64(f, num64(f)); break;
	case P9_TSETATTR:
		u32(f, fid(f)), u32(f, num32(f) & 0x1ff);
		u32(f, num32(f)), u32(f, below(f, 2) ? 0 : num32(f));
		u32(f, below(f, 2) ? 0 : num32(f)), u64(f, num64(f) % 100000);
		for (int i = 0; i < 4; i++)
			u64(f, num64(f));
		break;
	case P9_TXATTRWALK: u32(f, fid(f)), u32(f, fid(f)), name(f); break;
	case P9_TXATTRCREATE:
		u32(f, fid(f)), name(f), u64(f, num64(f) % 70000);
		u32(f, below(f, 4));
		break;
	case P9_TFSYNC: u32(f, fid(f)), u32(f, below(f, 2)); break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		u32(f, fid(f)), u8(f, (uint8_t)below(f, 4));
		if (t == P9_TLOCK)
			u32(f, below(f, 2));
		u64(f, num64(f)), u64(f, num64(f)), u32(f, num32(f));
		name(f);
		break;
	default: /* anything at all */
		for (unsigned i = below(f, 40); i; i--)
			u8(f, (uint8_t)rnd(f));
	}
}

static uint8_t pick_type(struct fuzz *f)
{
	static const uint8_t types[] = {
		P9_TAUTH,	 P9_TATTACH,   P9_TATTACH,   P9_TFLUSH,
		P9_TWALK,	 P9_TWALK,     P9_TWALK,     P9_TWALK,
		P9_TLOPEN,	 P9_TLOPEN,    P9_TLCREATE,  P9_TLCREATE,
		P9_TREAD,	 P9_TREAD,     P9_TREADDIR,  P9_TWRITE,
		P9_TWRITE,	 P9_TCLUNK,    P9_TCLUNK,    P9_TREMOVE,
		P9_TSTATFS,	 P9_TREADLINK, P9_TSYMLINK,  P9_TMKNOD,
		P9_TMKDIR,	 P9_TRENAME,   P9_TRENAMEAT, P9_TUNLINKAT,
		P9_TLINK,	 P9_TGETATTR,  P9_TSETATTR,  P9_TXATTRWALK,
		P9_TXATTRCREATE, P9_TFSYNC,    P9_TLOCK,     P9_TGETLOCK,
	};

	if (!below(f, 200))
		return P9_TVERSION; /* clunks everything: rarely */
	if (!below(f, 30))
		return (uint8_t)rnd(f);
	return types[below(f, N(types))];
}

/* Flips bits, overwrites bytes, truncates, lies in the size field or
 * appends junk; sometimes replaces the message with random bytes. */
static void mutate(struct fuzz *f)
{
	unsigned k = below(f, 100);

	if (k < 60 || !f->len)
		return;
	if (k < 70) {
		for (unsigned i = 1 + below(f, 4); i; i--)
			f->msg[below(f, (unsigned)f->len)] ^=
				(uint8_t)(1u << below(f, 8));
	} else if (k < 78) {
		f->msg[below(f, (unsigned)f->len)] = (uint8_t)rnd(f);
	} else if (k < 88) {
		f->len = below(f, (unsigned)f->len);
		if (below(f, 2) && f->len >= 4)
			put32(f->msg, (uint32_t)f->len);
	} else if (k < 94) {
		put32(f->msg, below(f, 2) ? (uint32_t)rnd(f)
					  : (uint32_t)f->len + below(f, 9) - 4);
	} else if (k < 97) {
		for (unsigned i = below(f, 32); i; i--)
			u8(f, (uint8_t)rnd(f));
	} else {
		f->len = below(f, 64);
		for (size_t i = 0; i < f->len; i++)
			f->msg[i] = (uint8_t)rnd(f);
	}
}

static void build(struct fuzz *f)
{
	uint8_t t = pick_type(f);

	begin(f, t);
	body(f, t);
	put32(f->msg, (uint32_t)f->len);
	mutate(f);
}

/* ---- sending ---- */

/* Scatters buf[0..len) into up to 4 iovecs at random split points. */
static unsigned scatter(struct fuzz *f, uint8_t *buf, size_t len,
			struct iovec *iov)
{
	unsigned n = below(f, 3) ? 1 : 2 + below(f, 3);
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t take = i + 1 == n   ? len - at
			      : (len - at) ? below(f, (unsigned)(len - at) + 1)
					   : 0;
		iov[i] = (struct iovec){ buf + at, take };
		at += take;
	}
	return n;
}

static size_t out_room(struct fuzz *f)
{
	static const size_t v[] = { 0, 6, 7, 10, 11, 12, 20, 24, 64, 100 };

	if (below(f, 10) < 7)
		return OUT_MAX;
	return below(f, 2) ? v[below(f, N(v))] : below(f, OUT_MAX);
}

static void check_reply(struct fuzz *f, size_t len, size_t room, size_t got)
{
	uint8_t type = len > 4 ? f->msg[4] : 0;
	uint8_t rtype = f->out[4];
	uint16_t tag = len >= 7 ? get16(f->msg + 5) : P9_NOTAG;

	for (size_t i = room; i < room + 64; i++)
		if (f->out[i] != 0x5a)
			FAIL(f, "reply written past its %zu-byte area", room);
	if (!got) {
		if (room >= 11)
			FAIL(f, "no reply with %zu bytes of room", room);
		return;
	}
	if (got > room || got < FS9P_HDR_SIZE || get32(f->out) != got)
		FAIL(f, "reply length %zu, size field %u, room %zu", got,
		     get32(f->out), room);
	if (len >= 7 && get16(f->out + 5) != tag)
		FAIL(f, "reply tag %u to tag %u", get16(f->out + 5), tag);
	if (rtype != P9_RLERROR && (len < 7 || rtype != (uint8_t)(type + 1)))
		FAIL(f, "reply type %u to type %u", rtype, type);
	if (rtype == P9_RLERROR && (got != 11 || !get32(f->out + 7)))
		FAIL(f, "Rlerror of %zu bytes, ecode %u", got,
		     get32(f->out + 7));
	f->replies[rtype]++;
}

static void send_one(struct fuzz *f)
{
	struct iovec in[4], out[4];
	size_t room = out_room(f), got;
	unsigned nin = scatter(f, f->msg, f->len, in);
	unsigned nout = scatter(f, f->out, room, out);
	struct fs9p_msg m = { in, nin, f->len, out, nout, room };

	memset(f->out, 0x5a, sizeof(f->out));
	got = fs9p_handle(f->s, &m);
	if (f->trace)
		fprintf(stderr,
			"op %u: type %u len %zu room %zu -> %zu type %u"
			" errno %u\n",
			f->op, f->len > 4 ? f->msg[4] : 0, f->len, room, got,
			got ? f->out[4] : 0, got >= 11 ? get32(f->out + 7) : 0);
	check_reply(f, f->len, room, got);
	if (got && f->out[4] == P9_RLERROR)
		f->errors++;
	else if (got)
		f->ok++;
}

/* A known-good session state now and then: version, attach of fid 0,
 * walks to the export's entries, so that mutated messages find fids. */
static void send_valid(struct fuzz *f, uint8_t type)
{
	struct iovec in = { f->msg, f->len }, out = { f->out, OUT_MAX };
	struct fs9p_msg m = { &in, 1, f->len, &out, 1, OUT_MAX };
	size_t got;

	put32(f->msg, (uint32_t)f->len);
	f->msg[4] = type;
	memset(f->out, 0x5a, sizeof(f->out));
	got = fs9p_handle(f->s, &m);
	check_reply(f, f->len, OUT_MAX, got);
}

static void reground(struct fuzz *f)
{
	static const char *const walks[] = { "a",   "d", "out", "abs",
					     "new", ".", "..",	"n2",
					     "d",   "d", "sub" };

	f->len = 7;
	put16(f->msg + 5, 1);
	u32(f, MSIZE), strn(f, "9P2000.L", 8);
	send_valid(f, P9_TVERSION);
	f->len = 7;
	u32(f, 0), u32(f, P9_NOFID), strn(f, "", 0), strn(f, "", 0), u32(f, 0);
	send_valid(f, P9_TATTACH);
	for (unsigned i = 0; i < N(walks); i++) {
		f->len = 7;
		u32(f, 0), u32(f, 1 + i), u16(f, 1);
		strn(f, walks[i], strlen(walks[i]));
		send_valid(f, P9_TWALK);
	}
	for (unsigned i = 0; i < 2; i++) { /* a file to read and write, a
					      directory to list */
		f->len = 7;
		u32(f, i ? 9 : 1), u32(f, i ? 0 : 2);
		send_valid(f, P9_TLOPEN);
	}
}

static unsigned env_unsigned(const char *name, unsigned dflt)
{
	const char *s = getenv(name);

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

static void run(unsigned seed, bool mapped)
{
	struct fuzz *f = calloc(1, sizeof(*f));
	struct fs9p_export_config cfg = { 0 };

	cr_assert_not_null(f);
	f->seed = env_unsigned("FS9P_RANDOM_SEED", seed);
	f->ops = env_unsigned("FS9P_RANDOM_OPS", DEFAULT_OPS);
	f->trace = getenv("FS9P_RANDOM_TRACE") != NULL;
	f->rng.s = f->seed * 0x2545f4914f6cdd1dULL + mapped;
	make_trees(f);
	cfg.path = f->export;
	cfg.security = mapped ? FS9P_MAPPED : FS9P_PASSTHROUGH;
	cr_assert_eq(fs9p_export_open(&cfg, &f->ex), 0);
	cr_assert_eq(fs9p_session_new(f->ex, MSIZE, &f->s), 0);
	reground(f);
	for (f->op = 1; f->op <= f->ops; f->op++) {
		if (!below(f, 60))
			reground(f);
		build(f);
		send_one(f);
		if (f->op % CHECK_EVERY == 0)
			check_canary(f);
	}
	fs9p_session_free(f->s);
	fs9p_export_close(f->ex);
	check_canary(f);
	cr_assert_gt(f->errors, f->ops / 10, "few errors: %u", f->errors);
	cr_assert_gt(f->ok, f->ops / 20, "few successes: %u", f->ok);
	nftw(f->parent, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	free(f);
}

Test(fs9p_random, passthrough_seed_1, .timeout = 60)
{
	run(1, false);
}

Test(fs9p_random, passthrough_seed_2, .timeout = 60)
{
	run(2, false);
}

Test(fs9p_random, mapped_seed_3, .timeout = 60)
{
	run(3, true);
}

Test(fs9p_random, mapped_seed_4, .timeout = 60)
{
	run(4, true);
}
