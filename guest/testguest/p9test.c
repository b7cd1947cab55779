/* scenario=p9: the functional test of the 9P2000.L client against the
 * export. Runs on the boot CPU at CPL3; state lives in struct t.
 *
 * Under dir=NAME (default p9t) in the export's root it creates the tree
 * NAME/{d0/sub,d1/sub,d2}, four files in each directory (0, 100, 4096 and
 * 70001 bytes) and one file "big" of two msize-sized writes and a bit in
 * NAME. Files hold 16-byte lines "P%03u%011u\n" (file id, line number),
 * cut at the file's size; the id of file j in directory i is 10 * i + j,
 * of big 99. Then: read back and compare, getattr sizes and types,
 * readdir lists exactly the created names, a walk to a missing name gives
 * ENOENT, mkdir of an existing one EEXIST, unlink everything, readdir of
 * NAME empty, NAME removed. Prints "guest: 9p: PASS" or
 * "guest: 9p: FAIL at STEP: why".
 * Arguments: transport=, ecam=, virtio_mmio.device= (p9.c), msize=B
 * (default 524288), tag=T (the mount tag expected), keep=1 (stop before
 * the deletes: "guest: 9p: PASS, files kept"), hostfile=NAME hostsize=N
 * (a file the host wrote with id 777, read and checked first), ro=1 (a
 * read-only export: reads hostfile, then mkdir and create must give
 * EROFS: "guest: 9p: PASS read-only"). */
#include "p9.h"

#define ROOT_FID 0
#define DIR_FID 1 /* + directory index */
#define WORK_FID 100
#define NDIRS 6
#define NFILES 4
#define BIG_ID 99
#define HOST_ID 777
#define EEXIST_ 17
#define ENOENT_ 2
#define EROFS_ 30

static const char *const dirs[NDIRS] = { "",   "d0",	 "d0/sub",
					 "d1", "d1/sub", "d2" };
static const uint32_t sizes[NFILES] = { 0, 100, 4096, 70001 };

struct t {
	struct p9 c;
	char top[32];
	uint8_t *buf, *want, *dirbuf; /* iosize, iosize, 8 KiB */
	uint64_t big;
};

static int fail(const char *step, int err)
{
	char why[48];

	printf("guest: 9p: FAIL at %s: %s\n", step, p9_strerror(err, why, 48));
	return 1;
}

/* The pattern bytes [off, off + len) of file id. */
void p9_pattern(uint8_t *dst, unsigned id, uint64_t off, uint32_t len)
{
	char line[17];
	uint64_t pos = off, end = off + len;

	while (pos < end) {
		uint32_t col = (uint32_t)(pos % 16), n = 16 - col;
		snprintf(line, sizeof(line), "P%03u%011lu\n", id % 1000,
			 pos / 16);
		if (n > end - pos)
			n = (uint32_t)(end - pos);
		memcpy(dst, line + col, n);
		dst += n;
		pos += n;
	}
}

/* Walks fid from the root through NAME/path (path "" is NAME itself). */
static int walk_dir(struct t *t, unsigned d, uint32_t fid)
{
	const char *names[3] = { t->top, "d0", "sub" };
	unsigned n = 1;
	int e;

	if (dirs[d][0]) {
		names[1] = d < 3 ? "d0" : d < 5 ? "d1" : "d2";
		n = d == 2 || d == 4 ? 3 : 2;
	}
	e = p9_walk(&t->c, ROOT_FID, fid, n, names);
	return e == (int)n ? 0 : e < 0 ? e : P9_EPROTO_BAD;
}

static void file_name(char *name, unsigned j)
{
	snprintf(name, 8, "f%u", j);
}

static int write_file(struct t *t, uint32_t dfid, const char *name, unsigned id,
		      uint64_t size)
{
	int64_t e;

	if ((e = p9_walk(&t->c, dfid, WORK_FID, 0, NULL)) < 0 ||
	    (e = p9_lcreate(&t->c, WORK_FID, name, P9_RDWR, 0644, NULL)))
		return fail("create", (int)e);
	for (uint64_t off = 0; off < size;) {
		uint32_t n = size - off < t->c.iosize ? (uint32_t)(size - off)
						      : t->c.iosize;
		p9_pattern(t->buf, id, off, n);
		if ((e = p9_write(&t->c, WORK_FID, off, t->buf, n)) != n)
			return fail("write", e < 0 ? (int)e : P9_EPROTO_BAD);
		off += n;
	}
	if ((e = p9_clunk(&t->c, WORK_FID)))
		return fail("clunk", (int)e);
	return 0;
}

/* Opens name in dfid, checks getattr, reads it all and compares. */
static int check_file(struct t *t, uint32_t dfid, const char *name, unsigned id,
		      uint64_t size)
{
	struct p9_attr a;
	uint64_t off = 0;
	int64_t e;

	if ((e = p9_walk1(&t->c, dfid, WORK_FID, name)))
		return fail("walk", (int)e);
	if ((e = p9_getattr(&t->c, WORK_FID, &a)))
		return fail("getattr", (int)e);
	if (a.size != size || (a.mode & P9_S_IFMT) != P9_S_IFREG) {
		printf("guest: 9p: %s: size %lu mode %x, expected %lu\n", name,
		       a.size, a.mode, size);
		return fail("getattr", 0);
	}
	if ((e = p9_lopen(&t->c, WORK_FID, P9_RDONLY, NULL)))
		return fail("open", (int)e);
	for (;;) {
		if ((e = p9_read(&t->c, WORK_FID, off, t->buf, t->c.iosize)) <
		    0)
			return fail("read", (int)e);
		if (!e)
			break;
		p9_pattern(t->want, id, off, (uint32_t)e);
		if (off + (uint64_t)e > size ||
		    memcmp(t->buf, t->want, (size_t)e)) {
			printf("guest: 9p: %s differs in [%lu, +%ld)\n", name,
			       off, e);
			return fail("compare", 0);
		}
		off += (uint64_t)e;
	}
	if (off != size) {
		printf("guest: 9p: %s: read %lu of %lu bytes\n", name, off,
		       size);
		return fail("read", 0);
	}
	return (e = p9_clunk(&t->c, WORK_FID)) ? fail("clunk", (int)e) : 0;
}

/* The names directory dfid lists, apart from . and .., must be exactly
 * want[0..n) (each once). */
static int check_listing(struct t *t, uint32_t dfid, const char *const *want,
			 unsigned n)
{
	uint32_t seen = 0, pos;
	uint64_t off = 0, next;
	char name[64];
	int64_t e;
	int r;

	if ((e = p9_walk(&t->c, dfid, WORK_FID, 0, NULL)) < 0 ||
	    (e = p9_lopen(&t->c, WORK_FID, P9_RDONLY, NULL)))
		return fail("readdir open", (int)e);
	while ((e = p9_readdir(&t->c, WORK_FID, off, t->dirbuf, 8192)) > 0) {
		for (pos = 0; (r = p9_dirent(t->dirbuf, (uint32_t)e, &pos,
					     &next, name, sizeof(name))) == 1;
		     off = next) {
			unsigned i = 0;
			if (!strncmp(name, ".", 2) || !strncmp(name, "..", 3))
				continue;
			while (i < n && strncmp(name, want[i], 64))
				i++;
			if (i == n || seen & 1u << i) {
				printf("guest: 9p: readdir: unexpected '%s'\n",
				       name);
				return fail("readdir", 0);
			}
			seen |= 1u << i;
		}
		if (r < 0)
			return fail("readdir", r);
	}
	if (e < 0)
		return fail("readdir", (int)e);
	if (seen != (n == 32 ? ~0u : (1u << n) - 1)) {
		printf("guest: 9p: readdir: listed %x of %u names\n", seen, n);
		return fail("readdir", 0);
	}
	return (e = p9_clunk(&t->c, WORK_FID)) ? fail("clunk", (int)e) : 0;
}

/* The names directory d should hold: its files, its subdirectories. */
static unsigned expected_names(struct t *t, unsigned d, const char **names,
			       char (*fn)[8])
{
	unsigned n = 0;

	for (unsigned j = 0; j < NFILES; j++) {
		file_name(fn[j], j);
		names[n++] = fn[j];
	}
	if (d == 0) {
		names[n++] = "d0";
		names[n++] = "d1";
		names[n++] = "d2";
		names[n++] = "big";
	} else if (d == 1 || d == 3) {
		names[n++] = "sub";
	}
	(void)t;
	return n;
}

static int make_tree(struct t *t)
{
	char name[8];
	int e;

	if ((e = p9_mkdir(&t->c, ROOT_FID, t->top, 0755, NULL)))
		return fail("mkdir", e);
	if ((e = p9_mkdir(&t->c, ROOT_FID, t->top, 0755, NULL)) != -EEXIST_)
		return fail("mkdir of an existing name gives EEXIST", e);
	for (unsigned d = 0; d < NDIRS; d++) {
		if ((e = walk_dir(t, d, DIR_FID + d)))
			return fail("walk", e);
		if ((d == 1 || d == 3) &&
		    (e = p9_mkdir(&t->c, DIR_FID + d, "sub", 0755, NULL)))
			return fail("mkdir", e);
		if (d == 0)
			for (unsigned k = 0; k < 3; k++) {
				snprintf(name, sizeof(name), "d%u", k);
				if ((e = p9_mkdir(&t->c, DIR_FID, name, 0755,
						  NULL)))
					return fail("mkdir", e);
			}
		for (unsigned j = 0; j < NFILES; j++) {
			file_name(name, j);
			if (write_file(t, DIR_FID + d, name, 10 * d + j,
				       sizes[j]))
				return 1;
		}
	}
	return write_file(t, DIR_FID, "big", BIG_ID, t->big);
}

static int check_tree(struct t *t)
{
	const char *names[NFILES + 4];
	char fn[NFILES][8];
	struct p9_attr a;
	int e;

	for (unsigned d = 0; d < NDIRS; d++) {
		for (unsigned j = 0; j < NFILES; j++) {
			file_name(fn[j], j);
			if (check_file(t, DIR_FID + d, fn[j], 10 * d + j,
				       sizes[j]))
				return 1;
		}
		if ((e = p9_getattr(&t->c, DIR_FID + d, &a)))
			return fail("getattr", e);
		if ((a.mode & P9_S_IFMT) != P9_S_IFDIR)
			return fail("getattr of a directory", 0);
		if (check_listing(t, DIR_FID + d, names,
				  expected_names(t, d, names, fn)))
			return 1;
	}
	if (check_file(t, DIR_FID, "big", BIG_ID, t->big))
		return 1;
	e = p9_walk1(&t->c, DIR_FID, WORK_FID, "missing");
	if (e != -ENOENT_)
		return fail("walk to a missing name gives ENOENT", e);
	printf("guest: 9p: tree written, read back, listed ok\n");
	return 0;
}

static int delete_tree(struct t *t)
{
	static const char *const none[1];
	char name[8];
	int e;

	/* Deepest first: d0/sub and d1/sub (2, 4) before d0 and d1. */
	for (unsigned d = NDIRS; d-- > 0;) {
		for (unsigned j = 0; j < NFILES; j++) {
			file_name(name, j);
			if ((e = p9_unlinkat(&t->c, DIR_FID + d, name, 0)))
				return fail("unlink", e);
		}
		if ((d == 1 || d == 3) &&
		    (e = p9_unlinkat(&t->c, DIR_FID + d, "sub",
				     P9_AT_REMOVEDIR)))
			return fail("rmdir", e);
		if (d && (e = p9_clunk(&t->c, DIR_FID + d)))
			return fail("clunk", e);
	}
	if ((e = p9_unlinkat(&t->c, DIR_FID, "big", 0)))
		return fail("unlink", e);
	for (unsigned k = 0; k < 3; k++) {
		snprintf(name, sizeof(name), "d%u", k);
		if ((e = p9_unlinkat(&t->c, DIR_FID, name, P9_AT_REMOVEDIR)))
			return fail("rmdir", e);
	}
	if (check_listing(t, DIR_FID, none, 0))
		return 1;
	if ((e = p9_clunk(&t->c, DIR_FID)) ||
	    (e = p9_unlinkat(&t->c, ROOT_FID, t->top, P9_AT_REMOVEDIR)))
		return fail("rmdir", e);
	e = p9_walk1(&t->c, ROOT_FID, WORK_FID, t->top);
	if (e != -ENOENT_)
		return fail("walk to the removed directory gives ENOENT", e);
	printf("guest: 9p: tree deleted, directory empty ok\n");
	return 0;
}

/* hostfile=NAME hostsize=N: the host wrote it with id HOST_ID. */
static int check_hostfile(struct t *t)
{
	char name[64];

	if (!arg("hostfile", name, sizeof(name)))
		return 0;
	if (check_file(t, ROOT_FID, name, HOST_ID, arg_u64("hostsize", 0)))
		return 1;
	printf("guest: 9p: host file '%s' read ok\n", name);
	return 0;
}

static int check_readonly(struct t *t)
{
	int e;

	if ((e = p9_mkdir(&t->c, ROOT_FID, t->top, 0755, NULL)) != -EROFS_)
		return fail("mkdir on a read-only export gives EROFS", e);
	if ((e = p9_walk(&t->c, ROOT_FID, WORK_FID, 0, NULL)) < 0)
		return fail("walk", e);
	if ((e = p9_lcreate(&t->c, WORK_FID, "new", P9_RDWR, 0644, NULL)) !=
	    -EROFS_)
		return fail("create on a read-only export gives EROFS", e);
	if ((e = p9_clunk(&t->c, WORK_FID)))
		return fail("clunk", e);
	printf("guest: 9p: PASS read-only\n");
	return 0;
}

/* Opens the device, negotiates msize, attaches ROOT_FID as root. */
int p9_session(struct p9 *c)
{
	char tag[P9_TAG_MAX + 1];
	struct p9_qid qid;
	int e;

	if (p9_open(c))
		return fail("device", 0);
	if (arg("tag", tag, sizeof(tag)) &&
	    strncmp(tag, c->mount_tag, sizeof(tag))) {
		printf("guest: 9p: mount tag '%s', expected '%s'\n",
		       c->mount_tag, tag);
		return fail("mount tag", 0);
	}
	if ((e = p9_version(c, (uint32_t)arg_u64("msize", 524288))))
		return fail("version", e);
	if ((e = p9_attach(c, ROOT_FID, "root", 0, &qid)))
		return fail("attach", e);
	if (!(qid.type & 0x80))
		return fail("attach gives a directory qid", 0);
	printf("guest: 9p: %s%s, tag '%s', msize %u\n",
	       c->dev.pci ? "pci" : "mmio", arg_u64("ecam", 0) ? " (ecam)" : "",
	       c->mount_tag, c->msize);
	return 0;
}

int scenario_p9(void)
{
	struct t *t = page_alloc(sizeof(*t));

	timing_init();
	if (!t || p9_session(&t->c))
		return 1;
	if (!arg("dir", t->top, sizeof(t->top)))
		memcpy(t->top, "p9t", 4);
	t->buf = page_alloc(t->c.iosize);
	t->want = page_alloc(t->c.iosize);
	t->dirbuf = page_alloc(8192);
	t->big = 2 * (uint64_t)t->c.iosize + 333;
	if (!t->buf || !t->want || !t->dirbuf)
		return fail("memory", 0);
	if (check_hostfile(t))
		return 1;
	if (arg_u64("ro", 0))
		return check_readonly(t);
	if (make_tree(t) || check_tree(t))
		return 1;
	if (arg_u64("keep", 0)) {
		printf("guest: 9p: PASS, files kept\n");
		return 0;
	}
	if (delete_tree(t))
		return 1;
	printf("guest: 9p: PASS\n");
	return 0;
}
