/* virtio-blk scenarios of the test guest.
 *
 *   blk       checks a disk the test prepared: sector s of the file holds
 *             the 16-byte line "S%014u\n" 32 times. Reads (spread over
 *             every queue), writes read back and left for the host to
 *             check, flush, discard, write-zeroes, GET_ID, an out-of-range
 *             read, and with ro=1 the refusal of writes.
 *   blkbench  op=randread|randwrite|read|write bs=B qd=N secs=S
 *             [idle=S]: I/O against the disk (bench/stamp-img's), polling,
 *             checking every request and every sector read, printing IOPS
 *             and MB/s; then idle=S seconds with the queue idle.
 * Common arguments: transport=pci|mmio (mmio: the first
 * virtio_mmio.device= on the command line), ecam=ADDR (PCI configuration
 * through ECAM instead of the ports), irq=1 (interrupts, not polling),
 * queues=N, indirect=0 (no indirect descriptors), eventidx=0. */
#include "blk.h"

#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_MQ 12
#define F_DISCARD 13
#define F_WRITE_ZEROES 14
#define T_IN BLK_T_IN
#define T_OUT BLK_T_OUT
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK BLK_S_OK
#define S_IOERR BLK_S_IOERR
#define S_PENDING BLK_S_PENDING
#define CFG_NUM_QUEUES 34
#define MAX_INFLIGHT 64
#define TIMEOUT_MS 10000

int blk_find(struct blk *b)
{
	char t[16], spec[64];
	bool pci = !arg("transport", t, sizeof(t)) || !strncmp(t, "pci", 4);

	memset(b, 0, sizeof(*b));
	b->want = 1ULL << F_FLUSH | 1ULL << F_MQ | 1ULL << F_DISCARD |
		  1ULL << F_WRITE_ZEROES | 1ULL << F_RO | 1ULL << F_BLK_SIZE;
	if (arg_u64("indirect", 1))
		b->want |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (arg_u64("eventidx", 1))
		b->want |= 1ULL << VIRTIO_F_EVENT_IDX;
	b->irq = arg_u64("irq", 0);
	if (pci ? vdev_find_pci(&b->dev, arg_u64("ecam", 0), VIRTIO_ID_BLOCK)
		: !arg("virtio_mmio.device", spec, sizeof(spec)) ||
			    vdev_find_mmio(&b->dev, spec, VIRTIO_ID_BLOCK))
		return -1;
	if (b->irq)
		irq_init();
	return 0;
}

int blk_start(struct blk *b, unsigned queues)
{
	unsigned q;
	int f;

	if ((f = vdev_negotiate(&b->dev, b->want)) < 0)
		return -1;
	b->features = (uint32_t)f;
	b->sectors = vdev_config64(&b->dev, 0);
	b->queues = queues > VQ_MAX ? VQ_MAX : queues;
	if (!(b->features & 1u << F_MQ))
		b->queues = 1;
	else if (b->queues > (vdev_config32(&b->dev, CFG_NUM_QUEUES - 2) >> 16))
		b->queues = vdev_config32(&b->dev, CFG_NUM_QUEUES - 2) >> 16;
	b->dev.nqueues = 0;
	for (q = 0; q < b->queues; q++) {
		b->slots[q] = page_alloc(sizeof(struct blk_slot) * 256);
		b->inflight[q] = 0;
		b->done[q] = 0;
		if (!b->slots[q] ||
		    vdev_setup_queue(&b->dev, q, 128, b->irq, q)) {
			printf("guest: blk: queue %u setup failed\n", q);
			return -1;
		}
	}
	vdev_driver_ok(&b->dev);
	return 0;
}

static int blk_open(struct blk *b)
{
	if (blk_find(b) || blk_start(b, (unsigned)arg_u64("queues", 1)))
		return -1;
	printf("guest: blk: %s%s, %lu sectors, features %x, %u queues, %s\n",
	       b->dev.pci ? "pci" : "mmio", arg_u64("ecam", 0) ? " (ecam)" : "",
	       b->sectors, b->features, b->queues,
	       b->irq ? "interrupts" : "polling");
	return 0;
}

/* Queues one request on queue q; data may be NULL for FLUSH. Returns the
 * head or -1 when the queue is full. */
int blk_submit(struct blk *b, unsigned q, uint32_t type, uint64_t sector,
	       void *data, uint32_t len)
{
	struct vq *vq = &b->dev.vqs[q];
	struct blk_slot tmp = { .hdr = { type, 0, sector },
				.status = S_PENDING };
	struct vbuf bufs[3];
	unsigned n = 0;
	int head;

	bufs[n++] = (struct vbuf){ NULL, sizeof(struct blk_hdr), false };
	if (type == T_DISCARD || type == T_WRITE_ZEROES) {
		tmp.range = (struct blk_range){ sector, len / SECTOR, 0 };
		bufs[n++] =
			(struct vbuf){ NULL, sizeof(struct blk_range), false };
	} else if (data) {
		bufs[n++] = (struct vbuf){ data, len, type != T_OUT };
	}
	bufs[n++] = (struct vbuf){ NULL, 1, true };
	/* The slot is chosen by the head, which is only known after vq_add:
	 * peek at the free head instead. */
	head = vq->free_head;
	if (vq->num_free < (vq->use_indirect ? 1 : n) || head >= 256)
		return -1;
	b->slots[q][head] = tmp;
	bufs[0].addr = &b->slots[q][head].hdr;
	if (type == T_DISCARD || type == T_WRITE_ZEROES)
		bufs[1].addr = &b->slots[q][head].range;
	bufs[n - 1].addr = &b->slots[q][head].status;
	head = vq_add(vq, bufs, n);
	if (head >= 0)
		b->inflight[q]++;
	return head;
}

/* Collects one completion of queue q: its status (-1 on timeout), and
 * when asked its head and the length the device reported written. */
static int complete_one(struct blk *b, unsigned q, uint64_t timeout_ms,
			int *head_out, uint32_t *len_out)
{
	uint32_t len;
	int head = vq_wait(&b->dev, &b->dev.vqs[q], &len, timeout_ms);

	if (head < 0)
		return -1;
	b->inflight[q]--;
	b->done[q]++;
	if (head_out)
		*head_out = head;
	if (len_out)
		*len_out = len;
	return b->slots[q][head].status;
}

int blk_complete_within(struct blk *b, unsigned q, uint64_t timeout_ms)
{
	return complete_one(b, q, timeout_ms, NULL, NULL);
}

/* Collects one completion of queue q; returns its status, -1 on timeout. */
static int blk_complete(struct blk *b, unsigned q)
{
	int st = blk_complete_within(b, q, TIMEOUT_MS);

	if (st < 0)
		printf("guest: blk: queue %u: no completion in %u ms\n", q,
		       TIMEOUT_MS);
	return st;
}

static int blk_sync(struct blk *b, unsigned q, uint32_t type, uint64_t sector,
		    void *data, uint32_t len)
{
	if (blk_submit(b, q, type, sector, data, len) < 0)
		return -1;
	vq_kick(&b->dev, &b->dev.vqs[q]);
	return blk_complete(b, q);
}

void fill_sector(uint8_t *p, char tag, uint64_t s)
{
	char line[17];

	snprintf(line, sizeof(line), "%c%014lu\n", tag, s);
	for (unsigned i = 0; i < SECTOR; i += 16)
		memcpy(p + i, line, 16);
}

bool check_sectors(const uint8_t *p, char tag, uint64_t first, uint64_t n)
{
	uint8_t want[SECTOR];

	memset(want, 0, sizeof(want));
	for (uint64_t s = first; s < first + n; s++, p += SECTOR) {
		if (tag)
			fill_sector(want, tag, s);
		for (unsigned i = 0; i < SECTOR; i++) {
			if (p[i] != want[i]) {
				printf("guest: blk: sector %lu byte %u is %x, "
				       "expected %x\n",
				       s, i, p[i], want[i]);
				return false;
			}
		}
	}
	return true;
}

#define CHUNK_SECTORS 128 /* 64 KiB per request */

/* Reads the whole disk, CHUNK_SECTORS per request, keeping up to 8
 * requests in flight on every queue, and checks the prepared pattern. */
static int check_read_all(struct blk *b)
{
	uint64_t chunks = b->sectors / CHUNK_SECTORS, next = 0, checked = 0;
	uint8_t *buf = page_alloc(chunks * CHUNK_SECTORS * SECTOR);
	unsigned q;

	if (!buf)
		return 1;
	while (checked < chunks) {
		for (q = 0; q < b->queues; q++) {
			while (next < chunks && b->inflight[q] < 8) {
				if (blk_submit(b, q, T_IN, next * CHUNK_SECTORS,
					       buf + next * CHUNK_SECTORS *
							       SECTOR,
					       CHUNK_SECTORS * SECTOR) < 0)
					break;
				next++;
			}
			vq_kick(&b->dev, &b->dev.vqs[q]);
		}
		for (q = 0; q < b->queues; q++) {
			if (!b->inflight[q])
				continue;
			if (blk_complete(b, q) != S_OK)
				return printf("guest: blk: read failed\n"), 1;
			checked++;
		}
	}
	if (!check_sectors(buf, 'S', 0, chunks * CHUNK_SECTORS))
		return 1;
	printf("guest: blk: read %lu sectors ok;", chunks * CHUNK_SECTORS);
	for (q = 0; q < b->queues; q++)
		printf(" queue %u did %lu", q, b->done[q]);
	printf("\n");
	return 0;
}

static int scenario_checks(struct blk *b)
{
	uint64_t w = b->sectors / 4, d = b->sectors / 2,
		 z = b->sectors / 2 + 64;
	uint8_t *buf = page_alloc(64 * SECTOR);
	char serial[32], id[21] = { 0 };
	bool ro = arg_u64("ro", 0);
	int st;

	if (!buf || check_read_all(b))
		return 1;
	st = blk_sync(b, 0, T_GET_ID, 0, id, 20);
	if (st != S_OK || !arg("serial", serial, sizeof(serial)) ||
	    strncmp(id, serial, 20))
		return printf("guest: blk: GET_ID status %d '%s'\n", st, id), 1;
	printf("guest: blk: serial '%s' ok\n", id);
	st = blk_sync(b, 0, T_IN, b->sectors, buf, SECTOR);
	if (st != S_IOERR)
		return printf("guest: blk: read past the end: status %d\n", st),
		       1;
	printf("guest: blk: read past the end refused ok\n");
	for (unsigned i = 0; i < 64; i++)
		fill_sector(buf + i * SECTOR, 'W', w + i);
	st = blk_sync(b, 0, T_OUT, w, buf, 64 * SECTOR);
	if (ro) {
		if (!(b->features & 1u << F_RO) || st != S_IOERR)
			return printf("guest: blk: read-only: feature %u, write "
				      "status %d\n",
				      !!(b->features & 1u << F_RO), st),
			       1;
		printf("guest: blk: read-only: write refused ok\n");
		return 0;
	}
	if (st != S_OK || blk_sync(b, 0, T_FLUSH, 0, NULL, 0) != S_OK)
		return printf("guest: blk: write or flush failed\n"), 1;
	memset(buf, 0, 64 * SECTOR);
	if (blk_sync(b, 0, T_IN, w, buf, 64 * SECTOR) != S_OK ||
	    !check_sectors(buf, 'W', w, 64))
		return 1;
	printf("guest: blk: wrote, flushed and read back 64 sectors at %lu ok\n",
	       w);
	if (!(b->features & 1u << F_DISCARD) ||
	    !(b->features & 1u << F_WRITE_ZEROES))
		return printf("guest: blk: discard or write-zeroes missing\n"),
		       1;
	if (blk_sync(b, 0, T_DISCARD, d, NULL, 64 * SECTOR) != S_OK ||
	    blk_sync(b, 0, T_IN, d, buf, 64 * SECTOR) != S_OK ||
	    !check_sectors(buf, 0, d, 64))
		return printf("guest: blk: discard at %lu\n", d), 1;
	printf("guest: blk: discarded 64 sectors at %lu, read zeros ok\n", d);
	if (blk_sync(b, 0, T_WRITE_ZEROES, z, NULL, 64 * SECTOR) != S_OK ||
	    blk_sync(b, 0, T_IN, z, buf, 64 * SECTOR) != S_OK ||
	    !check_sectors(buf, 0, z, 64))
		return printf("guest: blk: write-zeroes at %lu\n", z), 1;
	printf("guest: blk: zeroed 64 sectors at %lu, read zeros ok\n", z);
	if (b->dev.vqs[0].interrupts)
		printf("guest: blk: %u interrupts on queue 0\n", irq_counts[0]);
	if (b->dev.vqs[0].interrupts && !irq_counts[0])
		return printf("guest: blk: no interrupt arrived\n"), 1;
	return 0;
}

int scenario_blk(void)
{
	struct blk b;

	timing_init();
	if (blk_open(&b))
		return 1;
	return scenario_checks(&b);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The benchmark disk (bench/stamp-img): every 512-byte sector starts
 * with its own number and this magic, little-endian; writes keep it so. */
#define STAMP_MAGIC 0x706d617473626d76ULL /* "vmbstamp" */

static void stamp(uint8_t *buf, uint64_t sector, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v[2] = { sector + i, STAMP_MAGIC };
		memcpy(buf + i * SECTOR, v, sizeof(v));
	}
}

/* 0, or 1 after naming the first sector whose stamp is wrong. */
static int check_stamps(const uint8_t *buf, uint64_t sector, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v[2];
		memcpy(v, buf + i * SECTOR, sizeof(v));
		if (v[0] != sector + i || v[1] != STAMP_MAGIC)
			return printf("guest: blkbench: sector %lu read as "
				      "%lx %lx\n",
				      sector + i, v[0], v[1]),
			       1;
	}
	return 0;
}

/* One request in flight: its buffer (one of qd, never shared) and its
 * first sector. */
struct bench_io {
	unsigned buf;
	uint64_t sector;
};

/* Every request must complete with VIRTIO_BLK_S_OK and the length the
 * spec asks for (data and status for a read, the status for a write),
 * and every sector read must carry its own stamp: a benchmark that counted
 * failed, short or misplaced I/O would measure nothing. */
int scenario_blkbench(void)
{
	char op[16] = "randread";
	uint64_t bs = arg_u64("bs", 4096), qd = arg_u64("qd", 1);
	uint64_t secs = arg_u64("secs", 5), seed = 0x9e3779b97f4a7c15ULL;
	uint64_t blocks, next = 0, ios = 0, bytes = 0, checked = 0, t0, end;
	struct bench_io io[256];
	unsigned free_bufs[MAX_INFLIGHT], nfree = 0;
	bool write, random;
	struct blk b;
	uint8_t *buf;

	timing_init();
	arg("op", op, sizeof(op));
	random = !strncmp(op, "rand", 4);
	write = !strncmp(op + (random ? 4 : 0), "write", 6);
	if (!bs || bs % SECTOR || !qd || qd > MAX_INFLIGHT || !tsc_hz())
		return printf("guest: blkbench: bad bs, qd or no TSC rate\n"),
		       4;
	if (blk_open(&b))
		return 1;
	blocks = b.sectors * SECTOR / bs;
	buf = page_alloc(bs * qd);
	if (!buf || !blocks)
		return 1;
	memset(buf, 0xa5, bs * qd);
	while (nfree < qd) {
		free_bufs[nfree] = nfree;
		nfree++;
	}
	t0 = rdtsc();
	end = t0 + secs * tsc_hz();
	for (;;) {
		bool more = rdtsc() < end;
		uint32_t len;
		int head, st;

		while (more && b.inflight[0] < qd) {
			uint64_t blk = random ? xorshift(&seed) % blocks
					      : next++ % blocks;
			unsigned k = free_bufs[nfree - 1];
			uint64_t sector = blk * (bs / SECTOR);

			if (write)
				stamp(buf + k * bs, sector, bs / SECTOR);
			else /* what an earlier read left must not pass */
				for (uint64_t i = 0; i < bs; i += SECTOR)
					memset(buf + k * bs + i, 0, 16);
			head = blk_submit(&b, 0, write ? T_OUT : T_IN, sector,
					  buf + k * bs, (uint32_t)bs);
			if (head < 0)
				break;
			if (head >= 256)
				return printf("guest: blkbench: head %d\n",
					      head),
				       1;
			nfree--;
			io[head] = (struct bench_io){ k, sector };
		}
		vq_kick(&b.dev, &b.dev.vqs[0]);
		if (!b.inflight[0])
			break;
		st = complete_one(&b, 0, TIMEOUT_MS, &head, &len);
		if (st < 0)
			return printf("guest: blkbench: no completion in %u ms\n",
				      TIMEOUT_MS),
			       1;
		if (st != S_OK || len != (write ? 1 : bs + 1))
			return printf("guest: blkbench: I/O at sector %lu: "
				      "status %d, %u bytes written\n",
				      io[head].sector, st, len),
			       1;
		if (!write) {
			if (check_stamps(buf + io[head].buf * bs,
					 io[head].sector, bs / SECTOR))
				return 1;
			checked += bs / SECTOR;
		}
		free_bufs[nfree++] = io[head].buf;
		ios++;
		bytes += bs;
	}
	{
		uint64_t us = (rdtsc() - t0) / (tsc_hz() / 1000000);
		printf("guest: blkbench op=%s bs=%lu qd=%lu ios=%lu us=%lu "
		       "iops=%lu kbps=%lu verified=%lu\n",
		       op, bs, qd, ios, us, ios * 1000000 / us,
		       bytes * 1000000 / us / 1000, checked);
	}
	/* idle=S: the queue then stays idle S seconds (the guest spins at
	 * CPL3), for bench/blk idle to measure what the iothread costs. */
	if (arg_u64("idle", 0)) {
		uint64_t until = rdtsc() + arg_u64("idle", 0) * tsc_hz();
		while (rdtsc() < until)
			cpu_relax();
		printf("guest: blkbench: idle done\n");
	}
	return 0;
}
