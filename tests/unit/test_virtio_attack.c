/* A hostile driver against virtio-blk, over virtio-mmio and virtio-pci:
 * a seeded, deterministic stream of register accesses of every kind, at
 * every offset and width, interleaved with valid I/O that the driver keeps
 * in flight through the device's real queue workers and io_urings (a
 * temporary disk opened with cache=none). The register attack, the racing
 * second vCPU and the checks below that do not depend on the device are
 * in virtio_attack.h; this file has the disk's requests.
 *
 * Checked after every operation: status bits are never lost without a
 * reset (NEEDS_RESET sticks), a queue the device starts has a layout it
 * may start, a stopped queue's used ring no longer moves, the PCI BAR is
 * reported where configuration space puts it, MSI-X vectors fire only when
 * deliverable and routes are installed only on the vCPU (test) thread, and
 * in a queue the driver set up itself every used element is a request it
 * made available, with its status and data. Periodically and at the end
 * of each seed: guest RAM outside the buffers and used rings the device
 * was given equals the driver's own copy of it (canary bytes in all unused
 * RAM), the dirty log names only pages the device may write, and the
 * device, reset and initialised again, serves reads and writes with the
 * right data; no thread or descriptor leaks over a seed.
 *
 * Guest memory: arenas of queue 0 (A, B) and queue 1 (C, D) each hold a
 * static descriptor table (request n: header, 4 KiB of data, status; even
 * n read, odd n write back the disk's own bytes, so the disk never
 * changes), an avail ring, a used ring, headers, status bytes and data.
 * The ring addresses a hostile write may choose come from candidate sets
 * chosen so that no chain the device could follow names a buffer outside
 * the arenas: a descriptor read from canary bytes points outside RAM.
 *
 * Environment: VIRTIO_ATTACK_SEED overrides each test's seed,
 * VIRTIO_ATTACK_OPS the operation count, VIRTIO_ATTACK_TRACE=1 prints every
 * operation, VIRTIO_ATTACK_VERBOSE=1 a summary per seed.
 *
 * Threads: the test thread is the only vCPU (plus a racing second one in
 * the race tests); the device's queue workers run as in the VMM and report
 * through the hooks' atomic counters. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "virtio_attack.h"

#define NQ 2
#define NSLOTS 16
#define NARENAS 4
#define A_HDR 0x3000
#define A_STATUS 0x4000
#define A_DATA 0x10000
#define READ_LEN 4097 /* status byte and 4 KiB */
#define DEFAULT_OPS 10000

/* The driver's side of one queue it set up. */
struct drvq {
	unsigned arena;
	uint16_t size, nslots, avail_idx, next;
	bool busy[NSLOTS];
	unsigned outstanding;
};

struct stats {
	unsigned reads, writes;
};

struct attack {
	struct attack_core c; /* first: the shared machinery's */
	char path[64];
	struct vblk blk;
	struct drvq dq[NQ];
	struct stats st;
};

static struct attack *attack_of(struct attack_core *c)
{
	return (struct attack *)c; /* its first member */
}

/* ---- arenas: static chains, request n of arena k on its own sectors ---- */

static uint64_t sector_of(unsigned arena, unsigned n)
{
	return (arena * NSLOTS + n) * 8ULL;
}

static bool slot_reads(unsigned n)
{
	return !(n & 1);
}

static gpa_t slot_data(unsigned arena, unsigned n)
{
	return ARENA(arena) + A_DATA + PAGE * n;
}

static void fill_pattern(uint8_t *buf, uint64_t sector)
{
	for (unsigned i = 0; i < PAGE; i++)
		buf[i] = test_disk_byte(sector * 512 + i);
}

static void arena_slot(struct attack_core *c, unsigned k, unsigned n)
{
	gpa_t base = ARENA(k), hdr = base + A_HDR + 16ULL * n;
	uint16_t d0 = (uint16_t)(3 * n);
	struct virtio_blk_outhdr h = {
		.type = slot_reads(n) ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
		.sector = sector_of(k, n),
	};
	struct vring_desc d[3] = {
		{ hdr, 16, VRING_DESC_F_NEXT, (uint16_t)(d0 + 1) },
		{ slot_data(k, n), PAGE,
		  VRING_DESC_F_NEXT | (slot_reads(n) ? VRING_DESC_F_WRITE : 0),
		  (uint16_t)(d0 + 2) },
		{ base + A_STATUS + n, 1, VRING_DESC_F_WRITE, 0 },
	};
	uint8_t buf[PAGE];

	drv_write(c, hdr, &h, sizeof(h));
	drv_write(c, base + A_DESC + 16ULL * d0, d, sizeof(d));
	fill_pattern(buf, sector_of(k, n));
	drv_write(c, slot_data(k, n), buf, PAGE);
	drv_fill(c, base + A_STATUS + n, 0xff, 1);
}

static void arenas_init(struct attack_core *c)
{
	for (unsigned k = 0; k < NARENAS; k++) {
		drv_fill(c, ARENA(k), 0, A_DATA);
		for (unsigned n = 0; n < NSLOTS; n++)
			arena_slot(c, k, n);
		allow(c, ARENA(k) + A_STATUS, NSLOTS);
		allow(c, ARENA(k) + A_DATA, PAGE * NSLOTS);
	}
}

/* ---- the driver's requests ---- */

static bool data_ok(struct attack_core *c, unsigned arena, unsigned n)
{
	uint8_t want[PAGE];

	fill_pattern(want, sector_of(arena, n));
	return !memcmp(c->ram + slot_data(arena, n), want, PAGE);
}

static void complete(struct attack_core *c, unsigned q,
		     const struct vring_used_elem *el)
{
	struct attack *a = attack_of(c);
	struct drvq *d = &a->dq[q];
	unsigned n = el->id / 3;
	uint8_t status;

	CHECK(c, el->id % 3 == 0 && n < d->nslots && d->busy[n],
	      "queue %u: used id %u was not made available (%u slots)", q,
	      el->id, d->nslots);
	status = c->ram[ARENA(d->arena) + A_STATUS + n];
	CHECK(c, status == VIRTIO_BLK_S_OK, "queue %u request %u: status %u", q,
	      n, status);
	if (slot_reads(n)) {
		CHECK(c, el->len == READ_LEN, "queue %u read %u: len %u", q, n,
		      el->len);
		CHECK(c, data_ok(c, d->arena, n), "queue %u read %u: bad data",
		      q, n);
		CHECK(c, mem_page_dirty(&c->mem, slot_data(d->arena, n)),
		      "queue %u read %u: data page not marked dirty", q, n);
		a->st.reads++;
	} else {
		CHECK(c, el->len == 1, "queue %u write %u: len %u", q, n,
		      el->len);
		a->st.writes++;
	}
	d->busy[n] = false;
	d->outstanding--;
}

/* Makes the next free request of queue q available; false if none. */
static bool post(struct attack_core *c, unsigned q)
{
	struct drvq *d = &attack_of(c)->dq[q];
	gpa_t base = ARENA(d->arena);
	uint16_t head;
	unsigned n = 0, i;

	if (!c->ep[q].live || !c->ep[q].sane)
		return false;
	for (i = 0; i < d->nslots; i++) {
		n = (d->next + i) % d->nslots;
		if (!d->busy[n])
			break;
	}
	if (i == d->nslots)
		return false;
	d->next = (uint16_t)(n + 1);
	if (slot_reads(n))
		drv_fill(c, slot_data(d->arena, n), POISON, PAGE);
	drv_fill(c, base + A_STATUS + n, 0xff, 1);
	head = (uint16_t)(3 * n);
	drv_write(c, base + A_AVAIL + 4 + 2ULL * (d->avail_idx % d->size),
		  &head, 2);
	drv_store16(c, base + A_AVAIL + 2, ++d->avail_idx);
	d->busy[n] = true;
	d->outstanding++;
	return true;
}

static unsigned outstanding(struct attack_core *c, unsigned q)
{
	return attack_of(c)->dq[q].outstanding;
}

/* Waits until every request of a queue the driver set up completed:
 * whatever the hostile writes did, such a queue keeps serving. The bound
 * is on the device, not on the host: waiting fails after IDLE_NAPS naps
 * (3 s or more) without a completion in which the worker had no host I/O
 * in flight, i.e. a request it never popped or lost. Naps while host I/O
 * is in flight count only towards BUSY_NAPS (a minute or more): the
 * host kernel finishes an O_DIRECT write on its file system's per-CPU
 * "dio/" workqueue, and on a loaded 2-core machine (the racer spinning on
 * one core) that kworker was traced woken, then left runnable and not
 * run for 5 to 30 s after the disk had completed the write. A completion
 * starts both counts again. */
#define IDLE_NAPS 15000
#define BUSY_NAPS 300000
static void drain_sane(struct attack *a)
{
	struct attack_core *c = &a->c;
	struct timespec t = { 0, 200000 };

	for (unsigned q = 0; q < NQ; q++) {
		struct epoch *e = &c->ep[q];
		struct drvq *d = &a->dq[q];
		unsigned idle = 0, busy = 0;
		if (!e->live || !e->sane || !d->outstanding)
			continue;
		vblk_kick(&a->blk, q); /* as the ioeventfd would */
		while (d->outstanding && idle < IDLE_NAPS && busy < BUSY_NAPS) {
			unsigned before = d->outstanding;
			poll_used(c, q);
			if (d->outstanding < before)
				idle = busy = 0;
			else if (host_inflight(c, q))
				busy++;
			else
				idle++;
			if (d->outstanding)
				nanosleep(&t, NULL);
		}
		CHECK(c, !d->outstanding,
		      "queue %u: %u requests never completed (used idx %u, "
		      "broken %d, %u host I/Os in flight)",
		      q, d->outstanding, load16(c, e->used + 2),
		      a->blk.queues[q].worker.vq.broken, host_inflight(c, q));
	}
}

/* ---- the driver's own set-up ---- */

/* Queue q on one of its arenas, zeroed, with a valid size; enabled. */
static void setup_queue(struct attack *a, unsigned q)
{
	static const uint16_t sizes[] = { 16, 16, 32, 64, 128, 256 };
	struct drvq *d = &a->dq[q];

	memset(d, 0, sizeof(*d));
	d->arena = 2 * q + below(&a->c, 2);
	d->size = PICK(&a->c, sizes);
	d->nslots = d->size / 3 < NSLOTS ? d->size / 3 : NSLOTS;
	driver_queue(&a->c, q, d->arena, d->size);
}

/* What a Linux driver does at probe: reset, negotiate, queues, DRIVER_OK;
 * the device must accept it whatever came before. */
static void proper_init(struct attack_core *c)
{
	struct attack *a = attack_of(c);
	uint32_t lo = ring_features(c);

	TRACE(c, "driver init");
	drain_sane(a);
	driver_features(c, lo);
	for (unsigned q = 0; q < NQ; q++)
		setup_queue(a, q);
	driver_ok(c);
}

static void kick(struct attack_core *c, unsigned q)
{
	vblk_kick(&attack_of(c)->blk, q);
}

static const struct attack_device blk_device = {
	.env = "VIRTIO_ATTACK",
	.nq = NQ,
	.queue_max = VBLK_QUEUE_SIZE,
	.used_len_max = READ_LEN,
	.feature = VIRTIO_BLK_F_FLUSH,
	.config_span = 0x48,
	.default_ops = DEFAULT_OPS,
	.kick = kick,
	.outstanding = outstanding,
	.complete = complete,
	.post = post,
	.proper_init = proper_init,
};

/* ---- one seed ---- */

static void setup(struct attack *a)
{
	struct attack_core *c = &a->c;

	attack_ram_init(c);
	arenas_init(c);
	snprintf(a->path, sizeof(a->path), "/tmp/vmm-test-attack-XXXXXX");
	test_disk_open(&a->blk, a->path, &c->mem, NQ);
	c->vdev = &a->blk.vdev;
	for (unsigned q = 0; q < NQ; q++) {
		c->worker[q] = &a->blk.queues[q].worker;
		c->inflight[q] = &a->blk.queues[q].ctx.inflight;
	}
	attack_transport_init(c);
}

static void teardown(struct attack *a)
{
	attack_transport_destroy(&a->c);
	test_disk_close(&a->blk, a->path);
	attack_ram_destroy(&a->c);
}

/* The disk still holds its own bytes: every write wrote them back. */
static void check_disk(struct attack *a)
{
	uint8_t *buf = malloc(TEST_DISK_BYTES);
	int fd = open(a->path, O_RDONLY);

	cr_assert(buf && fd >= 0);
	cr_assert_eq(pread(fd, buf, TEST_DISK_BYTES, 0), TEST_DISK_BYTES);
	for (uint64_t i = 0; i < TEST_DISK_BYTES; i++)
		CHECK(&a->c, buf[i] == test_disk_byte(i),
		      "disk byte %#lx is %#x", i, buf[i]);
	close(fd);
	free(buf);
}

/* After everything: a reset and a fresh set-up serve a read and a write
 * on each queue, with the right data. */
static void final_io(struct attack *a)
{
	struct attack_core *c = &a->c;

	drain_sane(a);
	check_ram(c);
	c->op = c->ops;
	proper_init(c);
	for (unsigned q = 0; q < NQ; q++) {
		CHECK(c, post(c, q) && post(c, q), "queue %u: cannot post", q);
		t_kick(c, q);
	}
	drain_sane(a);
	CHECK(c, a->st.reads && a->st.writes, "no request completed");
	reset_device(c);
	check_ram(c);
	check_disk(a);
}

static void report(struct attack *a)
{
	struct attack_core *c = &a->c;
	uint64_t drained = 0;

	for (unsigned q = 0; q < NQ; q++)
		drained += a->blk.queues[q].worker.drained;
	if (attack_env(c, "VERBOSE"))
		fprintf(stderr,
			"%s seed %u: %u ops, %u epochs (%u set up by the "
			"driver, %u broken), %u reads, %u writes, %u resets, "
			"%u ops with I/O in flight, %lu requests drained, %u "
			"irqs, %u fires, %u routes, %u racing accesses\n",
			c->pci ? "pci" : "mmio", c->seed, c->ops, c->st.epochs,
			c->st.sane_epochs, c->st.broken, a->st.reads,
			a->st.writes, c->st.resets, c->st.inflight_ops, drained,
			c->irqs, c->fires, c->routes, c->racer_ops);
	CHECK(c, c->st.inflight_ops > c->ops / 20,
	      "only %u operations ran with I/O in flight", c->st.inflight_ops);
	CHECK(c, drained > 0, "no stop ever came with requests in flight");
	CHECK(c, c->st.epochs > c->st.sane_epochs,
	      "no queue ever started on a hostile layout");
	CHECK(c, c->pci ? c->fires > 0 : c->irqs > 0, "no interrupt");
}

static void run_seed(bool pci, unsigned seed, bool race)
{
	struct attack *a = calloc(1, sizeof(*a));
	unsigned tasks = count_threads(), fds = count_entries("/proc/self/fd");

	cr_assert_not_null(a);
	attack_begin(&a->c, &blk_device, pci, seed, race);
	setup(a);
	proper_init(&a->c);
	attack_run(&a->c);
	final_io(a);
	report(a);
	teardown(a);
	cr_assert_eq(count_threads(), tasks, "threads left behind");
	cr_assert_eq(count_entries("/proc/self/fd"), fds, "descriptors leaked");
	free(a);
}

#define ATTACK(transport, is_pci, seed)                                        \
	Test(virtio_attack, transport##_seed_##seed, .timeout = 120)           \
	{                                                                      \
		run_seed(is_pci, seed, false);                                 \
	}

/* The same with a second vCPU racing the first. */
#define ATTACK_RACE(transport, is_pci, seed)                                   \
	Test(virtio_attack, transport##_race_seed_##seed, .timeout = 120)      \
	{                                                                      \
		run_seed(is_pci, seed, true);                                  \
	}

ATTACK(mmio, false, 1)
ATTACK(mmio, false, 2)
ATTACK(mmio, false, 3)
ATTACK(mmio, false, 4)
ATTACK(pci, true, 1)
ATTACK(pci, true, 2)
ATTACK(pci, true, 3)
ATTACK(pci, true, 4)
ATTACK_RACE(mmio, false, 5)
ATTACK_RACE(pci, true, 5)
