/* scenario=p9loop: the 9p workload of the snapshot and migration tests
 * (tests/guest/cases/migrate-9p.sh). It keeps files open on the share
 * while the VMM snapshots, restores or migrates the VM underneath, so
 * that a fid lost or reopened wrong, a request lost or served twice, or a
 * write not carried over all show. Runs on the boot CPU at CPL3; its
 * state lives in a static struct (guest RAM, so it migrates with the
 * guest). Single-threaded: one request at a time (p9.c).
 *
 * It creates FILE in the export's root through fid 1 (read-write), opens
 * it again through fid 2 (read-only) and keeps a walked fid 3 on the
 * root, then until its time is up writes block k (bs bytes at offset
 * k * bs, k counting up and wrapping at `blocks`) through fid 1 with the
 * pattern of p9test.c (16-byte lines "P005%011u\n", file id 5, line
 * number), reads it back through fid 2 and an earlier block through fid
 * 1, comparing both. At the end fid 3 walks to FILE and getattr must give
 * the size written; the fids are clunked; the file stays.
 *
 * Arguments: file=NAME (default p9loop), secs=N (default 8), bs=B
 * (default 4096, at most the negotiated I/O size), blocks=N (default
 * 1024), and p9test.c's tag=, msize=, transport= ...
 *
 * Output on COM1:
 *   guest: 9p: pci, tag 'T', msize M      (p9_session)
 *   p9loop: opened FILE
 *   p9loop: t=Ss writes=N                 about once a second
 *   p9loop: MISMATCH fid=F offset=O
 *   p9loop: FAIL at STEP: why
 *   p9loop: ok writes=N reads=N size=S
 * Exit status: 0 ok, 1 an error reply, a mismatch or a wrong size, 4 bad
 * arguments. */
#include "p9.h"

#define ROOT_FID 0
#define RW_FID 1
#define RO_FID 2
#define WALK_FID 3
#define TMP_FID 4
#define FILE_ID 5

void p9_pattern(uint8_t *dst, unsigned id, uint64_t off, uint32_t len);
int p9_session(struct p9 *c);

static struct loop {
	struct p9 c;
	char name[64];
	uint8_t *buf, *want;
	uint64_t bs, blocks, writes, reads;
} l;

static int fail(const char *step, int err)
{
	char why[48];

	printf("p9loop: FAIL at %s: %s\n", step, p9_strerror(err, why, 48));
	return 1;
}

/* Block k read through fid must hold the pattern. */
static int check_block(uint32_t fid, uint64_t k)
{
	uint64_t off = k * l.bs;
	int64_t e = p9_read(&l.c, fid, off, l.buf, (uint32_t)l.bs);

	if (e < 0)
		return fail("read", (int)e);
	p9_pattern(l.want, FILE_ID, off, (uint32_t)l.bs);
	if ((uint64_t)e != l.bs || memcmp(l.buf, l.want, l.bs)) {
		printf("p9loop: MISMATCH fid=%u offset=%lu (%ld bytes)\n", fid,
		       off, e);
		return 1;
	}
	l.reads++;
	return 0;
}

static int open_fids(void)
{
	int e;

	if ((e = p9_walk(&l.c, ROOT_FID, RW_FID, 0, NULL)) < 0 ||
	    (e = p9_lcreate(&l.c, RW_FID, l.name, P9_RDWR, 0644, NULL)))
		return fail("create", e);
	if ((e = p9_walk1(&l.c, ROOT_FID, RO_FID, l.name)) ||
	    (e = p9_lopen(&l.c, RO_FID, P9_RDONLY, NULL)))
		return fail("open", e);
	if ((e = p9_walk(&l.c, ROOT_FID, WALK_FID, 0, NULL)) < 0)
		return fail("walk", e);
	printf("p9loop: opened %s\n", l.name);
	return 0;
}

static int loop(uint64_t secs)
{
	uint64_t hz = tsc_hz(), t0 = rdtsc(), until = t0 + secs * hz;
	uint64_t next_line = t0 + hz;
	int64_t e;

	while (rdtsc() < until) {
		uint64_t k = l.writes % l.blocks, done;

		p9_pattern(l.buf, FILE_ID, k * l.bs, (uint32_t)l.bs);
		e = p9_write(&l.c, RW_FID, k * l.bs, l.buf, (uint32_t)l.bs);
		if (e < 0)
			return fail("write", (int)e);
		if ((uint64_t)e != l.bs) {
			printf("p9loop: wrote %ld of %lu bytes\n", e, l.bs);
			return 1;
		}
		l.writes++;
		done = l.writes < l.blocks ? l.writes : l.blocks;
		if (check_block(RO_FID, k) ||
		    check_block(RW_FID, (l.writes * 7919) % done))
			return 1;
		if (rdtsc() >= next_line) {
			printf("p9loop: t=%lus writes=%lu\n",
			       (rdtsc() - t0) / hz, l.writes);
			next_line += hz;
		}
	}
	return 0;
}

static int finish(void)
{
	uint64_t size = (l.writes < l.blocks ? l.writes : l.blocks) * l.bs;
	struct p9_attr a;
	int e;

	if ((e = p9_walk1(&l.c, WALK_FID, TMP_FID, l.name)) ||
	    (e = p9_getattr(&l.c, TMP_FID, &a)))
		return fail("getattr", e);
	if (a.size != size) {
		printf("p9loop: size %lu, %lu written\n", a.size, size);
		return 1;
	}
	for (uint32_t fid = RW_FID; fid <= TMP_FID; fid++)
		if ((e = p9_clunk(&l.c, fid)))
			return fail("clunk", e);
	printf("p9loop: ok writes=%lu reads=%lu size=%lu\n", l.writes, l.reads,
	       size);
	return 0;
}

int scenario_p9loop(void)
{
	uint64_t secs = arg_u64("secs", 8);

	timing_init();
	if (!tsc_hz())
		return printf("p9loop: no TSC rate\n"), 4;
	if (p9_session(&l.c))
		return 1;
	if (!arg("file", l.name, sizeof(l.name)))
		memcpy(l.name, "p9loop", 7);
	l.bs = arg_u64("bs", 4096);
	l.blocks = arg_u64("blocks", 1024);
	if (!l.bs || l.bs > l.c.iosize || !l.blocks || l.blocks > (1u << 20))
		return printf("p9loop: bad bs or blocks\n"), 4;
	l.buf = page_alloc(l.bs);
	l.want = page_alloc(l.bs);
	if (!l.buf || !l.want)
		return fail("memory", 0);
	if (open_fids() || loop(secs))
		return 1;
	return finish();
}
