/* A hostile driver against virtio-9p, over virtio-mmio and virtio-pci: a
 * seeded, deterministic stream of register accesses of every kind, at
 * every offset and width (configuration space past its 257 bytes too),
 * interleaved with 9P traffic the driver keeps in flight through the
 * device's real queue worker, dispatch and server core on a temporary
 * export: valid requests (Tread of a big file, checked byte for byte,
 * Tgetattr, Twalk, Tclunk, conflicting Tlock, Tflush) mixed with garbage
 * and with chains that lie (no readable or no writable part, a size field
 * that disagrees with the chain, a reply area too small, a Twrite whose
 * count exceeds the chain, a T-message read from the rings themselves,
 * indirect tables) and, now and then, chains that break the queue
 * (descriptors outside RAM, loops, bad indirect tables, a head made
 * available again while in flight). A test handler delays some requests
 * so that resets, QueueReady=0 and DRIVER_OK again meet requests in
 * flight.
 *
 * Checked after every operation: status bits are never lost without a
 * reset, a queue the device starts has a layout it may start, a stopped
 * queue's used ring no longer moves, and in a queue the driver set up
 * itself every used element is a head it made available (once per
 * availability), its length fits the chain's writable part, and a reply
 * of non-zero length has that length in its size field, the request's
 * tag and type T+1 or Rlerror. Periodically and at the end of each seed:
 * guest RAM outside the reply areas and used rings the device was given
 * equals the driver's own copy (canary bytes in all unused RAM) and the
 * dirty log names only pages the device may write; at the end the device,
 * reset and initialised again, serves a clean Tversion, Tattach, Twalk,
 * Tlopen and Tread with the right data, no thread or descriptor leaked,
 * and a directory beside the export and the export's big file are
 * unchanged.
 *
 * Guest memory: arenas 0 and 1 (the queue's), each a descriptor table,
 * an avail ring, a used ring, per-request indirect tables, T-message
 * areas (only ever read by the device) and reply areas (written). Every
 * descriptor the driver writes points into its arena's T or reply areas,
 * so no chain the device could follow, whatever layout a hostile write
 * gives the queue, names a writable buffer outside the reply areas; a
 * descriptor read from canary bytes points outside RAM.
 *
 * Environment: VIRTIO_9P_ATTACK_SEED overrides each test's seed,
 * VIRTIO_9P_ATTACK_OPS the operation count, VIRTIO_9P_ATTACK_TRACE=1
 * prints every operation, VIRTIO_9P_ATTACK_VERBOSE=1 a summary per seed.
 *
 * Threads: the test thread is the only vCPU (plus a racing second one in
 * the race tests); the device's queue worker and dispatch threads run as
 * in the VMM and report through atomics. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/pci_regs.h>
#include <linux/virtio_9p.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dummy_virtio.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "devices/virtio/9p.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "tests/unit/p9_client.h"

#define RAM (8ULL << 20)
#define PAGE ((uint64_t)4096)
#define PAGES (RAM / PAGE)
#define NQ 1
#define NSLOTS 16
#define NARENAS 2
#define ARENA(k) (0x100000ULL + 0x40000ULL * (k))
#define A_DESC 0x0000
#define A_AVAIL 0x1000
#define A_USED 0x2000
#define A_IND 0x3000 /* 64 bytes (4 entries) per slot */
#define A_T 0x4000   /* 4 KiB per slot */
#define A_R 0x20000  /* 8 KiB per slot */
#define T_SIZE 0x1000
#define R_SIZE 0x2000
#define MSIZE 8192
#define SCRATCH(q, k) (0x300000ULL + PAGE * (4 * (q) + (k)))
#define PRISTINE 0x500000ULL
#define CANARY 0xa5
#define POISON 0xee
#define USED_MAX (6 + 8 * V9P_QUEUE_SIZE)
#define WINDOW 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define DEFAULT_OPS 6000
#define CHECK_EVERY 50
#define NVEC (NQ + 1)
#define BIG_SIZE (4u << 20)
#define CONFIG_BYTES (2 + V9P_TAG_MAX)
#define TAG "attack9p"
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
	bool breaking;	 /* the driver posted a chain that breaks it */
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

/* What the driver expects of the reply to one request. */
enum kind {
	K_READ,	     /* Tread of the big file: data checked */
	K_GETATTR,   /* Tgetattr of the root */
	K_WALK,	     /* Twalk to a new fid: Rwalk or Rlerror */
	K_CLUNK,     /* Tclunk of a random fid */
	K_LOCK,	     /* Tlock, conflicting or not */
	K_FLUSH,     /* Tflush of a tag in flight (or not) */
	K_GARBAGE,   /* random bytes, a size field that may lie */
	K_SIZE_LIE,  /* a Tgetattr whose size field disagrees */
	K_WRITE_LIE, /* Twrite whose count exceeds the chain */
	K_SMALL_R,   /* a reply area of 1 to 30 bytes */
	K_NO_IN,     /* no writable part: returned empty */
	K_NO_OUT,    /* no readable part: returned empty */
	K_RING,	     /* the T-message is the arena's own rings */
	K_INDIRECT,  /* a Tgetattr through an indirect table */
	/* These break the queue (or, for K_REUSE, may). */
	K_OUTSIDE, /* a descriptor outside RAM */
	K_LOOP,	   /* a chain that loops */
	K_BAD_IND, /* an indirect table of a bad size */
	K_REUSE,   /* a head made available again while in flight */
	K_SETUP,   /* the driver's own set-up: one reply type expected */
	K_COUNT
};

struct slot {
	unsigned avail; /* availabilities not yet used */
	bool dup;	/* made available twice: reply bytes unchecked */
	enum kind kind;
	uint16_t tag;
	uint8_t type;
	uint32_t rcap; /* bytes of its writable part */
	uint64_t off;  /* K_READ: the file offset */
	uint32_t count;
};

/* The driver's side of one queue it set up. */
struct drvq {
	unsigned arena;
	uint16_t size, nslots, avail_idx, next, tag;
	struct slot s[NSLOTS];
	unsigned outstanding;
	bool indirect; /* negotiated */
};

struct stats {
	unsigned epochs, sane_epochs, replies, errors, empty, reads,
		inflight_ops, resets, reinits, broken, kinds[K_COUNT];
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
	char parent[64], export[128], sibling[128];
	struct v9p dev;
	struct virtio_mmio m;
	struct pci_bus bus;
	struct virtio_pci p;
	/* Hooks, some on device threads: atomics. */
	unsigned irqs, fires, bad_fires, routes, bad_routes, bad_notifies;
	unsigned delayed;
	bool route_fail;
	uint64_t bar_gpa;
	bool bar_mapped;
	uint8_t floor; /* status bits seen since the last reset */
	struct drvq dq[NQ];
	struct epoch ep[NQ];
	struct stopped stopped[NQ];
	struct stats st;
	uint64_t sibling_sum;
	struct p9b b; /* the T-message being built */
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

/* ---- arenas: descriptor tables, rings, T-message and reply areas ---- */

static gpa_t slot_t(unsigned arena, unsigned n)
{
	return ARENA(arena) + A_T + T_SIZE * n;
}

static gpa_t slot_r(unsigned arena, unsigned n)
{
	return ARENA(arena) + A_R + R_SIZE * n;
}

static gpa_t slot_ind(unsigned arena, unsigned n)
{
	return ARENA(arena) + A_IND + 64ULL * n;
}

/* The big file's byte at off. */
static uint8_t big_byte(uint64_t off)
{
	return (uint8_t)(off ^ (off >> 11) ^ 0x3c);
}

static void arenas_init(struct attack *a)
{
	for (unsigned k = 0; k < NARENAS; k++) {
		drv_fill(a, ARENA(k), 0, A_R);
		drv_fill(a, ARENA(k) + A_R, POISON, R_SIZE * NSLOTS);
		allow(a, ARENA(k) + A_R, R_SIZE * NSLOTS);
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
	v9p_kick(&a->dev, q);
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
	return a->dev.vdev.active && a->dev.vdev.vqs[q].ready;
}

static unsigned worker_starts(struct attack *a, unsigned q)
{
	(void)q; /* one queue */
	return __atomic_load_n(&a->dev.worker.starts, __ATOMIC_ACQUIRE);
}

static unsigned used_len(uint16_t size)
{
	return 6 + 8U * size;
}

static void check_layout(struct attack *a, unsigned q, const struct epoch *e)
{
	CHECK(a,
	      e->size && !(e->size & (e->size - 1)) &&
		      e->size <= V9P_QUEUE_SIZE && !(e->desc % 16) &&
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
	const struct virtqueue *vq = &a->dev.vdev.vqs[q];

	e->live = true;
	e->sane = false;
	e->breaking = false;
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
		CHECK(a, el.id < e->size && el.len <= FS9P_MSIZE_MAX,
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
		CHECK(a, !__atomic_load_n(&a->dev.inflight, __ATOMIC_RELAXED),
		      "queue %u stopped with %u requests in flight", q,
		      __atomic_load_n(&a->dev.inflight, __ATOMIC_RELAXED));
	if (a->dev.worker.vq.broken)
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
	const struct virtqueue *vq = &a->dev.vdev.vqs[q];

	CHECK(a, queue_live(a, q) == e->live,
	      "queue %u ready %d, active %d, but its worker %s", q, vq->ready,
	      a->dev.vdev.active, e->live ? "serves" : "does not serve");
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

static bool kind_breaks(const struct drvq *d, enum kind k)
{
	return k == K_OUTSIDE || k == K_LOOP || k == K_BAD_IND ||
	       (k == K_INDIRECT && !d->indirect);
}

/* The reply type a request of kind k may get besides Rlerror; 0: any. */
static uint8_t want_type(const struct slot *s)
{
	switch (s->kind) {
	case K_GARBAGE:
	case K_SIZE_LIE:
	case K_SMALL_R:
	case K_SETUP: return (uint8_t)(s->type + 1);
	case K_RING: return 0;
	case K_WRITE_LIE: return P9_RLERROR;
	default: return (uint8_t)(s->type + 1);
	}
}

/* Rlerror is never the answer to a request the driver knows is fine. */
static bool must_succeed(const struct slot *s)
{
	return s->kind == K_READ || s->kind == K_GETATTR ||
	       s->kind == K_FLUSH || s->kind == K_INDIRECT ||
	       s->kind == K_SETUP;
}

static void check_read_data(struct attack *a, unsigned q, unsigned n,
			    const uint8_t *r, uint32_t len)
{
	const struct slot *s = &a->dq[q].s[n];
	uint32_t got = p9_get32(r + 7);
	uint64_t want = s->off >= BIG_SIZE ? 0 : BIG_SIZE - s->off;

	if (want > s->count)
		want = s->count;
	CHECK(a, got == want && len == 11 + got,
	      "Tread of %u at %#lx: %u bytes in a reply of %u", s->count,
	      s->off, got, len);
	for (uint32_t i = 0; i < got; i++)
		CHECK(a, r[11 + i] == big_byte(s->off + i),
		      "Tread at %#lx: byte %u is %#x", s->off, i, r[11 + i]);
	a->st.reads++;
}

/* A reply of len bytes in slot n's reply area, as its kind allows. */
static void check_reply(struct attack *a, unsigned q, unsigned n, uint32_t len)
{
	const struct slot *s = &a->dq[q].s[n];
	const uint8_t *r = a->ram + slot_r(a->dq[q].arena, n);
	uint8_t want = want_type(s);

	CHECK(a, len >= FS9P_HDR_SIZE && p9_get32(r) == len,
	      "slot %u (kind %u): used length %u, size field %u", n, s->kind,
	      len, len >= 4 ? p9_get32(r) : 0);
	CHECK(a, mem_page_dirty(&a->mem, slot_r(a->dq[q].arena, n)),
	      "slot %u: reply page not marked dirty", n);
	if (s->kind == K_RING)
		return;
	CHECK(a, p9_get16(r + 5) == s->tag, "slot %u: reply tag %u, sent %u", n,
	      p9_get16(r + 5), s->tag);
	if (r[4] == P9_RLERROR) {
		CHECK(a, len == 11 && !must_succeed(s),
		      "slot %u (kind %u, type %u): Rlerror %u of %u bytes", n,
		      s->kind, s->type, p9_get32(r + 7), len);
		a->st.errors++;
		return;
	}
	CHECK(a, r[4] == want, "slot %u (kind %u): reply type %u to %u", n,
	      s->kind, r[4], s->type);
	if (s->kind == K_READ)
		check_read_data(a, q, n, r, len);
}

static void complete(struct attack *a, unsigned q,
		     const struct vring_used_elem *el)
{
	struct drvq *d = &a->dq[q];
	unsigned n = el->id / 4;
	struct slot *s = &d->s[n];

	CHECK(a, el->id % 4 == 0 && n < d->nslots && s->avail,
	      "queue %u: used id %u was not made available (%u slots)", q,
	      el->id, d->nslots);
	CHECK(a, el->len <= s->rcap,
	      "slot %u (kind %u): used length %u, writable part %u", n, s->kind,
	      el->len, s->rcap);
	if (s->kind == K_NO_IN || s->kind == K_NO_OUT ||
	    (s->kind == K_SMALL_R && s->rcap < 11))
		CHECK(a, el->len == 0, "slot %u (kind %u): used length %u", n,
		      s->kind, el->len);
	if (el->len && !s->dup)
		check_reply(a, q, n, el->len);
	else if (!el->len)
		a->st.empty++;
	a->st.replies++;
	s->avail--;
	d->outstanding--;
}

static void desc(struct attack *a, gpa_t table, unsigned i, uint64_t addr,
		 uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc v = { addr, len, flags, next };

	drv_write(a, table + 16ULL * i, &v, sizeof(v));
}

/* Descriptors i.. of table: `tlen` readable bytes at t (in one or two
 * pieces), then `rlen` writable bytes at r (one or two); the count. */
static unsigned lay_chain(struct attack *a, gpa_t table, unsigned i, gpa_t t,
			  uint32_t tlen, gpa_t r, uint32_t rlen)
{
	unsigned k = 0, first = i;
	uint32_t ts =
		tlen > 1 && below(a, 3) == 0 ? 1 + below(a, tlen - 1) : tlen;
	uint32_t rs =
		rlen > 1 && below(a, 3) == 0 ? 1 + below(a, rlen - 1) : rlen;
	struct {
		uint64_t addr;
		uint32_t len;
		bool w;
	} seg[4];

	if (tlen)
		seg[k++] = (typeof(seg[0])){ t, ts, false };
	if (tlen && ts < tlen)
		seg[k++] = (typeof(seg[0])){ t + ts, tlen - ts, false };
	if (rlen)
		seg[k++] = (typeof(seg[0])){ r, rs, true };
	if (rlen && rs < rlen)
		seg[k++] = (typeof(seg[0])){ r + rs, rlen - rs, true };
	for (unsigned j = 0; j < k; j++)
		desc(a, table, first + j, seg[j].addr, seg[j].len,
		     (uint16_t)((j + 1 < k ? VRING_DESC_F_NEXT : 0) |
				(seg[j].w ? VRING_DESC_F_WRITE : 0)),
		     (uint16_t)(first + j + 1));
	return k;
}

static void build_lock(struct attack *a, struct slot *s)
{
	struct p9b *b = &a->b;
	bool w = below(a, 2);

	p9_begin(b, 52, s->tag);
	p9_u32(b, w ? 2 : 3);
	p9_u8(b, below(a, 3) ? (w ? 1 : 0) : 2); /* WRLCK/RDLCK or UNLCK */
	p9_u32(b, below(a, 2));
	p9_u64(b, below(a, 4) * 100);
	p9_u64(b, below(a, 3) * 100);
	p9_u32(b, 42);
	p9_str(b, "attack");
	p9_end(b);
}

static void build_getattr(struct attack *a, uint16_t tag)
{
	p9_begin(&a->b, 24, tag);
	p9_u32(&a->b, 0);
	p9_u64(&a->b, 0x7ff);
	p9_end(&a->b);
}

static uint16_t busy_tag(struct attack *a, unsigned q)
{
	const struct drvq *d = &a->dq[q];
	unsigned n = below(a, d->nslots);

	return d->s[n].avail && below(a, 4) ? d->s[n].tag : (uint16_t)rnd(a);
}

/* The T-message of slot s's kind into a->b. */
static void build(struct attack *a, unsigned q, struct slot *s)
{
	static const char *const names[] = { "big", "dir",  "..",
					     ".",   "nope", "lockme" };
	struct p9b *b = &a->b;

	switch (s->kind) {
	case K_READ:
		s->count = 1 + below(a, MSIZE - 11);
		s->off = below(a, 8) ? below(a, BIG_SIZE - s->count)
				     : BIG_SIZE - below(a, 3 * s->count);
		p9_tread(b, s->tag, 1, s->off, s->count);
		break;
	case K_WALK:
		p9_twalk(b, s->tag, 0, 100 + below(a, 1000), PICK(a, names));
		break;
	case K_CLUNK: p9_tclunk(b, s->tag, 100 + below(a, 1000)); break;
	case K_LOCK: build_lock(a, s); break;
	case K_FLUSH: p9_tflush(b, s->tag, busy_tag(a, q)); break;
	case K_GARBAGE:
		b->len = below(a, 200);
		for (size_t i = 0; i < b->len; i++)
			b->buf[i] = (uint8_t)rnd(a);
		if (b->len >= 7 && below(a, 2))
			p9_end(b);
		break;
	case K_WRITE_LIE:
		p9_begin(b, P9_TWRITE, s->tag);
		p9_u32(b, 1);
		p9_u64(b, 0);
		p9_u32(b, 0);
		p9_data(b, "lie", 3);
		p9_end(b);
		/* count 4 .. 2^32: more than the 3 bytes it holds */
		b->buf[19] = 4 + (uint8_t)below(a, 200);
		b->buf[22] = below(a, 2) ? 0xff : 0;
		break;
	default: build_getattr(a, s->tag); break;
	}
	if (s->kind == K_SIZE_LIE) {
		uint32_t v = below(a, 2) ? (uint32_t)rnd(a)
					 : (uint32_t)b->len + below(a, 9) - 4;
		memcpy(b->buf, &v, 4);
	}
}

/* Writes the message into slot n's T area and its chain's descriptors
 * (4n .. 4n + 3, or an indirect table); the head. */
static void lay(struct attack *a, unsigned q, unsigned n, struct slot *s)
{
	struct drvq *d = &a->dq[q];
	gpa_t table = ARENA(d->arena) + A_DESC, t = slot_t(d->arena, n);
	gpa_t r = slot_r(d->arena, n), ind = slot_ind(d->arena, n);
	uint32_t tlen = (uint32_t)a->b.len;
	unsigned i = 4 * n;

	drv_write(a, t, a->b.buf, a->b.len);
	s->rcap = below(a, 4) ? R_SIZE : MSIZE;
	switch (s->kind) {
	case K_SMALL_R: s->rcap = 1 + below(a, 30); break;
	case K_NO_IN: s->rcap = 0; break;
	case K_NO_OUT: tlen = 0; break;
	case K_RING:
		t = ARENA(d->arena) + (below(a, 2) ? A_DESC : A_AVAIL);
		tlen = 7 + below(a, 200);
		break;
	case K_OUTSIDE:
		t = below(a, 2) ? RAM + PAGE : 0xa5a5a5a5a5a5a000ULL;
		break;
	default: break;
	}
	if (s->kind == K_NO_OUT)
		s->rcap = R_SIZE;
	if (s->kind == K_INDIRECT || s->kind == K_BAD_IND) {
		unsigned k = lay_chain(a, ind, 0, t, tlen, r, s->rcap);
		desc(a, table, i, ind,
		     s->kind == K_BAD_IND ? (below(a, 2) ? 15 : 0) : 16 * k,
		     VRING_DESC_F_INDIRECT, 0);
	} else {
		lay_chain(a, table, i, t, tlen, r, s->rcap);
	}
	if (s->kind == K_LOOP)
		desc(a, table, i, t, tlen, VRING_DESC_F_NEXT, (uint16_t)i);
}

static enum kind pick_kind(struct attack *a)
{
	/* Breaking chains rarely: most epochs should live long. */
	static const unsigned w[K_COUNT] = { 90, 30, 24, 15, 18, 12, 24,
					     12, 9,  12, 6,  6,	 6,  8,
					     1,	 1,  1,	 1,  0 };
	unsigned total = 0, r;

	for (unsigned k = 0; k < K_COUNT; k++)
		total += w[k];
	r = below(a, total);
	for (unsigned k = 0; k < K_COUNT; k++) {
		if (r < w[k])
			return (enum kind)k;
		r -= w[k];
	}
	return K_READ;
}

static void make_available(struct attack *a, unsigned q, unsigned n)
{
	struct drvq *d = &a->dq[q];
	gpa_t base = ARENA(d->arena);
	uint16_t head = (uint16_t)(4 * n);

	drv_write(a, base + A_AVAIL + 4 + 2ULL * (d->avail_idx % d->size),
		  &head, 2);
	drv_store16(a, base + A_AVAIL + 2, ++d->avail_idx);
	d->s[n].avail++;
	d->outstanding++;
}

/* Makes a request of kind k available in a free slot of queue q; false
 * if none (or the queue is not the driver's, or is being broken). */
static bool post_kind(struct attack *a, unsigned q, enum kind k, uint8_t type)
{
	struct drvq *d = &a->dq[q];
	struct epoch *e = &a->ep[q];
	unsigned n = 0, i;

	if (!e->live || !e->sane || e->breaking)
		return false;
	if (k == K_REUSE) {
		n = below(a, d->nslots);
		if (!d->s[n].avail)
			return false;
		d->s[n].dup = true;
		e->breaking = true; /* it may break the queue, or not */
		a->st.kinds[k]++;
		make_available(a, q, n);
		return true;
	}
	for (i = 0; i < d->nslots; i++) {
		n = (d->next + i) % d->nslots;
		if (!d->s[n].avail)
			break;
	}
	if (i == d->nslots)
		return false;
	d->next = (uint16_t)(n + 1);
	d->s[n] = (struct slot){ .kind = k, .tag = ++d->tag };
	if (d->tag == P9_NOTAG)
		d->s[n].tag = d->tag = 0;
	if (k == K_SETUP) { /* the caller's message, with this tag */
		a->b.buf[5] = (uint8_t)d->s[n].tag;
		a->b.buf[6] = (uint8_t)(d->s[n].tag >> 8);
	} else {
		build(a, q, &d->s[n]);
	}
	d->s[n].type = k == K_SETUP   ? (uint8_t)(type - 1)
		       : a->b.len > 4 ? a->b.buf[4]
				      : 0;
	if (k == K_GARBAGE) /* no tag: the server answers NOTAG */
		d->s[n].tag = a->b.len >= 7 ? p9_get16(a->b.buf + 5) : P9_NOTAG;
	drv_fill(a, slot_r(d->arena, n), POISON, R_SIZE);
	lay(a, q, n, &d->s[n]);
	if (kind_breaks(d, k))
		e->breaking = true;
	a->st.kinds[k]++;
	make_available(a, q, n);
	return true;
}

static bool post(struct attack *a, unsigned q)
{
	return post_kind(a, q, pick_kind(a), 0);
}

static bool queue_broken(struct attack *a, unsigned q)
{
	(void)q;
	return __atomic_load_n(&a->dev.worker.vq.broken, __ATOMIC_ACQUIRE);
}

/* Waits until every request of a queue the driver set up completed:
 * whatever the hostile writes did, such a queue keeps serving, unless
 * the driver itself broke it (then what is not used by now never is). */
static void drain_sane(struct attack *a)
{
	struct timespec t = { 0, 200000 };

	for (unsigned q = 0; q < NQ; q++) {
		struct epoch *e = &a->ep[q];
		struct drvq *d = &a->dq[q];
		if (!e->live || !e->sane || !d->outstanding)
			continue;
		v9p_kick(&a->dev, q); /* as the ioeventfd would */
		for (unsigned i = 0; i < 25000 && d->outstanding; i++) {
			poll_used(a, q);
			if (d->outstanding && e->breaking &&
			    queue_broken(a, q) && i > 50)
				break;
			if (d->outstanding)
				nanosleep(&t, NULL);
		}
		if (e->breaking && d->outstanding) {
			CHECK(a, queue_broken(a, q),
			      "queue %u: %u requests left, not broken", q,
			      d->outstanding);
			e->sane = false; /* what is left is lost */
			a->st.broken++;
			continue;
		}
		CHECK(a, !d->outstanding,
		      "queue %u: %u requests never completed (used idx %u, "
		      "broken %d)",
		      q, d->outstanding, load16(a, e->used + 2),
		      queue_broken(a, q));
	}
}

/* One request of the driver's set-up, waited for: its reply must be
 * `type`. */
static void sync_rpc(struct attack *a, uint8_t type)
{
	unsigned before = a->st.errors;

	p9_end(&a->b);
	CHECK(a, post_kind(a, 0, K_SETUP, type), "set-up: no free slot");
	t_kick(a, 0);
	drain_sane(a);
	CHECK(a, a->st.errors == before, "set-up request %u failed", type - 1);
}

/* What a Linux client does after probing: version, attach, walks and
 * opens (fid 1: the big file; fids 2 and 3: one file opened twice, for
 * conflicting locks). */
static void session_init(struct attack *a)
{
	static const struct {
		uint32_t fid;
		const char *name;
		uint32_t flags;
	} opens[] = { { 1, "big", 0 }, { 2, "lockme", 2 }, { 3, "lockme", 0 } };

	p9_tversion(&a->b, MSIZE);
	sync_rpc(a, 101);
	p9_tattach(&a->b, 0, 0);
	sync_rpc(a, 105);
	for (unsigned i = 0; i < N(opens); i++) {
		p9_twalk(&a->b, 0, 0, opens[i].fid, opens[i].name);
		sync_rpc(a, 111);
		p9_tlopen(&a->b, 0, opens[i].fid, opens[i].flags);
		sync_rpc(a, 13);
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
		if (__atomic_load_n(&a->dev.inflight, __ATOMIC_RELAXED))
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
	uint32_t lo = 1u << VIRTIO_9P_MOUNT_TAG;

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
	static const uint16_t sizes[] = { 16, 16, 32, 64, 128, 128 };
	struct drvq *d = &a->dq[q];
	gpa_t base, g[3];
	uint64_t ready;

	memset(d, 0, sizeof(*d));
	d->arena = 2 * q + below(a, 2);
	d->size = PICK(a, sizes);
	d->nslots = d->size / 4 < NSLOTS ? d->size / 4 : NSLOTS;
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
		CHECK(a,
		      !__atomic_load_n(&a->dev.inflight, __ATOMIC_RELAXED) &&
			      !a->ep[q].live,
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
		a->dq[q].indirect = lo & 1u << VIRTIO_RING_F_INDIRECT_DESC;
	}
	a->st.sane_epochs += NQ;
	a->st.reinits++;
	session_init(a);
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
	case OP_CONFIG: mmio_random(a, VIRTIO_MMIO_CONFIG, 0x130); break;
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
	case OP_CONFIG: pci_bar_random(a, VPCI_DEVICE_OFF, 0x130); break;
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

/* The dispatch's handler: some Treads and Tgetattrs are held a little,
 * chosen by tag, so that register writes meet requests in flight. */
static size_t slow_handle(void *ctx, struct fs9p_session *s,
			  const struct fs9p_msg *m)
{
	struct attack *a = ctx;
	uint8_t type;
	uint16_t tag, old;

	if (!fs9p_peek(m, &type, &tag, &old) &&
	    ((type == P9_TREAD && tag % 3 == 0) ||
	     (type == 24 && !(tag % 7)))) {
		struct timespec t = { 0, 300000 + 400000L * (tag % 5) };
		__atomic_add_fetch(&a->delayed, 1, __ATOMIC_RELAXED);
		nanosleep(&t, NULL);
	}
	return fs9p_handle(s, m);
}

static void write_host_file(const char *path, const uint8_t *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* Names, modes, sizes and contents of everything under dir, in readdir
 * order of a sorted scan. */
static uint64_t tree_sum(const char *dir)
{
	struct dirent **ents;
	uint64_t h = 1469598103934665603ULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	cr_assert(n >= 0, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX], buf[4096];
		struct stat st;
		int fd;
		ssize_t k;
		snprintf(p, sizeof(p), "%s/%s", dir, ents[i]->d_name);
		h = fnv(h, ents[i]->d_name, strlen(ents[i]->d_name));
		cr_assert_eq(lstat(p, &st), 0);
		h = fnv(h, &st.st_mode, sizeof(st.st_mode));
		h = fnv(h, &st.st_size, sizeof(st.st_size));
		if (S_ISREG(st.st_mode) && (fd = open(p, O_RDONLY)) >= 0) {
			while ((k = read(fd, buf, sizeof(buf))) > 0)
				h = fnv(h, buf, (size_t)k);
			close(fd);
		}
		free(ents[i]);
	}
	free(ents);
	return h;
}

/* parent/export (the big file, the lock file, a directory) and
 * parent/sibling, which nothing may change. */
static void make_export(struct attack *a)
{
	uint8_t *buf = malloc(BIG_SIZE);
	char p[256];

	cr_assert_not_null(buf);
	snprintf(a->parent, sizeof(a->parent), "/tmp/vmm-9p-attack-XXXXXX");
	cr_assert_not_null(mkdtemp(a->parent));
	snprintf(a->export, sizeof(a->export), "%s/export", a->parent);
	snprintf(a->sibling, sizeof(a->sibling), "%s/sibling", a->parent);
	cr_assert_eq(mkdir(a->export, 0755), 0);
	cr_assert_eq(mkdir(a->sibling, 0755), 0);
	for (uint64_t i = 0; i < BIG_SIZE; i++)
		buf[i] = big_byte(i);
	snprintf(p, sizeof(p), "%s/big", a->export);
	write_host_file(p, buf, BIG_SIZE);
	snprintf(p, sizeof(p), "%s/lockme", a->export);
	write_host_file(p, buf, 4096);
	snprintf(p, sizeof(p), "%s/dir", a->export);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/secret", a->sibling);
	write_host_file(p, buf + 100, 1000);
	snprintf(p, sizeof(p), "%s/other", a->sibling);
	write_host_file(p, buf + 7, 33);
	a->sibling_sum = tree_sum(a->sibling);
	free(buf);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

/* The export's files are as made, the sibling directory unchanged. */
static void check_host(struct attack *a)
{
	char p[256];
	uint8_t *buf = malloc(BIG_SIZE);
	int fd;

	snprintf(p, sizeof(p), "%s/big", a->export);
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0 && buf);
	cr_assert_eq(pread(fd, buf, BIG_SIZE, 0), BIG_SIZE);
	close(fd);
	for (uint64_t i = 0; i < BIG_SIZE; i++)
		CHECK(a, buf[i] == big_byte(i), "big file byte %#lx is %#x", i,
		      buf[i]);
	free(buf);
	CHECK(a, tree_sum(a->sibling) == a->sibling_sum,
	      "the directory beside the export changed");
}

static void setup(struct attack *a)
{
	struct v9p_config cfg = { .tag = TAG };

	dummy_virtio_setup(&a->mem, RAM, &a->dummy_vd, &a->dv, 1);
	a->ram = mem_ptr(&a->mem, 0, RAM);
	a->shadow = malloc(RAM);
	cr_assert(a->ram && a->shadow);
	memset(a->ram, CANARY, RAM);
	memset(a->shadow, CANARY, RAM);
	arenas_init(a);
	make_export(a);
	cfg.path = a->export;
	cr_assert_eq(v9p_init(&a->dev, &cfg, 0, &a->mem), 0);
	a->dev.dispatch.cfg.handle_ctx = a; /* workers idle: no request yet */
	a->dev.dispatch.cfg.handle = slow_handle;
	if (!a->pci) {
		virtio_mmio_init(&a->m, &a->dev.vdev, mmio_irq, mmio_notify, a);
		return;
	}
	pci_bus_init(&a->bus, WINDOW, (uint32_t)WINDOW_SIZE);
	cr_assert_eq(virtio_pci_init(&a->p, &a->dev.vdev, &hooks, a), 0);
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
	v9p_destroy(&a->dev);
	mem_destroy(&a->mem);
	free(a->shadow);
	check_host(a);
	nftw(a->parent, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Configuration space at every offset and width, read and written, from
 * the transport: le16 tag length, the tag, zeros; past its 257 bytes
 * reads give nothing of the device (and never crash); writes change
 * nothing. */
static void config_sweep(struct attack *a)
{
	static const unsigned widths[] = { 1, 2, 4, 8 };
	uint8_t want[CONFIG_BYTES + 64] = { sizeof(TAG) - 1, 0 };

	memcpy(want + 2, TAG, sizeof(TAG) - 1);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned off = 0; off < CONFIG_BYTES + 40; off++)
			for (unsigned w = 0; w < N(widths); w++) {
				uint64_t v = 0, o = off;
				unsigned size = widths[w];
				if (pass) {
					if (a->pci)
						bar_wr(a, VPCI_DEVICE_OFF + o,
						       size, rnd(a));
					else
						mmio_wr(a,
							VIRTIO_MMIO_CONFIG + o,
							size, rnd(a));
				}
				v = a->pci ? bar_rd(a, VPCI_DEVICE_OFF + o,
						    size)
					   : mmio_rd(a, VIRTIO_MMIO_CONFIG + o,
						     size);
				if (off + size <= CONFIG_BYTES)
					CHECK(a, !memcmp(&v, want + off, size),
					      "config %u/%u reads %#lx", off,
					      size, v);
			}
}

/* After everything: a reset and a fresh set-up serve the 9P a Linux
 * client starts with, and a read with the right data. */
static void final_io(struct attack *a)
{
	drain_sane(a);
	check_ram(a);
	a->op = a->ops;
	proper_init(a);
	CHECK(a, post_kind(a, 0, K_READ, 0), "cannot post a read");
	t_kick(a, 0);
	drain_sane(a);
	CHECK(a, a->st.reads, "no read completed");
	reset_device(a);
	check_ram(a);
}

static void report(struct attack *a)
{
	if (getenv("VIRTIO_9P_ATTACK_VERBOSE"))
		fprintf(stderr,
			"%s seed %u: %u ops, %u epochs (%u set up by the "
			"driver, %u broken by it), %u replies (%u Rlerror, %u "
			"empty), %u reads checked, %u resets, %u ops with "
			"requests in flight, %lu requests drained, %u delayed, "
			"%u irqs, %u fires, %u racing accesses\n",
			a->pci ? "pci" : "mmio", a->seed, a->ops, a->st.epochs,
			a->st.sane_epochs, a->st.broken, a->st.replies,
			a->st.errors, a->st.empty, a->st.reads, a->st.resets,
			a->st.inflight_ops, a->dev.worker.drained, a->delayed,
			a->irqs, a->fires, a->racer_ops);
	CHECK(a, a->st.inflight_ops > a->ops / 50,
	      "only %u operations ran with requests in flight",
	      a->st.inflight_ops);
	CHECK(a, a->dev.worker.drained > 0,
	      "no stop ever came with requests in flight");
	CHECK(a, a->st.epochs > a->st.sane_epochs,
	      "no queue ever started on a hostile layout");
	CHECK(a, a->st.reads > 10 && a->st.errors > 10 && a->st.empty > 5,
	      "too little traffic: %u reads, %u errors, %u empty", a->st.reads,
	      a->st.errors, a->st.empty);
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
	a->seed = env_unsigned("VIRTIO_9P_ATTACK_SEED", seed);
	a->ops = env_unsigned("VIRTIO_9P_ATTACK_OPS", DEFAULT_OPS);
	a->trace = getenv("VIRTIO_9P_ATTACK_TRACE") != NULL;
	a->rng.s = a->seed * 0x2545f4914f6cdd1dULL + pci;
	a->self = pthread_self();
	a->race = race;
	setup(a);
	if (pci)
		pci_enable(a);
	config_sweep(a);
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
	Test(virtio_9p_attack, transport##_seed_##seed, .timeout = 120)        \
	{                                                                      \
		run_seed(is_pci, seed, false);                                 \
	}

/* The same with a second vCPU racing the first. */
#define ATTACK_RACE(transport, is_pci, seed)                                   \
	Test(virtio_9p_attack, transport##_race_seed_##seed, .timeout = 120)   \
	{                                                                      \
		run_seed(is_pci, seed, true);                                  \
	}

ATTACK(mmio, false, 1)
ATTACK(mmio, false, 2)
ATTACK(pci, true, 1)
ATTACK(pci, true, 2)
ATTACK_RACE(mmio, false, 3)
ATTACK_RACE(pci, true, 3)
