/* scenario=blkverify: the disk workload of the snapshot and migration
 * tests (tests/guest/cases/migrate-blk.sh). It keeps qd requests in
 * flight on queue 0, half writes and half reads of 4 KiB blocks of the
 * first `blocks` blocks of the disk, and checks that every block reads
 * back as it last wrote it, while the VMM snapshots, restores or
 * migrates the VM underneath: a write the device completed and then lost
 * (not flushed, not migrated), a completion or an interrupt lost, a
 * request served twice, all show.
 *
 * Each block's generation lives in guest RAM (gens[], so it migrates with
 * the guest). Writing block B stamps each of its sectors S with (S, G)
 * where G is one more than the block's generation; the generation is
 * recorded when the write completes with VIRTIO_BLK_S_OK. A read of B
 * must find (S, gens[B]) in every sector. A block is never in flight
 * twice, so a read never races a write of the same block. The first pass
 * writes every block in order ("filled"), then blocks are picked at
 * random.
 *
 * Arguments: blocks=N (default 256), qd=N (default 8, at most 32),
 * secs=N (default 10, after the fill), and blk.c's common ones
 * (transport=, irq=1, ...).
 *
 * Output on COM1:
 *   blkverify: filled N blocks
 *   blkverify: t=Ss ios=N                 about once a second
 *   blkverify: MISMATCH block=B sector=S expected=G got=S',G'
 *   blkverify: ok ios=N writes=N verified=N max-wait-ms=M
 * M is the longest wait for a completion after the fill: a lost
 * interrupt shows as a wait of the driver's 10 s timeout (vq_wait then
 * finds the completion by looking at the ring). Exit status: 0 ok, 1 an
 * I/O error, a mismatch or no completion, 4 bad arguments. */
#include "blk.h"

#define BLOCK 4096
#define SECTORS_PER_BLOCK (BLOCK / SECTOR)
#define MAX_QD 32
#define MAX_BLOCKS 65536
#define TIMEOUT_MS 20000
#define VERIFY_MAGIC 0x7966697600000000ULL /* "vify" in the high half */

struct verify_io {
	uint64_t block;
	uint32_t gen; /* written, or expected */
	bool write;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void stamp(uint8_t *buf, uint64_t block, uint32_t gen)
{
	for (uint64_t i = 0; i < SECTORS_PER_BLOCK; i++) {
		uint64_t v[2] = { block * SECTORS_PER_BLOCK + i,
				  VERIFY_MAGIC | gen };
		memcpy(buf + i * SECTOR, v, sizeof(v));
	}
}

static int check(const uint8_t *buf, uint64_t block, uint32_t gen)
{
	for (uint64_t i = 0; i < SECTORS_PER_BLOCK; i++) {
		uint64_t v[2], s = block * SECTORS_PER_BLOCK + i;
		memcpy(v, buf + i * SECTOR, sizeof(v));
		if (v[0] != s || v[1] != (VERIFY_MAGIC | gen))
			return printf("blkverify: MISMATCH block=%lu "
				      "sector=%lu expected=%u got=%lu,%lx\n",
				      block, s, gen, v[0], v[1]),
			       1;
	}
	return 0;
}

struct verify {
	struct blk b;
	uint64_t blocks, qd, seed, next;
	uint32_t *gens;
	bool *busy;
	uint8_t *bufs;
	unsigned free_bufs[MAX_QD], nfree;
	struct verify_io io[256];
	unsigned buf_of[256];
	uint64_t ios, writes, verified, max_wait;
};

/* Submits one request on a block not in flight: the fill's next block,
 * else a random one, written or read at random. false when none is
 * free. */
static bool submit_one(struct verify *v, bool filling)
{
	uint64_t block = 0;
	bool write = filling;
	unsigned k;
	int head;

	if (filling) {
		block = v->next++;
	} else {
		unsigned tries = 0;
		do
			block = xorshift(&v->seed) % v->blocks;
		while (v->busy[block] && ++tries < 64);
		if (v->busy[block])
			return false;
		write = xorshift(&v->seed) & 1;
	}
	k = v->free_bufs[v->nfree - 1];
	if (write)
		stamp(v->bufs + k * BLOCK, block, v->gens[block] + 1);
	else
		memset(v->bufs + k * BLOCK, 0, BLOCK);
	head = blk_submit(&v->b, 0, write ? BLK_T_OUT : BLK_T_IN,
			  block * SECTORS_PER_BLOCK, v->bufs + k * BLOCK,
			  BLOCK);
	if (head < 0 || head >= 256)
		return false;
	v->nfree--;
	v->busy[block] = true;
	v->io[head] =
		(struct verify_io){ block, v->gens[block] + write, write };
	v->buf_of[head] = k;
	return true;
}

/* Collects one completion: 0, or 1 after a line saying what is wrong. */
static int complete(struct verify *v, bool timed)
{
	uint64_t t0 = rdtsc(), waited;
	uint32_t len;
	int head = vq_wait(&v->b.dev, &v->b.dev.vqs[0], &len, TIMEOUT_MS);
	struct verify_io *io;
	uint8_t st;

	if (head < 0 || head >= 256)
		return printf("blkverify: no completion in %u ms\n",
			      TIMEOUT_MS),
		       1;
	waited = (rdtsc() - t0) / (tsc_hz() / 1000);
	if (timed && waited > v->max_wait)
		v->max_wait = waited;
	v->b.inflight[0]--;
	io = &v->io[head];
	st = v->b.slots[0][head].status;
	if (st != BLK_S_OK || len != (io->write ? 1u : BLOCK + 1u))
		return printf("blkverify: %s of block %lu: status %u, %u bytes "
			      "written\n",
			      io->write ? "write" : "read", io->block, st, len),
		       1;
	if (io->write) {
		v->gens[io->block] = io->gen;
		v->writes++;
	} else {
		if (check(v->bufs + v->buf_of[head] * BLOCK, io->block,
			  io->gen))
			return 1;
		v->verified++;
	}
	v->busy[io->block] = false;
	v->free_bufs[v->nfree++] = v->buf_of[head];
	v->ios++;
	return 0;
}

/* Keeps qd requests in flight until `until` (TSC; the fill: until every
 * block was written once), then collects what is in flight. */
static int run(struct verify *v, bool filling, uint64_t until)
{
	uint64_t hz = tsc_hz(), next_line = rdtsc() + hz, t0 = rdtsc();

	for (;;) {
		bool more = filling ? v->next < v->blocks : rdtsc() < until;

		while (more && v->nfree && submit_one(v, filling))
			more = filling ? v->next < v->blocks : true;
		vq_kick(&v->b.dev, &v->b.dev.vqs[0]);
		if (!v->b.inflight[0])
			return 0;
		if (complete(v, !filling))
			return 1;
		if (!filling && rdtsc() >= next_line) {
			printf("blkverify: t=%lus ios=%lu\n",
			       (rdtsc() - t0) / hz, v->ios);
			next_line += hz;
		}
	}
}

int scenario_blkverify(void)
{
	static struct verify v;
	uint64_t secs = arg_u64("secs", 10);

	timing_init();
	v.blocks = arg_u64("blocks", 256);
	v.qd = arg_u64("qd", 8);
	v.seed = 0x9e3779b97f4a7c15ULL;
	if (!v.blocks || v.blocks > MAX_BLOCKS || !v.qd || v.qd > MAX_QD ||
	    !tsc_hz())
		return printf("blkverify: bad blocks or qd, or no TSC rate\n"),
		       4;
	if (blk_find(&v.b) || blk_start(&v.b, 1))
		return 1;
	if (v.b.sectors < v.blocks * SECTORS_PER_BLOCK)
		return printf("blkverify: the disk has %lu sectors\n",
			      v.b.sectors),
		       4;
	v.gens = page_alloc(v.blocks * sizeof(*v.gens));
	v.busy = page_alloc(v.blocks);
	v.bufs = page_alloc(BLOCK * v.qd);
	if (!v.gens || !v.busy || !v.bufs)
		return printf("blkverify: out of memory\n"), 1;
	for (v.nfree = 0; v.nfree < v.qd; v.nfree++)
		v.free_bufs[v.nfree] = v.nfree;
	printf("blkverify: %s, %s, qd %lu\n", v.b.dev.pci ? "pci" : "mmio",
	       v.b.irq ? "interrupts" : "polling", v.qd);
	if (run(&v, true, 0))
		return 1;
	printf("blkverify: filled %lu blocks\n", v.blocks);
	if (run(&v, false, rdtsc() + secs * tsc_hz()))
		return 1;
	printf("blkverify: ok ios=%lu writes=%lu verified=%lu "
	       "max-wait-ms=%lu\n",
	       v.ios, v.writes, v.verified, v.max_wait);
	return 0;
}
