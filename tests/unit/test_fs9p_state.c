/* A 9p session saved and restored (fs9p/session_state.h): fids of every
 * kind walked and opened through real T-messages, saved, restored into a
 * fresh session on the same directory and used there; the exact bytes of
 * a small state; hostile buffers (truncated at every byte, counts, names,
 * flags); files gone, replaced or reached through a symlink since the
 * save; files deleted while open refused at save. Passthrough, as root. */
#include <fcntl.h>
#include <sys/xattr.h>

#include "fs9p/session_state.h"
#include "fs9p_client.h"

#define WHY 256

/* A second session on c's directory, as a migration's destination makes
 * it: no Tversion, no fid. */
static struct tc *tc_fresh(const char *dir)
{
	struct fs9p_export_config cfg = { dir, FS9P_PASSTHROUGH, false };
	struct tc *c = calloc(1, sizeof(*c));

	cr_assert(c);
	strcpy(c->dir, dir);
	c->out_len = TC_BUF;
	cr_assert_eq(fs9p_export_open(&cfg, &c->ex), 0);
	cr_assert_eq(fs9p_session_new(c->ex, TC_MSIZE, &c->s), 0);
	return c;
}

/* Frees the session and export, keeping the directory. */
static void tc_drop(struct tc *c)
{
	fs9p_session_free(c->s);
	fs9p_export_close(c->ex);
	free(c);
}

static void save_ok(struct tc *c, uint8_t **buf, size_t *len)
{
	char why[WHY] = "";
	int r = fs9p_session_save(c->s, buf, len, why, sizeof(why));

	cr_assert_eq(r, 0, "save: %d %s", r, why);
}

static void restore_ok(struct tc *c, const uint8_t *buf, size_t len)
{
	char why[WHY] = "";
	int r = fs9p_session_restore(c->s, buf, len, why, sizeof(why));

	cr_assert_eq(r, 0, "restore: %d %s", r, why);
}

static void walk_ok(struct tc *c, uint32_t fid, uint32_t newfid, unsigned n,
		    const char *const *names)
{
	cr_assert_eq(tc_walkv(c, fid, newfid, n, names, NULL), (int)n);
}

static void host_read(struct tc *c, const char *rel, char *buf, size_t cap)
{
	char p[PATH_MAX];
	FILE *f = fopen(tc_path(c, rel, p), "r");
	size_t n;

	cr_assert(f, "%s", rel);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* The names of a Treaddir reply, appended to names (separated by '|');
 * the last entry's offset. */
static uint64_t dir_names(struct tc *c, int count, char *names, size_t cap,
			  unsigned *n)
{
	const uint8_t *p = c->out + 11, *end = p + count;
	uint64_t off = 0;

	while (p < end) {
		uint16_t len;

		off = get64(p + 13);
		len = get16(p + 22);
		cr_assert(strlen(names) + len + 2 < cap);
		strcat(names, "|");
		strncat(names, (const char *)p + 24, len);
		p += 24 + len;
		(*n)++;
	}
	cr_assert_eq(p, end);
	return off;
}

static uint64_t host_ino(struct tc *c, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	cr_assert_eq(lstat(tc_path(c, rel, p), &st), 0, "%s", rel);
	return st.st_ino;
}

Test(fs9p_state, fids_of_every_kind_carry_over)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false), *d;
	static const char *const nested[] = { "d", "e", "f.txt" };
	static const char *const dotdot[] = { "d", "..", "a.txt" };
	char p[PATH_MAX], dir[256], names[4096] = "", buf[4200];
	unsigned nnames = 0;
	struct tattr a;
	uint64_t off;
	uint8_t *st;
	size_t len;
	int n;

	tc_host_file(c, "a.txt", "hello world");
	cr_assert_eq(mkdir(tc_path(c, "d", p), 0755), 0);
	cr_assert_eq(mkdir(tc_path(c, "d/e", p), 0755), 0);
	tc_host_file(c, "d/e/f.txt", "nested");
	cr_assert_eq(mkdir(tc_path(c, "dd", p), 0755), 0);
	for (int i = 0; i < 20; i++) {
		char rel[32];

		snprintf(rel, sizeof(rel), "dd/file%02d", i);
		tc_host_file(c, rel, "x");
	}
	/* 1: a file open for reading; 2: a nested one for writing. */
	walk_ok(c, 0, 1, 1, (const char *const[]){ "a.txt" });
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), 0);
	walk_ok(c, 0, 2, 3, nested);
	cr_assert_eq(tc_lopen(c, 2, O_RDWR, NULL), 0);
	/* 3: a directory half read. */
	walk_ok(c, 0, 3, 1, (const char *const[]){ "dd" });
	cr_assert_eq(tc_lopen(c, 3, O_RDONLY | O_DIRECTORY, NULL), 0);
	n = tc_readdir(c, 3, 0, 200);
	cr_assert_gt(n, 0);
	off = dir_names(c, n, names, sizeof(names), &nnames);
	cr_assert(nnames > 0 && nnames < 22, "partly read: %u", nnames);
	/* 4: a walked directory; 5: a file it creates; 6: through "..". */
	walk_ok(c, 0, 4, 1, (const char *const[]){ "d" });
	walk_ok(c, 4, 5, 0, NULL);
	cr_assert_eq(tc_lcreate(c, 5, "new.txt", O_RDWR, 0644, 0, NULL), 0);
	cr_assert_eq(tc_write(c, 5, 0, "created", 7), 7);
	walk_ok(c, 0, 6, 3, dotdot);
	/* 7: an xattr being read; 8: one half written. */
	cr_assert_eq(setxattr(tc_path(c, "a.txt", p), "user.r", "rv", 2, 0), 0);
	cr_assert_eq(tc_xattrwalk(c, 1, 7, "user.r"), 2);
	walk_ok(c, 4, 8, 0, NULL);
	cr_assert_eq(tc_xattrcreate(c, 8, "user.k", 5, 0), 0);
	cr_assert_eq(tc_write(c, 8, 0, "abc", 3), 3);

	save_ok(c, &st, &len);
	cr_assert_eq(get32(st), FS9P_STATE_MAGIC);
	cr_assert_eq(get32(st + 4), FS9P_STATE_VERSION);
	cr_assert_eq(get32(st + 8), TC_MSIZE);
	cr_assert_eq(st[12], 1, "9P2000.L");
	cr_assert_eq(get32(st + 32), 9, "fids 0..8");
	strcpy(dir, c->dir);
	tc_drop(c);

	/* The destination: a new export and session on the same directory. */
	d = tc_fresh(dir);
	restore_ok(d, st, len);
	free(st);
	cr_assert_eq(fs9p_session_msize(d->s), TC_MSIZE);
	/* Reads carry their offsets; writes land in the same files. */
	cr_assert_eq(tc_read(d, 1, 6, 5, buf), 5);
	cr_assert_eq(memcmp(buf, "world", 5), 0);
	cr_assert_eq(tc_write(d, 1, 0, "x", 1), -EBADF, "opened read-only");
	cr_assert_eq(tc_read(d, 2, 0, 64, buf), 6);
	cr_assert_eq(tc_write(d, 2, 6, "!!", 2), 2);
	host_read(d, "d/e/f.txt", buf, sizeof(buf));
	cr_assert_str_eq(buf, "nested!!");
	cr_assert_eq(tc_write(d, 5, 0, "X", 1), 1);
	host_read(d, "d/new.txt", buf, sizeof(buf));
	cr_assert_str_eq(buf, "Xreated");
	/* The directory goes on from the cookie: every entry once. */
	while ((n = tc_readdir(d, 3, off, 200)) > 0)
		off = dir_names(d, n, names, sizeof(names), &nnames);
	cr_assert_eq(n, 0);
	cr_assert_eq(nnames, 22, "20 files, . and ..: %s", names);
	for (int i = 0; i < 20; i++) {
		char e[32];

		snprintf(e, sizeof(e), "|file%02d|", i);
		cr_assert(strstr(strcat(strcpy(buf, names), "|"), e), "%s", e);
	}
	/* Walked fids: their files, and walks from them. */
	cr_assert_eq(tc_getattr(d, 4, &a), 0);
	cr_assert_eq(a.qid.path, host_ino(d, "d"));
	cr_assert_eq(tc_getattr(d, 6, &a), 0);
	cr_assert_eq(a.qid.path, host_ino(d, "a.txt"));
	walk_ok(d, 4, 10, 2, (const char *const[]){ "e", "f.txt" });
	cr_assert_eq(tc_getattr(d, 10, &a), 0);
	cr_assert_eq(a.qid.path, host_ino(d, "d/e/f.txt"));
	cr_assert_eq(tc_getattr(d, 0, &a), 0);
	cr_assert_eq(a.qid.path, host_ino(d, ""));
	/* The xattr fids: the value read, the write finished at clunk. */
	cr_assert_eq(tc_read(d, 7, 0, 64, buf), 2);
	cr_assert_eq(memcmp(buf, "rv", 2), 0);
	cr_assert_eq(tc_write(d, 8, 3, "de", 2), 2);
	cr_assert_eq(tc_clunk(d, 8), 0);
	cr_assert_eq(getxattr(tc_path(d, "d", p), "user.k", buf, sizeof(buf)),
		     5);
	cr_assert_eq(memcmp(buf, "abcde", 5), 0);
	/* A fid walked by name can be removed by it. */
	cr_assert_eq(tc_remove(d, 6), 0);
	cr_assert_eq(access(tc_path(d, "a.txt", p), F_OK), -1);
	tc_close(d);
}

/* Renames move the paths of every fid at or beneath the entry, so a
 * second save finds them where they now are. */
Test(fs9p_state, renames_move_tracked_paths)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false), *d;
	static const char *const nested[] = { "d", "e", "f.txt" };
	char p[PATH_MAX], dir[256], buf[16];
	uint8_t *st;
	size_t len;

	cr_assert_eq(mkdir(tc_path(c, "d", p), 0755), 0);
	cr_assert_eq(mkdir(tc_path(c, "d/e", p), 0755), 0);
	tc_host_file(c, "d/e/f.txt", "nested");
	walk_ok(c, 0, 1, 3, nested);
	cr_assert_eq(tc_lopen(c, 1, O_RDWR, NULL), 0);
	walk_ok(c, 0, 2, 1, (const char *const[]){ "d" });
	walk_ok(c, 0, 3, 2, (const char *const[]){ "d", "e" });
	/* Trename of d (by its fid), then Trenameat of e under it. */
	cr_assert_eq(tc_rename(c, 2, 0, "d2"), 0);
	cr_assert_eq(tc_renameat(c, 2, "e", 0, "e2"), 0);
	/* A name that only starts like the renamed one is not moved. */
	cr_assert_eq(mkdir(tc_path(c, "d2x", p), 0755), 0);
	walk_ok(c, 0, 4, 1, (const char *const[]){ "d2x" });
	cr_assert_eq(tc_renameat(c, 0, "d2", 0, "d3"), 0);
	save_ok(c, &st, &len);
	strcpy(dir, c->dir);
	tc_drop(c);

	d = tc_fresh(dir);
	restore_ok(d, st, len);
	free(st);
	cr_assert_eq(tc_read(d, 1, 0, 16, buf), 6);
	cr_assert_eq(tc_write(d, 1, 0, "N", 1), 1);
	host_read(d, "e2/f.txt", buf, sizeof(buf));
	cr_assert_str_eq(buf, "Nested");
	walk_ok(d, 3, 5, 1, (const char *const[]){ "f.txt" });
	walk_ok(d, 4, 6, 1, (const char *const[]){ "." });
	/* Fid 2 was renamed by name, so Tremove knows its name: d3. */
	cr_assert_eq(tc_unlinkat(d, 3, "f.txt", 0), 0);
	cr_assert_eq(tc_renameat(d, 0, "e2", 2, "e"), 0);
	cr_assert_eq(tc_unlinkat(d, 2, "e", AT_REMOVEDIR), 0);
	cr_assert_eq(tc_remove(d, 2), 0);
	cr_assert_eq(access(tc_path(d, "d3", p), F_OK), -1);
	tc_close(d);
}

/* The exact bytes of the smallest state: one attached root fid. */
Test(fs9p_state, exact_bytes_of_a_root_fid)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	uint8_t want[82] = { 0 }, *st;
	struct stat rs;
	size_t len;

	cr_assert_eq(tc_clunk(c, 0), 0);
	cr_assert_eq(tc_attach(c, 5, 1000, NULL), 0);
	cr_assert_eq(stat(c->dir, &rs), 0);
	put32(want, FS9P_STATE_MAGIC);
	put32(want + 4, 1);
	put32(want + 8, TC_MSIZE);
	want[12] = 1; /* 9P2000.L; passthrough, read-write */
	put64(want + 16, rs.st_dev);
	put64(want + 24, rs.st_ino);
	put32(want + 32, 1);
	put32(want + 40, 5);	  /* fid */
	want[46] = S_IFDIR >> 12; /* kind 0 (walked), flags 0 */
	put32(want + 48, 1000);	  /* uid */
	put64(want + 64, rs.st_dev);
	put64(want + 72, rs.st_ino); /* then ncomp 0 */
	save_ok(c, &st, &len);
	cr_assert_eq(len, sizeof(want));
	cr_assert_eq(memcmp(st, want, len), 0);
	cr_assert_eq(memcmp("F9PS", st, 4), 0, "magic reads F9PS");
	free(st);
	tc_close(c);
}

/* A hand-made state: header and records, little-endian. */
struct hb {
	uint8_t b[4096];
	size_t n;
};

static void hb_le(struct hb *h, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		h->b[h->n++] = (uint8_t)(v >> (8 * i));
}

static void hb_bytes(struct hb *h, const void *p, size_t n)
{
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void hb_header(struct hb *h, const char *dir, uint32_t msize,
		      uint32_t nfids)
{
	struct stat rs;

	cr_assert_eq(stat(dir, &rs), 0);
	h->n = 0;
	hb_le(h, FS9P_STATE_MAGIC, 4);
	hb_le(h, FS9P_STATE_VERSION, 4);
	hb_le(h, msize, 4);
	hb_le(h, 1, 1);
	hb_le(h, 0, 3);
	hb_le(h, rs.st_dev, 8);
	hb_le(h, rs.st_ino, 8);
	hb_le(h, nfids, 4);
	hb_le(h, 0, 4);
}

struct hrec {
	uint32_t fid;
	uint8_t kind, flags, ftype, zero;
	uint32_t uid, oflags;
	uint64_t dirpos;
	const char *comps[4]; /* up to the first NULL */
	size_t complen[4];    /* 0: strlen */
};

/* A record for path under dir (its device and inode from the host). */
static void hb_rec(struct hb *h, const char *dir, const struct hrec *r)
{
	char p[PATH_MAX];
	struct stat st = { 0 };
	unsigned n = 0;

	strcpy(p, dir);
	for (; n < 4 && r->comps[n]; n++)
		strcat(strcat(p, "/"), r->comps[n]);
	lstat(p, &st);
	hb_le(h, r->fid, 4);
	hb_le(h, r->kind, 1);
	hb_le(h, r->flags, 1);
	hb_le(h, r->ftype, 1);
	hb_le(h, r->zero, 1);
	hb_le(h, r->uid, 4);
	hb_le(h, r->oflags, 4);
	hb_le(h, r->dirpos, 8);
	hb_le(h, st.st_dev, 8);
	hb_le(h, st.st_ino, 8);
	hb_le(h, n, 2);
	for (unsigned i = 0; i < n; i++) {
		size_t l = r->complen[i] ? r->complen[i] : strlen(r->comps[i]);

		hb_le(h, l, 2);
		hb_bytes(h, r->comps[i], l);
	}
}

static const struct hrec good_file = {
	.fid = 1,
	.kind = 1,
	.ftype = S_IFREG >> 12,
	.oflags = O_RDWR,
	.comps = { "sub", "f" },
};

static int try_restore(const char *dir, const struct hb *h, char *why)
{
	struct tc *d = tc_fresh(dir);
	int r = fs9p_session_restore(d->s, h->b, h->n, why, WHY);

	/* A refused state leaves the session empty and usable. */
	if (r) {
		cr_assert_eq(tc_clunk(d, 1), -EBADF);
		cr_assert_eq(fs9p_session_msize(d->s), TC_MSIZE);
	}
	tc_drop(d);
	return r;
}

static void expect_proto(const char *dir, const struct hrec *r,
			 const char *what)
{
	char why[WHY] = "";
	struct hb h;

	hb_header(&h, dir, 8192, 1);
	hb_rec(&h, dir, r);
	cr_assert_eq(try_restore(dir, &h, why), -EPROTO, "%s: %s", what, why);
	cr_assert(strstr(why, "fid"), "%s: %s", what, why);
}

Test(fs9p_state, hostile_records_refused)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], why[WHY];
	struct hrec r;
	struct hb h;

	cr_assert_eq(mkdir(tc_path(c, "sub", p), 0755), 0);
	tc_host_file(c, "sub/f", "data");
	/* The hand-made record itself is good. */
	hb_header(&h, c->dir, 8192, 1);
	hb_rec(&h, c->dir, &good_file);
	cr_assert_eq(try_restore(c->dir, &h, why), 0, "%s", why);

	static const struct {
		const char *comp;
		size_t len;
	} names[] = {
		{ "..", 0 },   { ".", 0 }, { "a/b", 0 },
		{ "a\0b", 3 }, { "", 0 },  { "/", 0 },
	};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		r = good_file;
		r.comps[0] = names[i].comp;
		r.complen[0] = names[i].len;
		expect_proto(c->dir, &r, names[i].comp);
	}
	r = good_file, r.comps[0] = "..", r.comps[1] = "secret";
	expect_proto(c->dir, &r, "climbs out");
	r = good_file, r.fid = P9_NOFID;
	expect_proto(c->dir, &r, "NOFID");
	r = good_file, r.kind = 4;
	expect_proto(c->dir, &r, "kind");
	r = good_file, r.flags = 4;
	expect_proto(c->dir, &r, "flags");
	r = good_file, r.flags = 3;
	expect_proto(c->dir, &r, "stale and named");
	r = good_file, r.zero = 1;
	expect_proto(c->dir, &r, "reserved");
	r = good_file, r.ftype = 3;
	expect_proto(c->dir, &r, "file type");
	r = good_file, r.oflags = O_RDWR | O_TRUNC;
	expect_proto(c->dir, &r, "O_TRUNC");
	r = good_file, r.oflags = O_RDWR | O_CREAT;
	expect_proto(c->dir, &r, "O_CREAT");
	r = good_file, r.oflags = O_RDWR | O_EXCL;
	expect_proto(c->dir, &r, "O_EXCL");
	r = good_file, r.oflags = 3;
	expect_proto(c->dir, &r, "access mode 3");
	r = good_file, r.dirpos = 1ull << 63;
	expect_proto(c->dir, &r, "dirpos");
	r = good_file, r.ftype = S_IFLNK >> 12;
	expect_proto(c->dir, &r, "an open symlink");
	r = good_file, r.ftype = S_IFDIR >> 12, r.comps[1] = NULL;
	expect_proto(c->dir, &r, "a directory open for writing");
	r = good_file, r.kind = 0;
	expect_proto(c->dir, &r, "open flags on a walked fid");
	r = good_file, r.kind = 0, r.oflags = 0, r.dirpos = 1;
	expect_proto(c->dir, &r, "dirpos on a walked fid");
	r = good_file, r.kind = 0, r.oflags = 0, r.flags = 1;
	expect_proto(c->dir, &r, "stale with a path");
	r = good_file, r.kind = 0, r.oflags = 0, r.flags = 2;
	r.comps[0] = NULL;
	expect_proto(c->dir, &r, "named without a path");
	tc_close(c);
}

Test(fs9p_state, hostile_headers_and_counts_refused)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], why[WHY];
	struct hb h;
	struct {
		size_t at;
		unsigned len;
		uint64_t v;
		const char *what;
	} pokes[] = {
		{ 0, 4, 0x12345678, "magic" },
		{ 4, 4, 2, "version" },
		{ 8, 4, 4095, "msize below 4096" },
		{ 8, 4, TC_MSIZE + 1, "msize above the session's" },
		{ 12, 1, 3, "proto" },
		{ 13, 1, 1, "mapped" },
		{ 13, 1, 2, "security" },
		{ 14, 1, 1, "read-only" },
		{ 15, 1, 1, "reserved" },
		{ 32, 4, 0xffffffff, "fid count" },
		{ 32, 4, 2, "fid count past the end" },
		{ 32, 4, 0, "bytes after the last fid" },
		{ 36, 4, 1, "reserved word" },
		{ 40 + 40, 2, 3, "more names than there are" },
		{ 40 + 42, 2, 300, "a name longer than NAME_MAX" },
	};

	cr_assert_eq(mkdir(tc_path(c, "sub", p), 0755), 0);
	tc_host_file(c, "sub/f", "data");
	for (unsigned i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		hb_header(&h, c->dir, 8192, 1);
		hb_rec(&h, c->dir, &good_file);
		for (unsigned k = 0; k < pokes[i].len; k++)
			h.b[pokes[i].at + k] = (uint8_t)(pokes[i].v >> (8 * k));
		cr_assert_eq(try_restore(c->dir, &h, why), -EPROTO, "%s",
			     pokes[i].what);
	}
	/* One byte too many. */
	hb_header(&h, c->dir, 8192, 1);
	hb_rec(&h, c->dir, &good_file);
	h.b[h.n++] = 0;
	cr_assert_eq(try_restore(c->dir, &h, why), -EPROTO);
	cr_assert_str_eq(why, "1 bytes after the last fid");
	/* The same fid twice. */
	hb_header(&h, c->dir, 8192, 2);
	hb_rec(&h, c->dir, &good_file);
	hb_rec(&h, c->dir, &good_file);
	cr_assert_eq(try_restore(c->dir, &h, why), -EPROTO);
	cr_assert_str_eq(why, "fid 1: a fid number saved twice");
	/* A session that has fids already. */
	hb_header(&h, c->dir, 8192, 0);
	cr_assert_eq(fs9p_session_restore(c->s, h.b, h.n, why, WHY), -EBUSY);
	tc_close(c);
}

/* A real state of every kind, cut short at every byte: each prefix is
 * refused and leaves the session empty. */
Test(fs9p_state, truncated_at_every_byte)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false), *d;
	char p[PATH_MAX], why[WHY];
	uint8_t *st;
	size_t len;

	cr_assert_eq(mkdir(tc_path(c, "sub", p), 0755), 0);
	tc_host_file(c, "sub/f", "data");
	walk_ok(c, 0, 1, 2, (const char *const[]){ "sub", "f" });
	cr_assert_eq(tc_lopen(c, 1, O_RDWR, NULL), 0);
	walk_ok(c, 0, 2, 1, (const char *const[]){ "sub" });
	cr_assert_eq(tc_xattrwalk(c, 2, 3, ""), 0);
	walk_ok(c, 0, 4, 1, (const char *const[]){ "sub" });
	cr_assert_eq(tc_xattrcreate(c, 4, "user.x", 3, 0), 0);
	cr_assert_eq(tc_write(c, 4, 0, "xy", 2), 2);
	save_ok(c, &st, &len);
	d = tc_fresh(c->dir);
	for (size_t i = 0; i < len; i++) {
		int r = fs9p_session_restore(d->s, st, i, why, WHY);

		cr_assert_eq(r, -EPROTO, "cut at %zu: %d", i, r);
	}
	restore_ok(d, st, len);
	cr_assert_eq(tc_read(d, 1, 1, 3, p), 3);
	cr_assert_eq(memcmp(p, "ata", 3), 0);
	free(st);
	tc_drop(d);
	tc_close(c);
}

/* Deleted between save and restore: an open file fails the restore,
 * naming it; a walked fid comes back stale. */
Test(fs9p_state, file_gone_before_restore)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false), *d;
	char p[PATH_MAX], q[PATH_MAX], why[WHY] = "";
	uint8_t *st, *st2;
	size_t len, len2;
	struct tattr a;

	cr_assert_eq(mkdir(tc_path(c, "sub", p), 0755), 0);
	tc_host_file(c, "sub/f", "data");
	tc_host_file(c, "g", "gg");
	walk_ok(c, 0, 1, 2, (const char *const[]){ "sub", "f" });
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), 0);
	walk_ok(c, 0, 2, 1, (const char *const[]){ "g" });
	save_ok(c, &st, &len);
	cr_assert_eq(tc_clunk(c, 1), 0);
	save_ok(c, &st2, &len2); /* without the open file */
	/* Made while f exists: its inode number cannot be f's. */
	tc_host_file(c, "sub/f2", "other");
	cr_assert_eq(unlink(tc_path(c, "sub/f", p)), 0);
	cr_assert_eq(unlink(tc_path(c, "g", p)), 0);

	d = tc_fresh(c->dir);
	cr_assert_eq(fs9p_session_restore(d->s, st, len, why, WHY), -ENOENT);
	cr_assert_str_eq(why, "fid 1: the file open as /sub/f cannot be "
			      "opened again: No such file or directory");
	cr_assert_eq(tc_getattr(d, 0, &a), -EBADF, "nothing restored");
	/* Back under the same name, another inode: refused as well. */
	cr_assert_eq(rename(tc_path(c, "sub/f2", p), tc_path(c, "sub/f", q)),
		     0);
	cr_assert_eq(fs9p_session_restore(d->s, st, len, why, WHY), -ESTALE);
	cr_assert(strstr(why, "another file is there now"), "%s", why);
	/* The walked fid alone: stale, ESTALE but for clunk and remove. */
	restore_ok(d, st2, len2);
	cr_assert_eq(tc_getattr(d, 0, &a), 0);
	cr_assert_eq(tc_getattr(d, 2, &a), -ESTALE);
	cr_assert_eq(tc_walk1(d, 2, 3, NULL, NULL), -ESTALE);
	cr_assert_eq(tc_lopen(d, 2, O_RDONLY, NULL), -ESTALE);
	cr_assert_eq(tc_xattrcreate(d, 2, "user.a", 1, 0), -ESTALE);
	cr_assert_eq(tc_readdir(d, 2, 0, 100), -ESTALE);
	cr_assert_eq(tc_remove(d, 2), -ESTALE);
	cr_assert_eq(tc_clunk(d, 2), -EBADF, "Tremove clunked it");
	/* Saved again, a stale fid stays stale. */
	tc_drop(d);
	d = tc_fresh(c->dir);
	restore_ok(d, st2, len2);
	free(st2);
	save_ok(d, &st2, &len2);
	cr_assert_eq(st2[40 + 42 + 5], 1, "fid 2 STALE");
	free(st2);
	free(st);
	tc_drop(d);
	tc_close(c);
}

/* A path component replaced by a symlink (here to the export's parent,
 * where a file of the same name waits) is never followed. */
Test(fs9p_state, symlink_in_path_not_followed)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false), *d;
	char p[PATH_MAX], q[PATH_MAX], why[WHY] = "";
	uint8_t *st, *st2;
	size_t len, len2;
	struct tattr a;

	cr_assert_eq(mkdir(tc_path(c, "sub", p), 0755), 0);
	tc_host_file(c, "sub/f", "data");
	walk_ok(c, 0, 1, 2, (const char *const[]){ "sub", "f" });
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), 0);
	walk_ok(c, 0, 2, 2, (const char *const[]){ "sub", "f" });
	save_ok(c, &st, &len);
	cr_assert_eq(tc_clunk(c, 1), 0);
	save_ok(c, &st2, &len2);
	cr_assert_eq(rename(tc_path(c, "sub", p), tc_path(c, "moved", q)), 0);
	cr_assert_eq(symlink("moved", tc_path(c, "sub", p)), 0);

	d = tc_fresh(c->dir);
	cr_assert_eq(fs9p_session_restore(d->s, st, len, why, WHY), -ENOTDIR);
	cr_assert(strstr(why, "/sub/f"), "%s", why);
	restore_ok(d, st2, len2);
	cr_assert_eq(tc_getattr(d, 2, &a), -ESTALE);
	free(st);
	free(st2);
	tc_drop(d);
	tc_close(c);
}

/* A file deleted while open cannot be found again: the save is refused
 * rather than lose it. A walked fid of a deleted file is saved stale. */
Test(fs9p_state, deleted_while_open_refused_at_save)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], q[PATH_MAX], why[WHY] = "";
	uint8_t *st;
	size_t len;

	walk_ok(c, 0, 1, 0, NULL);
	cr_assert_eq(tc_lcreate(c, 1, "tmp", O_RDWR, 0600, 0, NULL), 0);
	walk_ok(c, 0, 2, 1, (const char *const[]){ "tmp" });
	cr_assert_eq(tc_unlinkat(c, 0, "tmp", 0), 0);
	cr_assert_eq(tc_write(c, 1, 0, "still here", 10), 10);
	cr_assert_eq(fs9p_session_save(c->s, &st, &len, why, WHY), -ESTALE);
	cr_assert_str_eq(why, "fid 1: the file open as tmp was deleted "
			      "while open");
	cr_assert_eq(tc_clunk(c, 1), 0);
	save_ok(c, &st, &len);
	cr_assert_eq(st[40 + 42 + 5], 1, "fid 2 STALE");
	free(st);
	/* Moved on the host behind the server's back: refused too. */
	tc_host_file(c, "h", "h");
	walk_ok(c, 0, 3, 1, (const char *const[]){ "h" });
	cr_assert_eq(tc_lopen(c, 3, O_RDONLY, NULL), 0);
	cr_assert_eq(rename(tc_path(c, "h", p), tc_path(c, "h2", q)), 0);
	cr_assert_eq(fs9p_session_save(c->s, &st, &len, why, WHY), -ESTALE);
	cr_assert_str_eq(why, "fid 3: the file open as h is no longer there "
			      "(renamed on the host?)");
	tc_close(c);
}
