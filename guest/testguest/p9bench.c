/* scenario=p9bench: the 9p benchmark workload. Runs on the boot CPU at
 * CPL3 (polling); state lives in struct b.
 *
 * Under dir=NAME (default p9b): dirs=D directories d000.. (default 50)
 * of files=F files f0000.. (default 100) of fsize=B bytes (default 4096),
 * timed phase by phase: create (walk, lcreate, write, clunk), stat (walk,
 * getattr, clunk), read (walk, lopen, read, clunk), delete (unlinkat);
 * then seqmb=M MiB (default 512) written to one file "big" and read back
 * in I/Os of the msize's payload rounded down to 4 KiB. keep=1 stops
 * before the deletes (everything stays for the host to check).
 * Small file k (k = dir * F + file) holds the 16-byte line "S%014u\n"
 * (k) then the functional test's pattern of id 0 from line 1 on; block b
 * (4 KiB) of big starts with "B%014lu\n" (b), then the pattern's bytes
 * at the same offset modulo io.
 * One line per phase:
 *   guest: p9bench phase=NAME count=N bytes=B us=U
 * then "guest: p9bench done requests=R msize=M io=I". */
#include "p9.h"

#define ROOT_FID 0
#define TOP_FID 1
#define DIR_FID 10 /* + directory index */
#define WORK_FID 5
#define MAX_DIRS 1000

struct b {
	struct p9 c;
	char top[32];
	unsigned dirs, files;
	uint32_t fsize, io;
	uint64_t seq;
	uint8_t *base, *buf; /* io bytes each */
	uint64_t t0;
};

int p9_session(struct p9 *c);
void p9_pattern(uint8_t *dst, unsigned id, uint64_t off, uint32_t len);

static int bfail(const char *step, unsigned k, int err)
{
	char why[48];

	printf("guest: 9p: FAIL at %s (%u): %s\n", step, k,
	       p9_strerror(err, why, 48));
	return 1;
}

static void phase_start(struct b *b)
{
	b->t0 = rdtsc();
}

static void phase_end(struct b *b, const char *name, uint64_t count,
		      uint64_t bytes)
{
	uint64_t us = (rdtsc() - b->t0) / (tsc_hz() / 1000000);

	printf("guest: p9bench phase=%s count=%lu bytes=%lu us=%lu\n", name,
	       count, bytes, us);
}

static void stamp(uint8_t *p, char c, uint64_t n)
{
	char line[17];

	snprintf(line, sizeof(line), "%c%014lu\n", c, n);
	memcpy(p, line, 16);
}

static void fname(char *n, unsigned k, struct b *b)
{
	snprintf(n, 8, "f%04u", k % b->files);
}

static int create_files(struct b *b)
{
	char name[8];
	int64_t e;

	phase_start(b);
	for (unsigned k = 0; k < b->dirs * b->files; k++) {
		uint32_t dfid = DIR_FID + k / b->files;
		fname(name, k, b);
		stamp(b->base, 'S', k);
		if ((e = p9_walk(&b->c, dfid, WORK_FID, 0, NULL)) < 0 ||
		    (e = p9_lcreate(&b->c, WORK_FID, name, P9_WRONLY, 0644,
				    NULL)))
			return bfail("create", k, (int)e);
		if ((e = p9_write(&b->c, WORK_FID, 0, b->base, b->fsize)) !=
		    b->fsize)
			return bfail("write", k, e < 0 ? (int)e : 0);
		if ((e = p9_clunk(&b->c, WORK_FID)))
			return bfail("clunk", k, (int)e);
	}
	phase_end(b, "create", b->dirs * b->files,
		  (uint64_t)b->dirs * b->files * b->fsize);
	return 0;
}

static int stat_files(struct b *b)
{
	struct p9_attr a;
	char name[8];
	int e;

	phase_start(b);
	for (unsigned k = 0; k < b->dirs * b->files; k++) {
		fname(name, k, b);
		if ((e = p9_walk1(&b->c, DIR_FID + k / b->files, WORK_FID,
				  name)) ||
		    (e = p9_getattr(&b->c, WORK_FID, &a)))
			return bfail("stat", k, e);
		if (a.size != b->fsize)
			return bfail("stat size", k, 0);
		if ((e = p9_clunk(&b->c, WORK_FID)))
			return bfail("clunk", k, e);
	}
	phase_end(b, "stat", b->dirs * b->files, 0);
	return 0;
}

static int read_files(struct b *b)
{
	char name[8];
	int64_t e;

	phase_start(b);
	for (unsigned k = 0; k < b->dirs * b->files; k++) {
		fname(name, k, b);
		if ((e = p9_walk1(&b->c, DIR_FID + k / b->files, WORK_FID,
				  name)) ||
		    (e = p9_lopen(&b->c, WORK_FID, P9_RDONLY, NULL)))
			return bfail("open", k, (int)e);
		if ((e = p9_read(&b->c, WORK_FID, 0, b->buf, b->fsize)) !=
		    b->fsize)
			return bfail("read", k, e < 0 ? (int)e : 0);
		stamp(b->base, 'S', k);
		if (memcmp(b->buf, b->base, b->fsize))
			return bfail("read compare", k, 0);
		if ((e = p9_clunk(&b->c, WORK_FID)))
			return bfail("clunk", k, (int)e);
	}
	phase_end(b, "read", b->dirs * b->files,
		  (uint64_t)b->dirs * b->files * b->fsize);
	return 0;
}

static int delete_files(struct b *b)
{
	char name[8];
	int e;

	phase_start(b);
	for (unsigned k = 0; k < b->dirs * b->files; k++) {
		fname(name, k, b);
		if ((e = p9_unlinkat(&b->c, DIR_FID + k / b->files, name, 0)))
			return bfail("unlink", k, e);
	}
	phase_end(b, "delete", b->dirs * b->files, 0);
	return 0;
}

static int seq_write(struct b *b)
{
	int64_t e;

	phase_start(b);
	if ((e = p9_walk(&b->c, TOP_FID, WORK_FID, 0, NULL)) < 0 ||
	    (e = p9_lcreate(&b->c, WORK_FID, "big", P9_WRONLY, 0644, NULL)))
		return bfail("create big", 0, (int)e);
	for (uint64_t off = 0; off < b->seq; off += b->io) {
		uint32_t n =
			b->seq - off < b->io ? (uint32_t)(b->seq - off) : b->io;
		for (uint32_t i = 0; i < n; i += 4096)
			stamp(b->base + i, 'B', (off + i) / 4096);
		if ((e = p9_write(&b->c, WORK_FID, off, b->base, n)) != n)
			return bfail("write big", (unsigned)(off >> 20),
				     e < 0 ? (int)e : 0);
	}
	if ((e = p9_clunk(&b->c, WORK_FID)))
		return bfail("clunk", 0, (int)e);
	phase_end(b, "seqwrite", (b->seq + b->io - 1) / b->io, b->seq);
	return 0;
}

static int seq_read(struct b *b)
{
	char want[17];
	int64_t e;

	phase_start(b);
	if ((e = p9_walk1(&b->c, TOP_FID, WORK_FID, "big")) ||
	    (e = p9_lopen(&b->c, WORK_FID, P9_RDONLY, NULL)))
		return bfail("open big", 0, (int)e);
	for (uint64_t off = 0; off < b->seq; off += b->io) {
		uint32_t n =
			b->seq - off < b->io ? (uint32_t)(b->seq - off) : b->io;
		if ((e = p9_read(&b->c, WORK_FID, off, b->buf, n)) != n)
			return bfail("read big", (unsigned)(off >> 20),
				     e < 0 ? (int)e : 0);
		/* The stamps only: a full compare would time memcmp. */
		for (uint32_t i = 0; i < n; i += 4096) {
			snprintf(want, sizeof(want), "B%014lu\n",
				 (off + i) / 4096);
			if (memcmp(b->buf + i, want, 16))
				return bfail("read big compare",
					     (unsigned)((off + i) / 4096), 0);
		}
	}
	if ((e = p9_clunk(&b->c, WORK_FID)))
		return bfail("clunk", 0, (int)e);
	phase_end(b, "seqread", (b->seq + b->io - 1) / b->io, b->seq);
	return 0;
}

static int make_dirs(struct b *b)
{
	char name[8];
	int e;

	if ((e = p9_mkdir(&b->c, ROOT_FID, b->top, 0755, NULL)) ||
	    (e = p9_walk1(&b->c, ROOT_FID, TOP_FID, b->top)))
		return bfail("mkdir", 0, e);
	for (unsigned d = 0; d < b->dirs; d++) {
		snprintf(name, sizeof(name), "d%03u", d);
		if ((e = p9_mkdir(&b->c, TOP_FID, name, 0755, NULL)) ||
		    (e = p9_walk1(&b->c, TOP_FID, DIR_FID + d, name)))
			return bfail("mkdir", d, e);
	}
	return 0;
}

static int remove_dirs(struct b *b)
{
	char name[8];
	int e;

	for (unsigned d = 0; d < b->dirs; d++) {
		snprintf(name, sizeof(name), "d%03u", d);
		if ((e = p9_clunk(&b->c, DIR_FID + d)) ||
		    (e = p9_unlinkat(&b->c, TOP_FID, name, P9_AT_REMOVEDIR)))
			return bfail("rmdir", d, e);
	}
	if ((e = p9_unlinkat(&b->c, TOP_FID, "big", 0)) ||
	    (e = p9_clunk(&b->c, TOP_FID)) ||
	    (e = p9_unlinkat(&b->c, ROOT_FID, b->top, P9_AT_REMOVEDIR)))
		return bfail("cleanup", 0, e);
	return 0;
}

static int bench_args(struct b *b)
{
	if (!arg("dir", b->top, sizeof(b->top)))
		memcpy(b->top, "p9b", 4);
	b->dirs = (unsigned)arg_u64("dirs", 50);
	b->files = (unsigned)arg_u64("files", 100);
	b->fsize = (uint32_t)arg_u64("fsize", 4096);
	b->seq = arg_u64("seqmb", 512) << 20;
	b->io = b->c.iosize & ~4095u;
	if (!b->dirs || b->dirs > MAX_DIRS || !b->files || b->files > 10000 ||
	    b->fsize < 16 || b->fsize > b->io || !tsc_hz()) {
		printf("guest: p9bench: bad dirs, files, fsize or no TSC rate\n");
		return 4;
	}
	b->base = page_alloc(b->io);
	b->buf = page_alloc(b->io);
	if (!b->base || !b->buf)
		return bfail("memory", 0, 0);
	p9_pattern(b->base, 0, 0, b->io);
	return 0;
}

int scenario_p9bench(void)
{
	struct b *b = page_alloc(sizeof(*b));
	int e;

	timing_init();
	if (!b || p9_session(&b->c))
		return 1;
	if ((e = bench_args(b)))
		return e;
	if (make_dirs(b) || create_files(b) || stat_files(b) || read_files(b))
		return 1;
	if (!arg_u64("keep", 0) && delete_files(b))
		return 1;
	if (seq_write(b) || seq_read(b))
		return 1;
	if (!arg_u64("keep", 0) && remove_dirs(b))
		return 1;
	printf("guest: p9bench done requests=%lu msize=%u io=%u%s\n",
	       b->c.requests, b->c.msize, b->io,
	       arg_u64("keep", 0) ? " kept" : "");
	return 0;
}
