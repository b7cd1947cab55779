/* A hostile driver against virtio-blk, over virtio-mmio and virtio-pci:
 * a seeded, deterministic stream of register accesses of every kind, at
 * every offset and width, interleaved with valid I/O that the driver keeps
 * in flight through the device's real queue workers and io_urings (a
 * temporary disk opened with cache=none).
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
 * Threads: the test thread is the only vCPU; the device's queue workers
 * run as in the VMM and report through the hooks' atomic counters. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dummy_virtio.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"

#define RAM (8ULL << 20)
#define PAGE ((uint64_t)4096)
#define PAGES (RAM / PAGE)
#define NQ 2
#define NSLOTS 16
#define NARENAS 4
#define ARENA(k) (0x100000ULL + 0x40000ULL * (k))
#define A_DESC 0x0000
#define A_AVAIL 0x1000
#define A_USED 0x2000
#define A_HDR 0x3000
#define A_STATUS 0x4000
#define A_DATA 0x10000
#define SCRATCH(q, k) (0x300000ULL + PAGE * (4 * (q) + (k)))
#define PRISTINE 0x500000ULL
#define CANARY 0xa5
#define POISON 0xee
#define USED_MAX (6 + 8 * VBLK_QUEUE_SIZE)
#define READ_LEN 4097 /* status byte and 4 KiB */
#define WINDOW 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define DEFAULT_OPS 10000
#define CHECK_EVERY 50
#define NVEC (NQ + 1)
#define N(x) (sizeof(x) / sizeof((x)[0]))

enum ring { R_DESC, R_AVAIL, R_USED };

struct rng {
	uint64_t s;
};

/* Bytes of one page the device may write: [lo, hi), none when hi is 0. */
struct extent {
	uint16_t lo, hi;
};

/* One run of a queue's worker, from the start it was handed to its stop. */
struct epoch {
	bool live, sane; /* sane: started by the driver's own set-up */
	unsigned starts;
	uint16_t size, seen;
	gpa_t desc, avail, used;
	gpa_t page; /* the page holding the used ring, as it started */
	uint8_t snap[PAGE];
};

/* The used ring of a stopped queue, which must not move any more. */
struct stopped {
	bool valid;
	gpa_t used;
	unsigned len;
	uint8_t bytes[USED_MAX];
};

/* The driver's side of one queue it set up. */
struct drvq {
	unsigned arena;
	uint16_t size, nslots, avail_idx, next;
	bool busy[NSLOTS];
	unsigned outstanding;
};

struct stats {
	unsigned epochs, sane_epochs, reads, writes, inflight_ops, resets,
		reinits, broken;
};

struct attack {
	bool pci, trace;
	bool race;	      /* a second vCPU races the first */
	bool racer_stop;      /* atomic */
	pthread_t racer_self; /* set by the racer before its first access */
	unsigned racer_ops;   /* atomic */
	unsigned seed, op, ops;
	struct rng rng;
	pthread_t self;
	struct guest_mem mem;
	struct virtio_dev dummy_vd; /* dummy_virtio_setup's; unused */
	struct dummy_virtio dv;
	uint8_t *ram, *shadow;
	struct extent ext[PAGES];
	char path[64];
	struct vblk blk;
	struct virtio_mmio m;
	struct pci_bus bus;
	struct virtio_pci p;
	/* Hooks, some on device threads: atomics. */
	unsigned irqs, fires, bad_fires, routes, bad_routes, bad_notifies;
	bool route_fail;
	uint64_t bar_gpa;
	bool bar_mapped;
	uint8_t floor; /* status bits seen since the last reset */
	struct drvq dq[NQ];
	struct epoch ep[NQ];
	struct stopped stopped[NQ];
	struct stats st;
	char msg[512];
};

#define FAIL(a, ...)                                                           \
	do {                                                                   \
		snprintf((a)->msg, sizeof((a)->msg), __VA_ARGS__);             \
		cr_assert_fail("%s seed %u op %u: %s",                         \
			       (a)->pci ? "pci" : "mmio", (a)->seed, (a)->op,  \
			       (a)->msg);                                      \
	} while (0)

#define CHECK(a, cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			FAIL(a, __VA_ARGS__);                                  \
	} while (0)

#define TRACE(a, ...)                                                          \
	do {                                                                   \
		if ((a)->trace) {                                              \
			snprintf((a)->msg, sizeof((a)->msg), __VA_ARGS__);     \
			fprintf(stderr, "op %u: %s\n", (a)->op, (a)->msg);     \
		}                                                              \
	} while (0)

/* ---- randomness: splitmix64, one stream per seed ---- */

static uint64_t rnd(struct attack *a)
{
	uint64_t z = (a->rng.s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(struct attack *a, unsigned n)
{
	return (unsigned)(rnd(a) % n);
}

#define PICK(a, arr) ((arr)[below((a), N(arr))])

static unsigned width(struct attack *a)
{
	static const unsigned w[] = { 1, 2, 4, 4, 8 };

	return PICK(a, w);
}

/* ---- the driver's writes into guest RAM, mirrored in the shadow ---- */

static void drv_write(struct attack *a, gpa_t gpa, const void *src, size_t len)
{
	CHECK(a, gpa + len <= RAM, "driver write outside RAM");
	memcpy(a->ram + gpa, src, len);
	memcpy(a->shadow + gpa, src, len);
}

static void drv_fill(struct attack *a, gpa_t gpa, int byte, size_t len)
{
	CHECK(a, gpa + len <= RAM, "driver fill outside RAM");
	memset(a->ram + gpa, byte, len);
	memset(a->shadow + gpa, byte, len);
}

static void drv_store16(struct attack *a, gpa_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)(a->ram + gpa), v, __ATOMIC_RELEASE);
	memcpy(a->shadow + gpa, &v, 2);
}

static uint16_t load16(struct attack *a, gpa_t gpa)
{
	return __atomic_load_n((uint16_t *)(a->ram + gpa), __ATOMIC_ACQUIRE);
}

/* The device may write [gpa, gpa + len) (per page, a covering extent). */
static void allow(struct attack *a, gpa_t gpa, uint64_t len)
{
	while (len) {
		struct extent *e = &a->ext[gpa / PAGE];
		unsigned off = (unsigned)(gpa % PAGE);
		unsigned take = len < PAGE - off ? (unsigned)len
						 : (unsigned)(PAGE - off);
		if (!e->hi || off < e->lo)
			e->lo = (uint16_t)off;
		if (off + take > e->hi)
			e->hi = (uint16_t)(off + take);
		gpa += take;
		len -= take;
	}
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

static void arena_slot(struct attack *a, unsigned k, unsigned n)
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

	drv_write(a, hdr, &h, sizeof(h));
	drv_write(a, base + A_DESC + 16ULL * d0, d, sizeof(d));
	fill_pattern(buf, sector_of(k, n));
	drv_write(a, slot_data(k, n), buf, PAGE);
	drv_fill(a, base + A_STATUS + n, 0xff, 1);
}

static void arenas_init(struct attack *a)
{
	for (unsigned k = 0; k < NARENAS; k++) {
		drv_fill(a, ARENA(k), 0, A_DATA);
		for (unsigned n = 0; n < NSLOTS; n++)
			arena_slot(a, k, n);
		allow(a, ARENA(k) + A_STATUS, NSLOTS);
		allow(a, ARENA(k) + A_DATA, PAGE * NSLOTS);
	}
}

/* ---- ring addresses a hostile driver offers ---- */

static gpa_t bad_addr(struct attack *a)
{
	static const gpa_t bad[] = {
		RAM,
		RAM + PAGE,
		0xc0000000ULL,
		0xfee00000ULL,
		0xfffff000ULL,
		0x100000000ULL,
		0xfffffffffffff000ULL,
		0xa5a5a5a5a5a5a5a5ULL,
		1ULL << 40,
	};
	uint64_t r = rnd(a);

	return r & 1 ? bad[(r >> 1) % N(bad)] : (r | 1ULL << 63);
}

static gpa_t cand_desc(struct attack *a, gpa_t arena, unsigned r)
{
	static const unsigned skew[] = { 0, 0, 0, 0, 16, 32 };

	switch (r) {
	case 0:
	case 1:
	case 2:
	case 3: return arena + A_DESC + PICK(a, skew);
	case 4: return PRISTINE + 16ULL * below(a, 4);
	case 5: return arena + A_DESC + 8; /* misaligned */
	default: return RAM - 0x10; /* canary at size 1, else past the end */
	}
}

static gpa_t cand_avail(struct attack *a, gpa_t arena, unsigned r)
{
	switch (r) {
	case 0:
	case 1:
	case 2: return arena + A_AVAIL;
	case 3: return arena + A_USED; /* what the device writes */
	case 4: return PRISTINE + PAGE;
	case 5: return arena + A_AVAIL + 1; /* misaligned */
	default: return RAM - 2 * (1 + below(a, 8));
	}
}

static gpa_t cand_used(struct attack *a, unsigned q, gpa_t arena, unsigned r)
{
	switch (r) {
	case 0:
	case 1:
	case 2: return arena + A_USED;
	case 3: return arena + A_USED + 4;
	case 4: return SCRATCH(q, below(a, 4));
	case 5: return arena + A_USED + 2; /* misaligned */
	default:
		/* Past the end of RAM from size 32 (queue 0) or at once. */
		return q ? RAM - 8 : RAM - 0x100;
	}
}

/* An address for ring of queue q: its own arenas, canary pages, or not
 * RAM at all; never a page another queue's device side writes. */
static gpa_t cand(struct attack *a, enum ring ring, unsigned q)
{
	gpa_t arena = ARENA(2 * (q % NQ) + below(a, 2));
	unsigned r = below(a, 10);

	if (r >= 7)
		return bad_addr(a);
	if (ring == R_DESC)
		return cand_desc(a, arena, r);
	if (ring == R_AVAIL)
		return cand_avail(a, arena, r);
	return cand_used(a, q % NQ, arena, r);
}

/* An address of ring of queue q the device should accept (aligned, in
 * RAM), though not necessarily one that makes sense. */
static gpa_t cand_valid(struct attack *a, enum ring ring, unsigned q)
{
	gpa_t arena = ARENA(2 * (q % NQ) + below(a, 2));
	static const unsigned desc[] = { 0, 1, 2, 3, 4 };
	static const unsigned avail[] = { 0, 3, 4 };
	static const unsigned used[] = { 0, 3, 4 };

	if (ring == R_DESC)
		return cand_desc(a, arena, PICK(a, desc));
	if (ring == R_AVAIL)
		return cand_avail(a, arena, PICK(a, avail));
	return cand_used(a, q % NQ, arena, PICK(a, used));
}

static uint32_t size_value(struct attack *a)
{
	static const uint32_t v[] = { 0,  1,   2,   4,	 16,  32,     64,
				      64, 128, 256, 512, 100, 0xffff, 0x10000 };

	return below(a, 8) ? PICK(a, v) : (uint32_t)rnd(a);
}

static uint8_t status_value(struct attack *a)
{
	static const uint8_t v[] = { 0,	   1,	 3,    7,    0x0b, 0x0f,
				     0x0f, 0x0f, 0x08, 0x04, 0x02, 0x40,
				     0x80, 0x8f, 0x4f, 0xff, 0x07, 0x09 };

	return below(a, 10) ? PICK(a, v) : (uint8_t)rnd(a);
}

static uint32_t queue_index(struct attack *a)
{
	static const uint32_t v[] = {
		0, 0, 1, 1, 2, 15, 16, 0xffff, 0xffffffff
	};

	return below(a, 8) ? PICK(a, v) : (uint32_t)rnd(a);
}

/* ---- the transports, as the driver reaches them ---- */

static void mmio_wr(struct attack *a, uint64_t off, unsigned size, uint64_t v)
{
	virtio_mmio_ops.write(&a->m, off, (const uint8_t *)&v, size);
}

static uint64_t mmio_rd(struct attack *a, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	virtio_mmio_ops.read(&a->m, off, (uint8_t *)&v, size);
	return v;
}

/* BAR 0 through the bus window, where the BAR decodes now; false when it
 * does not decode in the window (the access reaches nothing). */
static bool bus_access(struct attack *a, uint64_t off, uint64_t *v,
		       unsigned size, bool is_write)
{
	uint64_t at = __atomic_load_n(&a->p.pci.mapped_at[0], __ATOMIC_ACQUIRE);

	if (!is_write)
		*v = 0;
	if (!at || at < WINDOW || at - WINDOW + off + size > WINDOW_SIZE) {
		if (!is_write)
			memset(v, 0xff, size);
		return false;
	}
	if (is_write)
		pci_mmio_ops.write(&a->bus, at - WINDOW + off,
				   (const uint8_t *)v, size);
	else
		pci_mmio_ops.read(&a->bus, at - WINDOW + off, (uint8_t *)v,
				  size);
	return true;
}

/* With a racing vCPU moving the BAR, the driver reaches BAR 0 as if it
 * followed every move. */
static bool bar_access(struct attack *a, uint64_t off, uint64_t *v,
		       unsigned size, bool is_write)
{
	const struct io_ops *ops = a->p.pci.bar_ops[0];

	if (!a->race)
		return bus_access(a, off, v, size, is_write);
	*v = is_write ? *v : 0;
	if (is_write)
		ops->write(&a->p, off, (const uint8_t *)v, size);
	else
		ops->read(&a->p, off, (uint8_t *)v, size);
	return true;
}

static bool bar_wr(struct attack *a, uint64_t off, unsigned size, uint64_t v)
{
	return bar_access(a, off, &v, size, true);
}

static uint64_t bar_rd(struct attack *a, uint64_t off, unsigned size)
{
	uint64_t v;

	bar_access(a, off, &v, size, false);
	return v;
}

/* Configuration space of slot/fn, through ECAM or the 0xCF8 ports. */
static void cfg_access(struct attack *a, unsigned slot, unsigned fn,
		       unsigned reg, unsigned size, uint32_t *v, bool is_write)
{
	if (below(a, 2)) {
		uint64_t off = (uint64_t)slot << 15 | fn << 12 | reg;
		if (is_write)
			pci_ecam_ops.write(&a->bus, off, (uint8_t *)v, size);
		else
			pci_ecam_ops.read(&a->bus, off, (uint8_t *)v, size);
		return;
	}
	uint32_t addr = 0x80000000u | slot << 11 | fn << 8 | (reg & 0xfc);
	pci_config_port_ops.write(&a->bus, 0, (uint8_t *)&addr, 4);
	if (is_write)
		pci_config_port_ops.write(&a->bus, 4 + (reg & 3), (uint8_t *)v,
					  size);
	else
		pci_config_port_ops.read(&a->bus, 4 + (reg & 3), (uint8_t *)v,
					 size);
}

static void cfg_wr(struct attack *a, unsigned reg, unsigned size, uint32_t v)
{
	cfg_access(a, 1, 0, reg, size, &v, true);
}

static uint8_t t_status(struct attack *a)
{
	uint8_t s = 0;

	if (!a->pci)
		return (uint8_t)mmio_rd(a, VIRTIO_MMIO_STATUS, 4);
	a->p.pci.bar_ops[0]->read(&a->p, VIRTIO_PCI_COMMON_STATUS, &s, 1);
	return s;
}

/* A status write; false when it did not reach the device. */
static bool t_write_status(struct attack *a, uint8_t v)
{
	if (!a->pci) {
		mmio_wr(a, VIRTIO_MMIO_STATUS, 4, v);
		return true;
	}
	return bar_wr(a, VIRTIO_PCI_COMMON_STATUS, 1, v);
}

static void t_kick(struct attack *a, unsigned q)
{
	if (a->pci)
		bar_wr(a, VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULTIPLIER * q, 2, q);
	else
		mmio_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 4, q);
}

/* ---- hooks ---- */

static void mmio_irq(void *o)
{
	__atomic_add_fetch(&((struct attack *)o)->irqs, 1, __ATOMIC_RELAXED);
}

static void mmio_notify(void *o, unsigned q)
{
	struct attack *a = o;

	if (q >= NQ)
		__atomic_add_fetch(&a->bad_notifies, 1, __ATOMIC_RELAXED);
	vblk_kick(&a->blk, q);
}

/* vCPU thread only, under the MSI-X lock. */
static int pci_route(void *o, unsigned vec, uint64_t addr, uint32_t data)
{
	struct attack *a = o;

	(void)addr, (void)data;
	__atomic_add_fetch(&a->routes, 1, __ATOMIC_RELAXED);
	if (!(pthread_equal(pthread_self(), a->self) ||
	      (a->race && pthread_equal(pthread_self(), a->racer_self))) ||
	    vec >= NVEC)
		__atomic_add_fetch(&a->bad_routes, 1, __ATOMIC_RELAXED);
	return a->route_fail ? -ENOSPC : 0;
}

/* Any thread, under the MSI-X lock: a fire must be deliverable. */
static void pci_fire(void *o, unsigned vec)
{
	struct attack *a = o;
	const struct msix *m = &a->p.msix;
	bool ok = vec < m->nvec && m->enabled && !m->function_masked &&
		  !(m->table[vec].ctrl & 1) && !(m->route_stale & 1ULL << vec);

	__atomic_add_fetch(&a->fires, 1, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_add_fetch(&a->bad_fires, 1, __ATOMIC_RELAXED);
}

static void pci_notify(void *o, unsigned q)
{
	mmio_notify(o, q);
}

/* vCPU thread, under the bus lock. */
static void pci_bar_moved(void *o, uint64_t gpa, bool mapped)
{
	struct attack *a = o;

	a->bar_gpa = gpa;
	a->bar_mapped = mapped;
}

static const struct virtio_pci_hooks hooks = {
	.irq = { pci_route, pci_fire },
	.notify = pci_notify,
	.bar_moved = pci_bar_moved,
};

/* ---- epochs: what each queue's worker serves ---- */

static bool queue_live(struct attack *a, unsigned q)
{
	return a->blk.vdev.active && a->blk.vdev.vqs[q].ready;
}

static unsigned worker_starts(struct attack *a, unsigned q)
{
	return __atomic_load_n(&a->blk.queues[q].worker.starts,
			       __ATOMIC_ACQUIRE);
}

static unsigned used_len(uint16_t size)
{
	return 6 + 8U * size;
}

static void check_layout(struct attack *a, unsigned q, const struct epoch *e)
{
	CHECK(a,
	      e->size && !(e->size & (e->size - 1)) &&
		      e->size <= VBLK_QUEUE_SIZE && !(e->desc % 16) &&
		      !(e->avail % 2) && !(e->used % 4) &&
		      mem_is_ram(&a->mem, e->desc, 16ULL * e->size) &&
		      mem_is_ram(&a->mem, e->avail, 6 + 2ULL * e->size) &&
		      mem_is_ram(&a->mem, e->used, used_len(e->size)),
	      "queue %u started with size %u desc %#lx avail %#lx used %#lx", q,
	      e->size, e->desc, e->avail, e->used);
}

static void begin_epoch(struct attack *a, unsigned q, unsigned starts)
{
	struct epoch *e = &a->ep[q];
	const struct virtqueue *vq = &a->blk.vdev.vqs[q];

	e->live = true;
	e->sane = false;
	e->starts = starts;
	e->seen = 0;
	e->size = vq->size;
	e->desc = vq->desc;
	e->avail = vq->avail;
	e->used = vq->used;
	check_layout(a, q, e);
	allow(a, e->used, used_len(e->size));
	e->page = e->used & ~(PAGE - 1);
	CHECK(a, e->used + used_len(e->size) <= e->page + PAGE,
	      "used ring at %#lx crosses a page", e->used);
	memcpy(e->snap, a->ram + e->page, PAGE);
	a->stopped[q].valid = false;
	a->st.epochs++;
	TRACE(a, "queue %u starts: size %u desc %#lx avail %#lx used %#lx", q,
	      e->size, e->desc, e->avail, e->used);
}

/* Nothing around a stopped queue's used ring changed while it ran, and
 * its elements that changed are elements of that queue. */
static void check_used_writes(struct attack *a, unsigned q)
{
	const struct epoch *e = &a->ep[q];
	unsigned at = (unsigned)(e->used - e->page), len = used_len(e->size);
	const uint8_t *now = a->ram + e->page, *ring = now + at;

	for (unsigned i = 0; i < PAGE; i++)
		CHECK(a, (i >= at && i < at + len) || now[i] == e->snap[i],
		      "queue %u wrote %#lx, outside its used ring %#lx+%#x", q,
		      e->page + i, e->used, len);
	for (unsigned k = 0; k < e->size; k++) {
		struct vring_used_elem el;
		if (!memcmp(ring + 4 + 8 * k, e->snap + at + 4 + 8 * k, 8))
			continue;
		memcpy(&el, ring + 4 + 8 * k, 8);
		CHECK(a, el.id < e->size && el.len <= READ_LEN,
		      "queue %u used[%u] = {%u, %u} in a ring of %u", q, k,
		      el.id, el.len, e->size);
	}
}

static void end_epoch(struct attack *a, unsigned q, bool restarted)
{
	struct epoch *e = &a->ep[q];
	struct stopped *s = &a->stopped[q];

	check_used_writes(a, q);
	if (!restarted)
		CHECK(a, !a->blk.queues[q].ctx.inflight,
		      "queue %u stopped with %u requests in flight", q,
		      a->blk.queues[q].ctx.inflight);
	if (a->blk.queues[q].worker.vq.broken)
		a->st.broken++;
	s->valid = !restarted;
	s->used = e->used;
	s->len = used_len(e->size);
	memcpy(s->bytes, a->ram + e->used, s->len);
	e->live = false;
	TRACE(a, "queue %u stops", q);
}

static void check_stopped(struct attack *a, unsigned q)
{
	const struct stopped *s = &a->stopped[q];

	if (s->valid)
		CHECK(a, !memcmp(a->ram + s->used, s->bytes, s->len),
		      "queue %u: used ring at %#lx moved after the queue "
		      "stopped",
		      q, s->used);
}

static void complete(struct attack *a, unsigned q,
		     const struct vring_used_elem *el);

/* Used elements of a queue the driver set up: each one checked. */
static void poll_used(struct attack *a, unsigned q)
{
	struct epoch *e = &a->ep[q];
	uint16_t u;

	if (!e->live || !e->sane)
		return;
	u = load16(a, e->used + 2);
	CHECK(a, (uint16_t)(u - e->seen) <= a->dq[q].outstanding,
	      "queue %u: used idx %u after %u with %u requests outstanding", q,
	      u, e->seen, a->dq[q].outstanding);
	while (e->seen != u) {
		struct vring_used_elem el;
		memcpy(&el, a->ram + e->used + 4 + 8 * (e->seen % e->size), 8);
		complete(a, q, &el);
		e->seen++;
	}
}

/* A running queue's registers keep the layout its worker was given, and
 * a queue is ready after DRIVER_OK only while its worker serves it. */
static void check_running_layout(struct attack *a, unsigned q)
{
	const struct epoch *e = &a->ep[q];
	const struct virtqueue *vq = &a->blk.vdev.vqs[q];

	CHECK(a, queue_live(a, q) == e->live,
	      "queue %u ready %d, active %d, but its worker %s", q, vq->ready,
	      a->blk.vdev.active, e->live ? "serves" : "does not serve");
	if (e->live)
		CHECK(a,
		      vq->size == e->size && vq->desc == e->desc &&
			      vq->avail == e->avail && vq->used == e->used,
		      "queue %u layout changed while it runs", q);
}

static void track_epoch(struct attack *a, unsigned q)
{
	struct epoch *e = &a->ep[q];
	unsigned starts = worker_starts(a, q);
	bool restarted = starts != e->starts;

	poll_used(a, q);
	if (e->live && (restarted || !queue_live(a, q)))
		end_epoch(a, q, restarted);
	if (!restarted) {
		check_stopped(a, q);
		check_running_layout(a, q);
		return;
	}
	e->starts = starts;
	if (queue_live(a, q))
		begin_epoch(a, q, starts);
	check_running_layout(a, q);
}

/* ---- the driver's requests ---- */

static bool data_ok(struct attack *a, unsigned arena, unsigned n)
{
	uint8_t want[PAGE];

	fill_pattern(want, sector_of(arena, n));
	return !memcmp(a->ram + slot_data(arena, n), want, PAGE);
}

static void complete(struct attack *a, unsigned q,
		     const struct vring_used_elem *el)
{
	struct drvq *d = &a->dq[q];
	unsigned n = el->id / 3;
	uint8_t status;

	CHECK(a, el->id % 3 == 0 && n < d->nslots && d->busy[n],
	      "queue %u: used id %u was not made available (%u slots)", q,
	      el->id, d->nslots);
	status = a->ram[ARENA(d->arena) + A_STATUS + n];
	CHECK(a, status == VIRTIO_BLK_S_OK, "queue %u request %u: status %u", q,
	      n, status);
	if (slot_reads(n)) {
		CHECK(a, el->len == READ_LEN, "queue %u read %u: len %u", q, n,
		      el->len);
		CHECK(a, data_ok(a, d->arena, n), "queue %u read %u: bad data",
		      q, n);
		CHECK(a, mem_page_dirty(&a->mem, slot_data(d->arena, n)),
		      "queue %u read %u: data page not marked dirty", q, n);
		a->st.reads++;
	} else {
		CHECK(a, el->len == 1, "queue %u write %u: len %u", q, n,
		      el->len);
		a->st.writes++;
	}
	d->busy[n] = false;
	d->outstanding--;
}

/* Makes the next free request of queue q available; false if none. */
static bool post(struct attack *a, unsigned q)
{
	struct drvq *d = &a->dq[q];
	gpa_t base = ARENA(d->arena);
	uint16_t head;
	unsigned n = 0, i;

	if (!a->ep[q].live || !a->ep[q].sane)
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
		drv_fill(a, slot_data(d->arena, n), POISON, PAGE);
	drv_fill(a, base + A_STATUS + n, 0xff, 1);
	head = (uint16_t)(3 * n);
	drv_write(a, base + A_AVAIL + 4 + 2ULL * (d->avail_idx % d->size),
		  &head, 2);
	drv_store16(a, base + A_AVAIL + 2, ++d->avail_idx);
	d->busy[n] = true;
	d->outstanding++;
	return true;
}

/* Host I/O of queue q in flight: the worker's count, peeked at racily
 * (as test_wait_inflight does). */
static unsigned host_inflight(struct attack *a, unsigned q)
{
	return __atomic_load_n(&a->blk.queues[q].ctx.inflight,
			       __ATOMIC_RELAXED);
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
	struct timespec t = { 0, 200000 };

	for (unsigned q = 0; q < NQ; q++) {
		struct epoch *e = &a->ep[q];
		struct drvq *d = &a->dq[q];
		unsigned idle = 0, busy = 0;
		if (!e->live || !e->sane || !d->outstanding)
			continue;
		vblk_kick(&a->blk, q); /* as the ioeventfd would */
		while (d->outstanding && idle < IDLE_NAPS && busy < BUSY_NAPS) {
			unsigned before = d->outstanding;
			poll_used(a, q);
			if (d->outstanding < before)
				idle = busy = 0;
			else if (host_inflight(a, q))
				busy++;
			else
				idle++;
			if (d->outstanding)
				nanosleep(&t, NULL);
		}
		CHECK(a, !d->outstanding,
		      "queue %u: %u requests never completed (used idx %u, "
		      "broken %d, %u host I/Os in flight)",
		      q, d->outstanding, load16(a, e->used + 2),
		      a->blk.queues[q].worker.vq.broken, host_inflight(a, q));
	}
}

/* ---- invariants after every operation ---- */

static void check_status(struct attack *a)
{
	uint8_t s = t_status(a);

	if (s)
		CHECK(a, (s & a->floor) == a->floor,
		      "status %#x lost bits of %#x without a reset", s,
		      a->floor);
	else
		a->st.resets += a->floor != 0;
	a->floor = s;
}

static void check_written_status(struct attack *a, uint8_t v, bool reached)
{
	uint8_t s = t_status(a), want = v & ~VIRTIO_CONFIG_S_FEATURES_OK;

	if (reached && v)
		CHECK(a, (s & want) == want, "wrote status %#x, reads %#x", v,
		      s);
	if (reached && !v)
		CHECK(a, !s, "reset, status reads %#x", s);
}

static void check_bar(struct attack *a)
{
	const struct pci_device *d = &a->p.pci;
	bool decode = pci_cfg_get(d, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
	uint32_t at = decode ? pci_cfg_get(d, PCI_BASE_ADDRESS_0, 4) &
				       PCI_BASE_ADDRESS_MEM_MASK
			     : 0;

	CHECK(a,
	      d->mapped_at[0] == at && a->bar_mapped == (at != 0) &&
		      (!at || a->bar_gpa == at),
	      "BAR 0 at %#x decodes at %#x, reported %#lx (%d)", at,
	      d->mapped_at[0], a->bar_gpa, a->bar_mapped);
}

static void check_hooks(struct attack *a)
{
	CHECK(a, !__atomic_load_n(&a->bad_fires, __ATOMIC_RELAXED),
	      "an MSI-X vector fired while not deliverable");
	CHECK(a, !__atomic_load_n(&a->bad_routes, __ATOMIC_RELAXED),
	      "a route was installed off the vCPU thread or out of range");
	CHECK(a, !__atomic_load_n(&a->bad_notifies, __ATOMIC_RELAXED),
	      "a notification of a queue that does not exist");
}

static void after_op(struct attack *a)
{
	check_status(a);
	for (unsigned q = 0; q < NQ; q++) {
		track_epoch(a, q);
		if (a->blk.queues[q].ctx.inflight)
			a->st.inflight_ops++;
	}
	check_hooks(a);
	if (a->pci)
		if (!a->race)
			check_bar(a);
}

/* Guest RAM the device may not write equals the driver's copy, and the
 * dirty log names only pages the device may write. */
static void check_ram(struct attack *a)
{
	for (uint64_t pg = 0; pg < PAGES; pg++) {
		const struct extent *e = &a->ext[pg];
		const uint8_t *r = a->ram + pg * PAGE,
			      *s = a->shadow + pg * PAGE;
		unsigned lo = e->hi ? e->lo : PAGE, hi = e->hi ? e->hi : PAGE;
		if (!memcmp(r, s, lo) && !memcmp(r + hi, s + hi, PAGE - hi)) {
			CHECK(a, e->hi || !mem_page_dirty(&a->mem, pg * PAGE),
			      "page %#lx marked dirty, never given to the "
			      "device",
			      pg * PAGE);
			continue;
		}
		for (unsigned i = 0; i < PAGE; i++)
			CHECK(a, (i >= lo && i < hi) || r[i] == s[i],
			      "device wrote %#x over %#x at gpa %#lx, outside "
			      "its buffers and rings",
			      r[i], s[i], pg * PAGE + i);
	}
}

/* ---- the driver's own set-up ---- */

static void pci_enable(struct attack *a)
{
	uint32_t home = (uint32_t)(WINDOW + 0x8000ULL * below(a, 0x2000));

	cfg_wr(a, PCI_BASE_ADDRESS_0, 4, home);
	cfg_wr(a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_wr(a, a->p.msix.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	for (unsigned v = 0; v < NVEC; v++) {
		uint64_t e = VPCI_MSIX_TABLE_OFF + 16ULL * v;
		bar_wr(a, e + PCI_MSIX_ENTRY_LOWER_ADDR, 8, 0xfee00000ULL);
		bar_wr(a, e + PCI_MSIX_ENTRY_DATA, 4, 0x40 + v);
		bar_wr(a, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	}
	a->route_fail = false;
}

static void write_features(struct attack *a, uint32_t lo, uint32_t hi)
{
	if (a->pci) {
		bar_wr(a, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
		bar_wr(a, VIRTIO_PCI_COMMON_GF, 4, lo);
		bar_wr(a, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
		bar_wr(a, VIRTIO_PCI_COMMON_GF, 4, hi);
		return;
	}
	mmio_wr(a, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
	mmio_wr(a, VIRTIO_MMIO_DRIVER_FEATURES, 4, lo);
	mmio_wr(a, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
	mmio_wr(a, VIRTIO_MMIO_DRIVER_FEATURES, 4, hi);
}

static uint32_t ring_features(struct attack *a)
{
	uint32_t lo = 1u << VIRTIO_BLK_F_FLUSH;

	if (below(a, 2))
		lo |= 1u << VIRTIO_RING_F_EVENT_IDX;
	if (below(a, 2))
		lo |= 1u << VIRTIO_RING_F_INDIRECT_DESC;
	return lo;
}

static void write_layout(struct attack *a, const gpa_t g[3])
{
	static const uint64_t mmio_lo[] = { VIRTIO_MMIO_QUEUE_DESC_LOW,
					    VIRTIO_MMIO_QUEUE_AVAIL_LOW,
					    VIRTIO_MMIO_QUEUE_USED_LOW };

	for (unsigned r = 0; r < 3; r++) {
		if (a->pci && below(a, 2)) {
			bar_wr(a, VIRTIO_PCI_COMMON_Q_DESCLO + 8 * r, 8, g[r]);
		} else if (a->pci) {
			bar_wr(a, VIRTIO_PCI_COMMON_Q_DESCLO + 8 * r, 4,
			       (uint32_t)g[r]);
			bar_wr(a, VIRTIO_PCI_COMMON_Q_DESCHI + 8 * r, 4,
			       g[r] >> 32);
		} else {
			mmio_wr(a, mmio_lo[r], 4, (uint32_t)g[r]);
			mmio_wr(a, mmio_lo[r] + 4, 4, g[r] >> 32);
		}
	}
}

/* Queue q on one of its arenas, zeroed, with a valid size; enabled. */
static void setup_queue(struct attack *a, unsigned q)
{
	static const uint16_t sizes[] = { 16, 16, 32, 64, 128, 256 };
	struct drvq *d = &a->dq[q];
	gpa_t base, g[3];
	uint64_t ready;

	memset(d, 0, sizeof(*d));
	d->arena = 2 * q + below(a, 2);
	d->size = PICK(a, sizes);
	d->nslots = d->size / 3 < NSLOTS ? d->size / 3 : NSLOTS;
	base = ARENA(d->arena);
	check_stopped(a, q);
	a->stopped[q].valid = false;
	drv_fill(a, base + A_AVAIL, 0, PAGE);
	drv_fill(a, base + A_USED, 0, PAGE);
	g[0] = base + A_DESC, g[1] = base + A_AVAIL, g[2] = base + A_USED;
	if (a->pci) {
		bar_wr(a, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		bar_wr(a, VIRTIO_PCI_COMMON_Q_SIZE, 2, d->size);
		write_layout(a, g);
		bar_wr(a, VIRTIO_PCI_COMMON_Q_MSIX, 2, q);
		bar_wr(a, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
		ready = bar_rd(a, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
	} else {
		mmio_wr(a, VIRTIO_MMIO_QUEUE_SEL, 4, q);
		mmio_wr(a, VIRTIO_MMIO_QUEUE_NUM, 4, d->size);
		write_layout(a, g);
		mmio_wr(a, VIRTIO_MMIO_QUEUE_READY, 4, 1);
		ready = mmio_rd(a, VIRTIO_MMIO_QUEUE_READY, 4);
	}
	CHECK(a, ready == 1, "queue %u not enabled by a valid set-up", q);
}

static void reset_device(struct attack *a)
{
	CHECK(a, t_write_status(a, 0), "reset did not reach the device");
	after_op(a);
	CHECK(a, t_status(a) == 0, "status %#x after a reset", t_status(a));
	for (unsigned q = 0; q < NQ; q++)
		CHECK(a, !a->blk.queues[q].ctx.inflight && !a->ep[q].live,
		      "queue %u still busy after a reset", q);
}

/* What a Linux driver does at probe: reset, negotiate, queues, DRIVER_OK;
 * the device must accept it whatever came before. */
static void proper_init(struct attack *a)
{
	uint32_t lo = ring_features(a);

	TRACE(a, "driver init");
	drain_sane(a);
	if (a->pci)
		pci_enable(a);
	reset_device(a);
	t_write_status(a, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	write_features(a, lo, 1);
	t_write_status(a, 0x0b);
	CHECK(a, t_status(a) == 0x0b, "FEATURES_OK refused: %#x", t_status(a));
	for (unsigned q = 0; q < NQ; q++)
		setup_queue(a, q);
	if (a->pci)
		bar_wr(a, VIRTIO_PCI_COMMON_MSIX, 2, NQ);
	t_write_status(a, 0x0f);
	CHECK(a, t_status(a) == 0x0f, "DRIVER_OK: status %#x", t_status(a));
	after_op(a);
	for (unsigned q = 0; q < NQ; q++) {
		CHECK(a, a->ep[q].live, "queue %u did not start", q);
		a->ep[q].sane = true;
	}
	a->st.sane_epochs += NQ;
	a->st.reinits++;
}

/* A queue set up by the hostile driver: the sizes and ring addresses it
 * may choose, enabled. */
static void hostile_queue(struct attack *a, unsigned q)
{
	static const uint16_t sizes[] = { 1, 2, 16, 64, 128, 256 };
	uint32_t size = below(a, 8) ? PICK(a, sizes) : size_value(a);
	gpa_t g[3];

	for (unsigned r = 0; r < 3; r++)
		g[r] = below(a, 4) ? cand_valid(a, (enum ring)r, q)
				   : cand(a, (enum ring)r, q);
	TRACE(a, "hostile queue %u: size %u desc %#lx avail %#lx used %#lx", q,
	      size, g[0], g[1], g[2]);
	if (a->pci) {
		bar_wr(a, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		bar_wr(a, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
		write_layout(a, g);
		bar_wr(a, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	} else {
		mmio_wr(a, VIRTIO_MMIO_QUEUE_SEL, 4, q);
		mmio_wr(a, VIRTIO_MMIO_QUEUE_NUM, 4, size);
		write_layout(a, g);
		mmio_wr(a, VIRTIO_MMIO_QUEUE_READY, 4, 1);
	}
}

/* The probe sequence with hostile choices: queues on candidate rings,
 * steps left out; the device may start on whatever it accepts. */
static void hostile_init(struct attack *a)
{
	unsigned skip = below(a, 16);
	uint32_t lo = ring_features(a), hi = below(a, 8) ? 1 : 0;

	TRACE(a, "hostile init (skip %#x)", skip);
	if (!(skip & 1))
		t_write_status(a, 0);
	after_op(a);
	t_write_status(a, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	write_features(a, lo, hi);
	t_write_status(a, 0x0b);
	for (unsigned q = 0; q < NQ; q++)
		if (below(a, 4))
			hostile_queue(a, q);
	if (!(skip & 2))
		t_write_status(a, 0x0f);
}

/* ---- hostile operations, common to both transports ---- */

enum op {
	OP_POST,
	OP_REINIT,
	OP_SLEEP,
	OP_STATUS,
	OP_FEATURES,
	OP_QSEL,
	OP_QSIZE,
	OP_QADDR,
	OP_QREADY,
	OP_NOTIFY,
	OP_CONFIG,
	OP_RANDOM,
	OP_INT,
	OP_HOSTILE_INIT,
	/* virtio-pci only */
	OP_VECTORS,
	OP_MSIX_TABLE,
	OP_CFG_RANDOM,
	OP_CFG_COMMAND,
	OP_CFG_BAR,
	OP_CFG_MSIX,
	OP_CFG_WINDOW,
	OP_ROUTE_FAIL,
	OP_COUNT
};

static const unsigned weights[2][OP_COUNT] = {
	/* mmio */
	{ 300, 0, 15, 50, 30, 30, 25, 60, 30, 40, 30, 80, 20, 10 },
	/* pci */
	{ 300, 0,  15, 50, 30, 30, 25, 60, 30, 40, 30,
	  80,  20, 10, 25, 40, 40, 15, 20, 20, 40, 5 },
};

static enum op pick_op(struct attack *a)
{
	bool sane = a->ep[0].live && a->ep[0].sane;
	unsigned total = sane ? 8 : 30, r;

	for (unsigned i = 0; i < OP_COUNT; i++)
		total += weights[a->pci][i];
	r = below(a, total);
	if (r < (sane ? 8u : 30u))
		return OP_REINIT;
	r -= sane ? 8 : 30;
	for (unsigned i = 0; i < OP_COUNT; i++) {
		if (r < weights[a->pci][i])
			return (enum op)i;
		r -= weights[a->pci][i];
	}
	return OP_POST;
}

static void op_post(struct attack *a)
{
	unsigned q = below(a, NQ), kick = below(a, 100);

	if (post(a, q) && kick < 85)
		t_kick(a, q);
	TRACE(a, "post queue %u", q);
}

static void op_sleep(struct attack *a)
{
	struct timespec t = { 0, 20000 + 10000 * (long)below(a, 20) };

	nanosleep(&t, NULL);
}

/* ---- virtio-mmio ---- */

/* A value for a register write at off: ring addresses come from the
 * candidates of the selected queue, anything else is as random as it
 * gets. */
static uint64_t mmio_value(struct attack *a, uint64_t off, unsigned size)
{
	uint64_t v = rnd(a);
	enum ring ring;

	if (size != 4 || off & 3 || off < VIRTIO_MMIO_QUEUE_DESC_LOW ||
	    off > VIRTIO_MMIO_QUEUE_USED_HIGH)
		return v;
	switch (off & ~7ULL) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW: ring = R_DESC; break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: ring = R_AVAIL; break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: ring = R_USED; break;
	default: return v;
	}
	v = cand(a, ring, a->m.queue_sel);
	return off & 4 ? v >> 32 : (uint32_t)v;
}

static void mmio_features(struct attack *a)
{
	static const uint32_t f[] = { 0, 1, 0xffffffff, 1u << 28, 1u << 29 };

	switch (below(a, 4)) {
	case 0:
		mmio_wr(a, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, below(a, 4));
		break;
	case 1:
		mmio_wr(a, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4,
			below(a, 3) ? below(a, 2) : (uint32_t)rnd(a));
		break;
	case 2: mmio_wr(a, VIRTIO_MMIO_DRIVER_FEATURES, 4, PICK(a, f)); break;
	default: mmio_rd(a, VIRTIO_MMIO_DEVICE_FEATURES, 4); break;
	}
}

static void mmio_qaddr(struct attack *a)
{
	unsigned ring = below(a, 3), half = below(a, 3);
	uint64_t off = VIRTIO_MMIO_QUEUE_DESC_LOW + 0x10 * ring;
	gpa_t g = cand(a, (enum ring)ring, a->m.queue_sel);

	if (half != 1)
		mmio_wr(a, off, 4, (uint32_t)g);
	if (half != 0)
		mmio_wr(a, off + 4, 4, g >> 32);
	TRACE(a, "queue %u ring %u = %#lx (half %u)", a->m.queue_sel, ring, g,
	      half);
}

static void mmio_random(struct attack *a, uint64_t lo, uint64_t span)
{
	uint64_t off = lo + below(a, (unsigned)span), v;
	unsigned size = width(a);

	if (below(a, 2))
		off &= ~3ULL;
	v = mmio_value(a, off, size);
	if (below(a, 3)) {
		mmio_wr(a, off, size, v);
		TRACE(a, "mmio write %#lx/%u = %#lx", off, size, v);
	} else {
		mmio_rd(a, off, size);
	}
}

static void mmio_op(struct attack *a, enum op op)
{
	uint8_t s;

	switch (op) {
	case OP_STATUS:
		s = status_value(a);
		TRACE(a, "status %#x", s);
		mmio_wr(a, VIRTIO_MMIO_STATUS, 4, s);
		check_written_status(a, s, true);
		break;
	case OP_FEATURES: mmio_features(a); break;
	case OP_QSEL:
		mmio_wr(a, VIRTIO_MMIO_QUEUE_SEL, 4, queue_index(a));
		break;
	case OP_QSIZE:
		mmio_wr(a, VIRTIO_MMIO_QUEUE_NUM, 4, size_value(a));
		break;
	case OP_QADDR: mmio_qaddr(a); break;
	case OP_QREADY:
		s = (uint8_t)below(a, 4);
		TRACE(a, "queue %u ready %u", a->m.queue_sel, s & 1);
		mmio_wr(a, VIRTIO_MMIO_QUEUE_READY, 4, s == 3 ? 0xffffffff : s);
		break;
	case OP_NOTIFY:
		mmio_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 4, queue_index(a));
		break;
	case OP_CONFIG: mmio_random(a, VIRTIO_MMIO_CONFIG, 0x48); break;
	case OP_RANDOM:
		mmio_random(a, 0, below(a, 4) ? VIRTIO_MMIO_CONFIG : 0x1000);
		break;
	case OP_INT:
		if (below(a, 2))
			mmio_rd(a, VIRTIO_MMIO_INTERRUPT_STATUS, 4);
		else
			mmio_wr(a, VIRTIO_MMIO_INTERRUPT_ACK, 4, rnd(a));
		break;
	default: break;
	}
}

/* ---- virtio-pci ---- */

static uint64_t pci_value(struct attack *a, uint64_t off, unsigned size)
{
	uint64_t v = rnd(a), g;

	if ((size != 4 && size != 8) || off % size ||
	    off < VIRTIO_PCI_COMMON_Q_DESCLO || off >= 0x38)
		return v;
	g = cand(a, (enum ring)((off - VIRTIO_PCI_COMMON_Q_DESCLO) / 8),
		 a->p.queue_sel);
	if (size == 8)
		return g;
	return off & 4 ? g >> 32 : (uint32_t)g;
}

static void pci_bar_random(struct attack *a, uint64_t lo, uint64_t span)
{
	uint64_t off = lo + below(a, (unsigned)span), v;
	unsigned size = width(a);

	if (below(a, 2))
		off &= ~(uint64_t)(size - 1);
	v = pci_value(a, off, size);
	if (below(a, 3)) {
		TRACE(a, "bar write %#lx/%u = %#lx", off, size, v);
		bar_wr(a, off, size, v);
	} else {
		bar_rd(a, off, size);
	}
}

static void pci_features(struct attack *a)
{
	static const uint32_t f[] = { 0, 1, 0xffffffff, 1u << 28, 1u << 29 };

	switch (below(a, 4)) {
	case 0: bar_wr(a, VIRTIO_PCI_COMMON_DFSELECT, 4, below(a, 4)); break;
	case 1:
		bar_wr(a, VIRTIO_PCI_COMMON_GFSELECT, 4,
		       below(a, 3) ? below(a, 2) : (uint32_t)rnd(a));
		break;
	case 2: bar_wr(a, VIRTIO_PCI_COMMON_GF, 4, PICK(a, f)); break;
	default: bar_rd(a, VIRTIO_PCI_COMMON_GF, 4); break;
	}
}

static void pci_qaddr(struct attack *a)
{
	unsigned ring = below(a, 3), how = below(a, 4);
	uint64_t off = VIRTIO_PCI_COMMON_Q_DESCLO + 8 * ring;
	gpa_t g = cand(a, (enum ring)ring, a->p.queue_sel);

	if (how == 0)
		bar_wr(a, off, 8, g);
	if (how == 1 || how == 3)
		bar_wr(a, off, 4, (uint32_t)g);
	if (how == 2 || how == 3)
		bar_wr(a, off + 4, 4, g >> 32);
	TRACE(a, "queue %u ring %u = %#lx (how %u)", a->p.queue_sel, ring, g,
	      how);
}

static void pci_vectors(struct attack *a)
{
	static const uint16_t v[] = { 0, 1, 2, 3, 4, 0xffff, 0x7fff, 0x8000 };
	uint16_t x = below(a, 6) ? PICK(a, v) : (uint16_t)rnd(a);

	bar_wr(a,
	       below(a, 2) ? VIRTIO_PCI_COMMON_MSIX : VIRTIO_PCI_COMMON_Q_MSIX,
	       2, x);
}

static void pci_msix_table(struct attack *a)
{
	unsigned vec = below(a, 4) ? below(a, NVEC + 2) : below(a, 256);
	unsigned reg = below(a, 4) ? 4 * below(a, 4) : below(a, 16);
	uint64_t off = VPCI_MSIX_TABLE_OFF + 16ULL * vec + reg, v = rnd(a);
	unsigned size = width(a);

	if (reg == PCI_MSIX_ENTRY_VECTOR_CTRL && below(a, 4))
		v = below(a, 2);
	if (!below(a, 5))
		off = VPCI_MSIX_PBA_OFF + below(a, 16);
	if (below(a, 4)) {
		TRACE(a, "msix write %#lx/%u = %#lx", off, size, v);
		bar_wr(a, off, size, v);
	} else {
		bar_rd(a, off, size);
	}
}

/* Window target of the PCI configuration access capability. */
static uint32_t window_off(struct attack *a)
{
	static const uint32_t offs[] = {
		VIRTIO_PCI_COMMON_STATUS,
		VIRTIO_PCI_COMMON_Q_SELECT,
		VIRTIO_PCI_COMMON_Q_SIZE,
		VIRTIO_PCI_COMMON_Q_ENABLE,
		VIRTIO_PCI_COMMON_Q_MSIX,
		VIRTIO_PCI_COMMON_Q_DESCLO,
		VIRTIO_PCI_COMMON_Q_AVAILHI,
		VIRTIO_PCI_COMMON_Q_USEDLO,
		VIRTIO_PCI_COMMON_GF,
		VPCI_ISR_OFF,
		VPCI_DEVICE_OFF,
		VPCI_NOTIFY_OFF,
		VPCI_NOTIFY_OFF + 4,
		VPCI_NOTIFY_OFF + 8,
		VPCI_MSIX_TABLE_OFF + 12,
		VPCI_MSIX_TABLE_OFF + 16,
		VPCI_MSIX_PBA_OFF,
		VPCI_BAR_SIZE,
		VPCI_BAR_SIZE - 4,
		0xfffffffc,
	};

	return below(a, 5) ? PICK(a, offs) : (uint32_t)rnd(a) % 0x9000;
}

/* The value a write through the window carries: sanitised like a BAR
 * write when it lands on a ring address. */
static uint32_t window_value(struct attack *a, uint32_t off, uint32_t len)
{
	if (off == VIRTIO_PCI_COMMON_STATUS && below(a, 2))
		return status_value(a);
	return (uint32_t)pci_value(a, off, len);
}

static void pci_window(struct attack *a)
{
	static const uint32_t lens[] = { 1, 2, 4, 4, 4, 3, 0, 8 };
	unsigned cap = a->p.cfg_cap;
	uint32_t off = window_off(a), len = PICK(a, lens), v, how = below(a, 8);

	cfg_wr(a, cap + VIRTIO_PCI_CAP_BAR, 1, below(a, 8) ? 0 : rnd(a));
	cfg_wr(a, cap + VIRTIO_PCI_CAP_OFFSET, 4, off);
	cfg_wr(a, cap + VIRTIO_PCI_CAP_LENGTH, 4, len);
	off = pci_cfg_get(&a->p.pci, cap + VIRTIO_PCI_CAP_OFFSET, 4);
	len = pci_cfg_get(&a->p.pci, cap + VIRTIO_PCI_CAP_LENGTH, 4);
	v = window_value(a, off, len);
	TRACE(a, "window %#x/%u %s %#x", off, len, how < 5 ? "write" : "read",
	      v);
	if (how < 5) /* always the whole data field: see cfg_random */
		cfg_wr(a, cap + sizeof(struct virtio_pci_cap), 4, v);
	else
		cfg_access(a, 1, 0, cap + sizeof(struct virtio_pci_cap),
			   1 << below(a, 3), &v, false);
}

/* A random configuration access anywhere; a write into the window's data
 * field is made through pci_window, whose values are sanitised. */
static void cfg_random(struct attack *a)
{
	static const unsigned slots[] = { 1, 1, 1, 1, 1, 1, 0, 2, 31 };
	unsigned slot = PICK(a, slots), fn = below(a, 10) ? 0 : below(a, 8);
	unsigned reg = below(a, 8) ? below(a, 256) : below(a, 0x1000);
	unsigned size = width(a), data = a->p.cfg_cap + 16;
	uint32_t v = (uint32_t)rnd(a);
	bool wr = below(a, 2);

	if (size == 8)
		size = 3; /* refused by both paths */
	if (below(a, 2) && size <= 4)
		reg &= ~(size - 1);
	if (wr && slot == 1 && !fn && reg < data + 4 && reg + size > data) {
		pci_window(a);
		return;
	}
	TRACE(a, "cfg %s %u.%u %#x/%u = %#x", wr ? "write" : "read", slot, fn,
	      reg, size, v);
	cfg_access(a, slot, fn, reg, size, &v, wr);
}

static void cfg_bar(struct attack *a)
{
	static const uint32_t v[] = {
		0xffffffff, 0,		0xc0000000, 0xc0008000, 0xcfff8000,
		0xd0000000, 0x00001000, 0xfee00000, 0xc0000004, 0xc0004000,
	};
	uint32_t x = below(a, 6) ? PICK(a, v) : (uint32_t)rnd(a);
	unsigned bar = below(a, 6) ? 0 : below(a, 6);

	if (below(a, 2))
		x = (uint32_t)(WINDOW + 0x8000ULL * below(a, 0x2000));
	TRACE(a, "BAR %u = %#x", bar, x);
	cfg_wr(a, PCI_BASE_ADDRESS_0 + 4 * bar, 4, x);
}

static void cfg_command(struct attack *a)
{
	uint32_t v = below(a, 10) < 7 ? PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
				      : (uint32_t)rnd(a);

	TRACE(a, "command %#x", v & 0xffff);
	cfg_wr(a, PCI_COMMAND, 2, v);
}

static void cfg_msix(struct attack *a)
{
	static const uint16_t v[] = { PCI_MSIX_FLAGS_ENABLE,
				      PCI_MSIX_FLAGS_ENABLE,
				      PCI_MSIX_FLAGS_ENABLE |
					      PCI_MSIX_FLAGS_MASKALL,
				      PCI_MSIX_FLAGS_MASKALL,
				      0,
				      0xffff };
	unsigned cap = a->p.msix.cap;
	uint16_t x = PICK(a, v);

	TRACE(a, "msix flags %#x", x);
	switch (below(a, 3)) {
	case 0: cfg_wr(a, cap + PCI_MSIX_FLAGS, 2, x); break;
	case 1: cfg_wr(a, cap + PCI_MSIX_FLAGS + 1, 1, x >> 8); break;
	default:
		cfg_wr(a, cap, 4,
		       pci_cfg_get(&a->p.pci, cap, 2) | (uint32_t)x << 16);
	}
}

static void pci_notify_random(struct attack *a)
{
	uint64_t off = VPCI_NOTIFY_OFF + 4ULL * below(a, 0x400);
	unsigned size = width(a);

	bar_wr(a, off, size, rnd(a));
}

static void pci_notify_queue(struct attack *a)
{
	uint32_t at = queue_index(a), v = queue_index(a);

	bar_wr(a, VPCI_NOTIFY_OFF + 4ULL * (at % 4), 2, v);
}

static void pci_op_virtio(struct attack *a, enum op op)
{
	uint8_t s;
	bool reached;

	switch (op) {
	case OP_STATUS:
		s = status_value(a);
		TRACE(a, "status %#x", s);
		reached = bar_wr(a, VIRTIO_PCI_COMMON_STATUS, 1, s);
		check_written_status(a, s, reached);
		break;
	case OP_FEATURES: pci_features(a); break;
	case OP_QSEL:
		bar_wr(a, VIRTIO_PCI_COMMON_Q_SELECT, 2, queue_index(a));
		break;
	case OP_QSIZE:
		bar_wr(a, VIRTIO_PCI_COMMON_Q_SIZE, 2, size_value(a));
		break;
	case OP_QADDR: pci_qaddr(a); break;
	case OP_QREADY:
		s = (uint8_t)below(a, 4);
		TRACE(a, "queue %u enable %u", a->p.queue_sel, s);
		bar_wr(a, VIRTIO_PCI_COMMON_Q_ENABLE, 2, s == 3 ? 0xffff : s);
		break;
	case OP_NOTIFY:
		if (below(a, 2))
			pci_notify_random(a);
		else
			pci_notify_queue(a);
		break;
	default: break;
	}
}

static void pci_op(struct attack *a, enum op op)
{
	switch (op) {
	case OP_CONFIG: pci_bar_random(a, VPCI_DEVICE_OFF, 0x48); break;
	case OP_RANDOM:
		pci_bar_random(a, 0,
			       below(a, 2) ? 0x40 : VPCI_BAR_SIZE + 0x100);
		break;
	case OP_INT:
		if (below(a, 3))
			bar_rd(a, VPCI_ISR_OFF, 1);
		else
			bar_wr(a, VPCI_ISR_OFF + below(a, 4), 1, rnd(a));
		break;
	case OP_VECTORS: pci_vectors(a); break;
	case OP_MSIX_TABLE: pci_msix_table(a); break;
	case OP_CFG_RANDOM: cfg_random(a); break;
	case OP_CFG_COMMAND: cfg_command(a); break;
	case OP_CFG_BAR: cfg_bar(a); break;
	case OP_CFG_MSIX: cfg_msix(a); break;
	case OP_CFG_WINDOW: pci_window(a); break;
	case OP_ROUTE_FAIL:
		a->route_fail = below(a, 2);
		TRACE(a, "route failures %d", a->route_fail);
		break;
	default: pci_op_virtio(a, op); break;
	}
}

static void one_op(struct attack *a)
{
	enum op op = pick_op(a);

	switch (op) {
	case OP_POST: op_post(a); break;
	case OP_REINIT: proper_init(a); break;
	case OP_SLEEP: op_sleep(a); break;
	case OP_HOSTILE_INIT: hostile_init(a); break;
	default:
		if (a->pci)
			pci_op(a, op);
		else
			mmio_op(a, op);
	}
	after_op(a);
}

/* ---- one seed ---- */

static unsigned env_unsigned(const char *name, unsigned dflt)
{
	const char *s = getenv(name);

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

static void setup(struct attack *a)
{
	dummy_virtio_setup(&a->mem, RAM, &a->dummy_vd, &a->dv, 1);
	a->ram = mem_ptr(&a->mem, 0, RAM);
	a->shadow = malloc(RAM);
	cr_assert(a->ram && a->shadow);
	memset(a->ram, CANARY, RAM);
	memset(a->shadow, CANARY, RAM);
	arenas_init(a);
	snprintf(a->path, sizeof(a->path), "/tmp/vmm-test-attack-XXXXXX");
	test_disk_open(&a->blk, a->path, &a->mem, NQ);
	if (!a->pci) {
		virtio_mmio_init(&a->m, &a->blk.vdev, mmio_irq, mmio_notify, a);
		return;
	}
	pci_bus_init(&a->bus, WINDOW, (uint32_t)WINDOW_SIZE);
	cr_assert_eq(virtio_pci_init(&a->p, &a->blk.vdev, &hooks, a), 0);
	cr_assert_eq(pci_bus_attach(&a->bus, &a->p.pci), 1);
	cr_assert_eq(a->p.msix.nvec, NVEC);
}

static void teardown(struct attack *a)
{
	if (a->pci) {
		uint8_t zero = 0;
		a->p.pci.bar_ops[0]->write(&a->p, VIRTIO_PCI_COMMON_STATUS,
					   &zero, 1);
		virtio_pci_destroy(&a->p);
		pci_bus_destroy(&a->bus);
	} else {
		mmio_wr(a, VIRTIO_MMIO_STATUS, 4, 0);
	}
	test_disk_close(&a->blk, a->path);
	mem_destroy(&a->mem);
	free(a->shadow);
}

/* The disk still holds its own bytes: every write wrote them back. */
static void check_disk(struct attack *a)
{
	uint8_t *buf = malloc(TEST_DISK_BYTES);
	int fd = open(a->path, O_RDONLY);

	cr_assert(buf && fd >= 0);
	cr_assert_eq(pread(fd, buf, TEST_DISK_BYTES, 0), TEST_DISK_BYTES);
	for (uint64_t i = 0; i < TEST_DISK_BYTES; i++)
		CHECK(a, buf[i] == test_disk_byte(i), "disk byte %#lx is %#x",
		      i, buf[i]);
	close(fd);
	free(buf);
}

/* After everything: a reset and a fresh set-up serve a read and a write
 * on each queue, with the right data. */
static void final_io(struct attack *a)
{
	drain_sane(a);
	check_ram(a);
	a->op = a->ops;
	proper_init(a);
	for (unsigned q = 0; q < NQ; q++) {
		CHECK(a, post(a, q) && post(a, q), "queue %u: cannot post", q);
		t_kick(a, q);
	}
	drain_sane(a);
	CHECK(a, a->st.reads && a->st.writes, "no request completed");
	reset_device(a);
	check_ram(a);
	check_disk(a);
}

static void report(struct attack *a)
{
	uint64_t drained = 0;

	for (unsigned q = 0; q < NQ; q++)
		drained += a->blk.queues[q].worker.drained;
	if (getenv("VIRTIO_ATTACK_VERBOSE"))
		fprintf(stderr,
			"%s seed %u: %u ops, %u epochs (%u set up by the "
			"driver, %u broken), %u reads, %u writes, %u resets, "
			"%u ops with I/O in flight, %lu requests drained, %u "
			"irqs, %u fires, %u routes, %u racing accesses\n",
			a->pci ? "pci" : "mmio", a->seed, a->ops, a->st.epochs,
			a->st.sane_epochs, a->st.broken, a->st.reads,
			a->st.writes, a->st.resets, a->st.inflight_ops, drained,
			a->irqs, a->fires, a->routes, a->racer_ops);
	CHECK(a, a->st.inflight_ops > a->ops / 20,
	      "only %u operations ran with I/O in flight", a->st.inflight_ops);
	CHECK(a, drained > 0, "no stop ever came with requests in flight");
	CHECK(a, a->st.epochs > a->st.sane_epochs,
	      "no queue ever started on a hostile layout");
	CHECK(a, a->pci ? a->fires > 0 : a->irqs > 0, "no interrupt");
}

/* ---- a second vCPU ----
 *
 * It races the first with accesses that leave the virtio state machine
 * and the queue layout to the first (whose invariants stay exact):
 * notifications of good and bad queues, interrupt acknowledgements,
 * register and configuration reads and, on virtio-pci, memory decoding,
 * BAR moves, MSI-X enable and function mask, vector masks, all through the
 * bus (ECAM only: the 0xCF8 latch belongs to the first vCPU). */
static uint64_t race_rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void race_mmio(struct attack *a, uint64_t r)
{
	static const uint64_t reads[] = {
		VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_STATUS,
		VIRTIO_MMIO_QUEUE_READY,      VIRTIO_MMIO_CONFIG,
		VIRTIO_MMIO_CONFIG + 8,	      VIRTIO_MMIO_DEVICE_FEATURES
	};

	switch (r % 4) {
	case 0: mmio_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 4, (r >> 8) % 4); break;
	case 1: mmio_wr(a, VIRTIO_MMIO_INTERRUPT_ACK, 4, r >> 8); break;
	default: mmio_rd(a, reads[(r >> 8) % N(reads)], 4); break;
	}
}

static void race_cfg(struct attack *a, unsigned reg, unsigned size, uint32_t v)
{
	pci_ecam_ops.write(&a->bus, 1 << 15 | reg, (uint8_t *)&v, size);
}

static void race_pci(struct attack *a, uint64_t r)
{
	unsigned vec = (r >> 8) % NVEC, cap = a->p.msix.cap;
	uint64_t v = r >> 16;

	switch (r % 8) {
	case 0:
		bus_access(a, VPCI_NOTIFY_OFF + 4 * (vec + 1), &v, 2, true);
		break;
	case 1:
		race_cfg(a, PCI_COMMAND, 2,
			 v % 4 ? PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER : 0);
		break;
	case 2:
		race_cfg(a, PCI_BASE_ADDRESS_0, 4,
			 (uint32_t)(WINDOW + 0x8000ULL * (v % 0x2000)));
		break;
	case 3:
		race_cfg(a, cap + PCI_MSIX_FLAGS, 2,
			 PCI_MSIX_FLAGS_ENABLE |
				 (v % 4 ? 0 : PCI_MSIX_FLAGS_MASKALL));
		break;
	case 4:
		v = v % 3 != 0;
		bus_access(a, VPCI_MSIX_TABLE_OFF + 16 * vec + 12, &v, 4, true);
		break;
	case 5: bus_access(a, VPCI_ISR_OFF, &v, 1, false); break;
	case 6: bus_access(a, VPCI_DEVICE_OFF + (v % 64), &v, 4, false); break;
	default: bus_access(a, VPCI_MSIX_PBA_OFF, &v, 8, false); break;
	}
}

static void *racer_main(void *arg)
{
	struct attack *a = arg;
	uint64_t s = a->seed * 0x9e3779b97f4a7c15ULL + 7;

	a->racer_self = pthread_self();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&a->racer_stop, __ATOMIC_ACQUIRE)) {
		uint64_t r = race_rnd(&s);
		if (a->pci)
			race_pci(a, r);
		else
			race_mmio(a, r);
		__atomic_add_fetch(&a->racer_ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void run_seed(bool pci, unsigned seed, bool race)
{
	pthread_t racer;
	struct attack *a = calloc(1, sizeof(*a));
	unsigned tasks = count_threads(), fds = count_entries("/proc/self/fd");

	cr_assert_not_null(a);
	a->pci = pci;
	a->seed = env_unsigned("VIRTIO_ATTACK_SEED", seed);
	a->ops = env_unsigned("VIRTIO_ATTACK_OPS", DEFAULT_OPS);
	a->trace = getenv("VIRTIO_ATTACK_TRACE") != NULL;
	a->rng.s = a->seed * 0x2545f4914f6cdd1dULL + pci;
	a->self = pthread_self();
	a->race = race;
	setup(a);
	proper_init(a);
	if (race)
		cr_assert_eq(pthread_create(&racer, NULL, racer_main, a), 0);
	for (a->op = 1; a->op <= a->ops; a->op++) {
		one_op(a);
		if (a->op % CHECK_EVERY == 0)
			check_ram(a);
	}
	if (race) {
		__atomic_store_n(&a->racer_stop, true, __ATOMIC_RELEASE);
		pthread_join(racer, NULL);
		CHECK(a, a->racer_ops > a->ops, "the racer hardly ran");
		if (a->pci)
			check_bar(a);
	}
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
