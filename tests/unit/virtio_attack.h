/* The device-independent half of the hostile-driver tests of virtio
 * devices (test_virtio_attack.c: virtio-blk; test_virtio_9p_attack.c:
 * virtio-9p): a seeded, deterministic stream of register accesses of every
 * kind, at every offset and width, over virtio-mmio and virtio-pci, and a
 * racing second vCPU; the driver's own probe and queue set-up; guest RAM
 * mirrored in a shadow copy the device may only differ from where it was
 * given room; the epochs of each queue's worker. The test file embeds
 * struct attack_core as the first member of its struct attack and gives,
 * in a struct attack_device, its device's requests: how to post one, how
 * to check one that was used, the driver's full set-up.
 *
 * Guest memory: arena k (0x100000 + 0x40000 k) holds a descriptor table
 * (A_DESC), an avail ring (A_AVAIL) and a used ring (A_USED); queue q uses
 * arenas 2q and 2q + 1, the rest of each arena is the test's. The ring
 * addresses a hostile write may choose come from candidate sets chosen so
 * that no chain the device could follow names a buffer outside the arenas
 * (canary pages, PRISTINE, SCRATCH, or not RAM at all).
 *
 * Threads: the test thread is the first vCPU; racer_main runs the second
 * in race tests; the device's threads reach this state only through the
 * hooks, which count with atomics. */
#ifndef TESTS_UNIT_VIRTIO_ATTACK_H
#define TESTS_UNIT_VIRTIO_ATTACK_H

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dummy_virtio.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/queue_worker.h"

#define RAM (8ULL << 20)
#define PAGE ((uint64_t)4096)
#define PAGES (RAM / PAGE)
#define ARENA(k) (0x100000ULL + 0x40000ULL * (k))
#define A_DESC 0x0000
#define A_AVAIL 0x1000
#define A_USED 0x2000
#define SCRATCH(q, k) (0x300000ULL + PAGE * (4 * (q) + (k)))
#define PRISTINE 0x500000ULL
#define CANARY 0xa5
#define POISON 0xee
#define ATTACK_NQ_MAX 2
#define USED_MAX (6 + 8 * VIRTIO_QUEUE_SIZE)
#define WINDOW 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define CHECK_EVERY 50
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

/* Counts of every device; the test keeps its own besides. */
struct attack_stats {
	unsigned epochs, sane_epochs, inflight_ops, resets, reinits, broken;
};

struct attack_core;

/* The device under attack, as the shared machinery needs it. The
 * functions run on the vCPU (test) thread, except kick: on either vCPU. */
struct attack_device {
	const char *env;       /* prefix of the environment variables */
	unsigned nq;	       /* queues: 1 .. ATTACK_NQ_MAX */
	unsigned queue_max;    /* QueueNumMax */
	unsigned used_len_max; /* the most a used element may say written */
	unsigned feature;      /* a device feature bit the driver takes */
	unsigned config_span;  /* configuration bytes the attack covers */
	unsigned default_ops;
	/* A notification of queue q reached the device. */
	void (*kick)(struct attack_core *c, unsigned q);
	/* Requests of queue q made available and not used yet. */
	unsigned (*outstanding)(struct attack_core *c, unsigned q);
	/* A used element of a queue the driver set up: checked, retired. */
	void (*complete)(struct attack_core *c, unsigned q,
			 const struct vring_used_elem *el);
	/* Makes a request of queue q available; false if none can be. */
	bool (*post)(struct attack_core *c, unsigned q);
	/* What a Linux driver does at probe, checked. */
	void (*proper_init)(struct attack_core *c);
};

/* One seed's state, the first member of the test's struct attack (the
 * device callbacks cast back to it). */
struct attack_core {
	const struct attack_device *dev;
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
	/* The device's, set by the test before attack_transport_init. */
	struct virtio_dev *vdev;
	struct vq_worker *worker[ATTACK_NQ_MAX];
	unsigned *inflight[ATTACK_NQ_MAX]; /* host I/O: read racily */
	struct virtio_mmio m;
	struct pci_bus bus;
	struct virtio_pci p;
	/* Hooks, some on device threads: atomics. */
	unsigned irqs, fires, bad_fires, routes, bad_routes, bad_notifies;
	bool route_fail;
	uint64_t bar_gpa;
	bool bar_mapped;
	uint8_t floor; /* status bits seen since the last reset */
	struct epoch ep[ATTACK_NQ_MAX];
	struct stopped stopped[ATTACK_NQ_MAX];
	struct attack_stats st;
	char msg[512];
};

#define FAIL(c, ...)                                                           \
	do {                                                                   \
		snprintf((c)->msg, sizeof((c)->msg), __VA_ARGS__);             \
		cr_assert_fail("%s seed %u op %u: %s",                         \
			       (c)->pci ? "pci" : "mmio", (c)->seed, (c)->op,  \
			       (c)->msg);                                      \
	} while (0)

#define CHECK(c, cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			FAIL(c, __VA_ARGS__);                                  \
	} while (0)

#define TRACE(c, ...)                                                          \
	do {                                                                   \
		if ((c)->trace) {                                              \
			snprintf((c)->msg, sizeof((c)->msg), __VA_ARGS__);     \
			fprintf(stderr, "op %u: %s\n", (c)->op, (c)->msg);     \
		}                                                              \
	} while (0)

/* MSI-X vectors: one per queue and the configuration vector. */
static inline unsigned nvec(const struct attack_core *c)
{
	return c->dev->nq + 1;
}

/* ---- randomness: splitmix64, one stream per seed ---- */

static inline uint64_t rnd(struct attack_core *c)
{
	uint64_t z = (c->rng.s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline unsigned below(struct attack_core *c, unsigned n)
{
	return (unsigned)(rnd(c) % n);
}

#define PICK(c, arr) ((arr)[below((c), N(arr))])

static inline unsigned width(struct attack_core *c)
{
	static const unsigned w[] = { 1, 2, 4, 4, 8 };

	return PICK(c, w);
}

/* ---- the driver's writes into guest RAM, mirrored in the shadow ---- */

static inline void drv_write(struct attack_core *c, gpa_t gpa, const void *src,
			     size_t len)
{
	CHECK(c, gpa + len <= RAM, "driver write outside RAM");
	memcpy(c->ram + gpa, src, len);
	memcpy(c->shadow + gpa, src, len);
}

static inline void drv_fill(struct attack_core *c, gpa_t gpa, int byte,
			    size_t len)
{
	CHECK(c, gpa + len <= RAM, "driver fill outside RAM");
	memset(c->ram + gpa, byte, len);
	memset(c->shadow + gpa, byte, len);
}

static inline void drv_store16(struct attack_core *c, gpa_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)(c->ram + gpa), v, __ATOMIC_RELEASE);
	memcpy(c->shadow + gpa, &v, 2);
}

static inline uint16_t load16(struct attack_core *c, gpa_t gpa)
{
	return __atomic_load_n((uint16_t *)(c->ram + gpa), __ATOMIC_ACQUIRE);
}

/* The device may write [gpa, gpa + len) (per page, a covering extent). */
static inline void allow(struct attack_core *c, gpa_t gpa, uint64_t len)
{
	while (len) {
		struct extent *e = &c->ext[gpa / PAGE];
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

/* ---- ring addresses a hostile driver offers ---- */

static inline gpa_t bad_addr(struct attack_core *c)
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
	uint64_t r = rnd(c);

	return r & 1 ? bad[(r >> 1) % N(bad)] : (r | 1ULL << 63);
}

static inline gpa_t cand_desc(struct attack_core *c, gpa_t arena, unsigned r)
{
	static const unsigned skew[] = { 0, 0, 0, 0, 16, 32 };

	switch (r) {
	case 0:
	case 1:
	case 2:
	case 3: return arena + A_DESC + PICK(c, skew);
	case 4: return PRISTINE + 16ULL * below(c, 4);
	case 5: return arena + A_DESC + 8; /* misaligned */
	default: return RAM - 0x10; /* canary at size 1, else past the end */
	}
}

static inline gpa_t cand_avail(struct attack_core *c, gpa_t arena, unsigned r)
{
	switch (r) {
	case 0:
	case 1:
	case 2: return arena + A_AVAIL;
	case 3: return arena + A_USED; /* what the device writes */
	case 4: return PRISTINE + PAGE;
	case 5: return arena + A_AVAIL + 1; /* misaligned */
	default: return RAM - 2 * (1 + below(c, 8));
	}
}

static inline gpa_t cand_used(struct attack_core *c, unsigned q, gpa_t arena,
			      unsigned r)
{
	switch (r) {
	case 0:
	case 1:
	case 2: return arena + A_USED;
	case 3: return arena + A_USED + 4;
	case 4: return SCRATCH(q, below(c, 4));
	case 5: return arena + A_USED + 2; /* misaligned */
	default:
		/* Past the end of RAM from size 32 (queue 0) or at once. */
		return q ? RAM - 8 : RAM - 0x100;
	}
}

/* An address for ring of queue q: its own arenas, canary pages, or not
 * RAM at all; never a page another queue's device side writes. */
static inline gpa_t cand(struct attack_core *c, enum ring ring, unsigned q)
{
	unsigned nq = c->dev->nq;
	gpa_t arena = ARENA(2 * (q % nq) + below(c, 2));
	unsigned r = below(c, 10);

	if (r >= 7)
		return bad_addr(c);
	if (ring == R_DESC)
		return cand_desc(c, arena, r);
	if (ring == R_AVAIL)
		return cand_avail(c, arena, r);
	return cand_used(c, q % nq, arena, r);
}

/* An address of ring of queue q the device should accept (aligned, in
 * RAM), though not necessarily one that makes sense. */
static inline gpa_t cand_valid(struct attack_core *c, enum ring ring,
			       unsigned q)
{
	unsigned nq = c->dev->nq;
	gpa_t arena = ARENA(2 * (q % nq) + below(c, 2));
	static const unsigned desc[] = { 0, 1, 2, 3, 4 };
	static const unsigned avail[] = { 0, 3, 4 };
	static const unsigned used[] = { 0, 3, 4 };

	if (ring == R_DESC)
		return cand_desc(c, arena, PICK(c, desc));
	if (ring == R_AVAIL)
		return cand_avail(c, arena, PICK(c, avail));
	return cand_used(c, q % nq, arena, PICK(c, used));
}

static inline uint32_t size_value(struct attack_core *c)
{
	static const uint32_t v[] = { 0,  1,   2,   4,	 16,  32,     64,
				      64, 128, 256, 512, 100, 0xffff, 0x10000 };

	return below(c, 8) ? PICK(c, v) : (uint32_t)rnd(c);
}

static inline uint8_t status_value(struct attack_core *c)
{
	static const uint8_t v[] = { 0,	   1,	 3,    7,    0x0b, 0x0f,
				     0x0f, 0x0f, 0x08, 0x04, 0x02, 0x40,
				     0x80, 0x8f, 0x4f, 0xff, 0x07, 0x09 };

	return below(c, 10) ? PICK(c, v) : (uint8_t)rnd(c);
}

static inline uint32_t queue_index(struct attack_core *c)
{
	static const uint32_t v[] = {
		0, 0, 1, 1, 2, 15, 16, 0xffff, 0xffffffff
	};

	return below(c, 8) ? PICK(c, v) : (uint32_t)rnd(c);
}

/* ---- the transports, as the driver reaches them ---- */

static inline void mmio_wr(struct attack_core *c, uint64_t off, unsigned size,
			   uint64_t v)
{
	virtio_mmio_ops.write(&c->m, off, (const uint8_t *)&v, size);
}

static inline uint64_t mmio_rd(struct attack_core *c, uint64_t off,
			       unsigned size)
{
	uint64_t v = 0;

	virtio_mmio_ops.read(&c->m, off, (uint8_t *)&v, size);
	return v;
}

/* BAR 0 through the bus window, where the BAR decodes now; false when it
 * does not decode in the window (the access reaches nothing). */
static inline bool bus_access(struct attack_core *c, uint64_t off, uint64_t *v,
			      unsigned size, bool is_write)
{
	uint64_t at = __atomic_load_n(&c->p.pci.mapped_at[0], __ATOMIC_ACQUIRE);

	if (!is_write)
		*v = 0;
	if (!at || at < WINDOW || at - WINDOW + off + size > WINDOW_SIZE) {
		if (!is_write)
			memset(v, 0xff, size);
		return false;
	}
	if (is_write)
		pci_mmio_ops.write(&c->bus, at - WINDOW + off,
				   (const uint8_t *)v, size);
	else
		pci_mmio_ops.read(&c->bus, at - WINDOW + off, (uint8_t *)v,
				  size);
	return true;
}

/* With a racing vCPU moving the BAR, the driver reaches BAR 0 as if it
 * followed every move. */
static inline bool bar_access(struct attack_core *c, uint64_t off, uint64_t *v,
			      unsigned size, bool is_write)
{
	const struct io_ops *ops = c->p.pci.bar_ops[0];

	if (!c->race)
		return bus_access(c, off, v, size, is_write);
	*v = is_write ? *v : 0;
	if (is_write)
		ops->write(&c->p, off, (const uint8_t *)v, size);
	else
		ops->read(&c->p, off, (uint8_t *)v, size);
	return true;
}

static inline bool bar_wr(struct attack_core *c, uint64_t off, unsigned size,
			  uint64_t v)
{
	return bar_access(c, off, &v, size, true);
}

static inline uint64_t bar_rd(struct attack_core *c, uint64_t off,
			      unsigned size)
{
	uint64_t v;

	bar_access(c, off, &v, size, false);
	return v;
}

/* Configuration space of slot/fn, through ECAM or the 0xCF8 ports. */
static inline void cfg_access(struct attack_core *c, unsigned slot, unsigned fn,
			      unsigned reg, unsigned size, uint32_t *v,
			      bool is_write)
{
	if (below(c, 2)) {
		uint64_t off = (uint64_t)slot << 15 | fn << 12 | reg;
		if (is_write)
			pci_ecam_ops.write(&c->bus, off, (uint8_t *)v, size);
		else
			pci_ecam_ops.read(&c->bus, off, (uint8_t *)v, size);
		return;
	}
	uint32_t addr = 0x80000000u | slot << 11 | fn << 8 | (reg & 0xfc);
	pci_config_port_ops.write(&c->bus, 0, (uint8_t *)&addr, 4);
	if (is_write)
		pci_config_port_ops.write(&c->bus, 4 + (reg & 3), (uint8_t *)v,
					  size);
	else
		pci_config_port_ops.read(&c->bus, 4 + (reg & 3), (uint8_t *)v,
					 size);
}

static inline void cfg_wr(struct attack_core *c, unsigned reg, unsigned size,
			  uint32_t v)
{
	cfg_access(c, 1, 0, reg, size, &v, true);
}

static inline uint8_t t_status(struct attack_core *c)
{
	uint8_t s = 0;

	if (!c->pci)
		return (uint8_t)mmio_rd(c, VIRTIO_MMIO_STATUS, 4);
	c->p.pci.bar_ops[0]->read(&c->p, VIRTIO_PCI_COMMON_STATUS, &s, 1);
	return s;
}

/* A status write; false when it did not reach the device. */
static inline bool t_write_status(struct attack_core *c, uint8_t v)
{
	if (!c->pci) {
		mmio_wr(c, VIRTIO_MMIO_STATUS, 4, v);
		return true;
	}
	return bar_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, v);
}

static inline void t_kick(struct attack_core *c, unsigned q)
{
	if (c->pci)
		bar_wr(c, VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULTIPLIER * q, 2, q);
	else
		mmio_wr(c, VIRTIO_MMIO_QUEUE_NOTIFY, 4, q);
}

/* ---- hooks ---- */

static inline void mmio_irq(void *o)
{
	__atomic_add_fetch(&((struct attack_core *)o)->irqs, 1,
			   __ATOMIC_RELAXED);
}

static inline void mmio_notify(void *o, unsigned q)
{
	struct attack_core *c = o;

	if (q >= c->dev->nq)
		__atomic_add_fetch(&c->bad_notifies, 1, __ATOMIC_RELAXED);
	c->dev->kick(c, q);
}

/* vCPU thread only, under the MSI-X lock. */
static inline int pci_route(void *o, unsigned vec, uint64_t addr, uint32_t data)
{
	struct attack_core *c = o;

	(void)addr, (void)data;
	__atomic_add_fetch(&c->routes, 1, __ATOMIC_RELAXED);
	if (!(pthread_equal(pthread_self(), c->self) ||
	      (c->race && pthread_equal(pthread_self(), c->racer_self))) ||
	    vec >= nvec(c))
		__atomic_add_fetch(&c->bad_routes, 1, __ATOMIC_RELAXED);
	return c->route_fail ? -ENOSPC : 0;
}

/* Any thread, under the MSI-X lock: a fire must be deliverable. */
static inline void pci_fire(void *o, unsigned vec)
{
	struct attack_core *c = o;
	const struct msix *m = &c->p.msix;
	bool ok = vec < m->nvec && m->enabled && !m->function_masked &&
		  !(m->table[vec].ctrl & 1) && !(m->route_stale & 1ULL << vec);

	__atomic_add_fetch(&c->fires, 1, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_add_fetch(&c->bad_fires, 1, __ATOMIC_RELAXED);
}

static inline void pci_notify(void *o, unsigned q)
{
	mmio_notify(o, q);
}

/* vCPU thread, under the bus lock. */
static inline void pci_bar_moved(void *o, uint64_t gpa, bool mapped)
{
	struct attack_core *c = o;

	c->bar_gpa = gpa;
	c->bar_mapped = mapped;
}

static const struct virtio_pci_hooks attack_hooks = {
	.irq = { pci_route, pci_fire },
	.notify = pci_notify,
	.bar_moved = pci_bar_moved,
};

/* ---- epochs: what each queue's worker serves ---- */

static inline bool queue_live(struct attack_core *c, unsigned q)
{
	return c->vdev->active && c->vdev->vqs[q].ready;
}

static inline unsigned worker_starts(struct attack_core *c, unsigned q)
{
	return __atomic_load_n(&c->worker[q]->starts, __ATOMIC_ACQUIRE);
}

/* Host I/O of queue q in flight: the device's count, peeked at racily
 * (as test_wait_inflight does). */
static inline unsigned host_inflight(struct attack_core *c, unsigned q)
{
	return __atomic_load_n(c->inflight[q], __ATOMIC_RELAXED);
}

static inline unsigned used_len(uint16_t size)
{
	return 6 + 8U * size;
}

static inline void check_layout(struct attack_core *c, unsigned q,
				const struct epoch *e)
{
	CHECK(c,
	      e->size && !(e->size & (e->size - 1)) &&
		      e->size <= c->dev->queue_max && !(e->desc % 16) &&
		      !(e->avail % 2) && !(e->used % 4) &&
		      mem_is_ram(&c->mem, e->desc, 16ULL * e->size) &&
		      mem_is_ram(&c->mem, e->avail, 6 + 2ULL * e->size) &&
		      mem_is_ram(&c->mem, e->used, used_len(e->size)),
	      "queue %u started with size %u desc %#lx avail %#lx used %#lx", q,
	      e->size, e->desc, e->avail, e->used);
}

static inline void begin_epoch(struct attack_core *c, unsigned q,
			       unsigned starts)
{
	struct epoch *e = &c->ep[q];
	const struct virtqueue *vq = &c->vdev->vqs[q];

	e->live = true;
	e->sane = false;
	e->breaking = false;
	e->starts = starts;
	e->seen = 0;
	e->size = vq->size;
	e->desc = vq->desc;
	e->avail = vq->avail;
	e->used = vq->used;
	check_layout(c, q, e);
	allow(c, e->used, used_len(e->size));
	e->page = e->used & ~(PAGE - 1);
	CHECK(c, e->used + used_len(e->size) <= e->page + PAGE,
	      "used ring at %#lx crosses a page", e->used);
	memcpy(e->snap, c->ram + e->page, PAGE);
	c->stopped[q].valid = false;
	c->st.epochs++;
	TRACE(c, "queue %u starts: size %u desc %#lx avail %#lx used %#lx", q,
	      e->size, e->desc, e->avail, e->used);
}

/* Nothing around a stopped queue's used ring changed while it ran, and
 * its elements that changed are elements of that queue. */
static inline void check_used_writes(struct attack_core *c, unsigned q)
{
	const struct epoch *e = &c->ep[q];
	unsigned at = (unsigned)(e->used - e->page), len = used_len(e->size);
	const uint8_t *now = c->ram + e->page, *ring = now + at;

	for (unsigned i = 0; i < PAGE; i++)
		CHECK(c, (i >= at && i < at + len) || now[i] == e->snap[i],
		      "queue %u wrote %#lx, outside its used ring %#lx+%#x", q,
		      e->page + i, e->used, len);
	for (unsigned k = 0; k < e->size; k++) {
		struct vring_used_elem el;
		if (!memcmp(ring + 4 + 8 * k, e->snap + at + 4 + 8 * k, 8))
			continue;
		memcpy(&el, ring + 4 + 8 * k, 8);
		CHECK(c, el.id < e->size && el.len <= c->dev->used_len_max,
		      "queue %u used[%u] = {%u, %u} in a ring of %u", q, k,
		      el.id, el.len, e->size);
	}
}

static inline void end_epoch(struct attack_core *c, unsigned q, bool restarted)
{
	struct epoch *e = &c->ep[q];
	struct stopped *s = &c->stopped[q];

	check_used_writes(c, q);
	if (!restarted)
		CHECK(c, !host_inflight(c, q),
		      "queue %u stopped with %u requests in flight", q,
		      host_inflight(c, q));
	if (c->worker[q]->vq.broken)
		c->st.broken++;
	s->valid = !restarted;
	s->used = e->used;
	s->len = used_len(e->size);
	memcpy(s->bytes, c->ram + e->used, s->len);
	e->live = false;
	TRACE(c, "queue %u stops", q);
}

static inline void check_stopped(struct attack_core *c, unsigned q)
{
	const struct stopped *s = &c->stopped[q];

	if (s->valid)
		CHECK(c, !memcmp(c->ram + s->used, s->bytes, s->len),
		      "queue %u: used ring at %#lx moved after the queue "
		      "stopped",
		      q, s->used);
}

/* Used elements of a queue the driver set up: each one checked. */
static inline void poll_used(struct attack_core *c, unsigned q)
{
	struct epoch *e = &c->ep[q];
	uint16_t u;

	if (!e->live || !e->sane)
		return;
	u = load16(c, e->used + 2);
	CHECK(c, (uint16_t)(u - e->seen) <= c->dev->outstanding(c, q),
	      "queue %u: used idx %u after %u with %u requests outstanding", q,
	      u, e->seen, c->dev->outstanding(c, q));
	while (e->seen != u) {
		struct vring_used_elem el;
		memcpy(&el, c->ram + e->used + 4 + 8 * (e->seen % e->size), 8);
		c->dev->complete(c, q, &el);
		e->seen++;
	}
}

/* A running queue's registers keep the layout its worker was given, and
 * a queue is ready after DRIVER_OK only while its worker serves it. */
static inline void check_running_layout(struct attack_core *c, unsigned q)
{
	const struct epoch *e = &c->ep[q];
	const struct virtqueue *vq = &c->vdev->vqs[q];

	CHECK(c, queue_live(c, q) == e->live,
	      "queue %u ready %d, active %d, but its worker %s", q, vq->ready,
	      c->vdev->active, e->live ? "serves" : "does not serve");
	if (e->live)
		CHECK(c,
		      vq->size == e->size && vq->desc == e->desc &&
			      vq->avail == e->avail && vq->used == e->used,
		      "queue %u layout changed while it runs", q);
}

static inline void track_epoch(struct attack_core *c, unsigned q)
{
	struct epoch *e = &c->ep[q];
	unsigned starts = worker_starts(c, q);
	bool restarted = starts != e->starts;

	poll_used(c, q);
	if (e->live && (restarted || !queue_live(c, q)))
		end_epoch(c, q, restarted);
	if (!restarted) {
		check_stopped(c, q);
		check_running_layout(c, q);
		return;
	}
	e->starts = starts;
	if (queue_live(c, q))
		begin_epoch(c, q, starts);
	check_running_layout(c, q);
}

/* ---- invariants after every operation ---- */

static inline void check_status(struct attack_core *c)
{
	uint8_t s = t_status(c);

	if (s)
		CHECK(c, (s & c->floor) == c->floor,
		      "status %#x lost bits of %#x without a reset", s,
		      c->floor);
	else
		c->st.resets += c->floor != 0;
	c->floor = s;
}

static inline void check_written_status(struct attack_core *c, uint8_t v,
					bool reached)
{
	uint8_t s = t_status(c), want = v & ~VIRTIO_CONFIG_S_FEATURES_OK;

	if (reached && v)
		CHECK(c, (s & want) == want, "wrote status %#x, reads %#x", v,
		      s);
	if (reached && !v)
		CHECK(c, !s, "reset, status reads %#x", s);
}

static inline void check_bar(struct attack_core *c)
{
	const struct pci_device *d = &c->p.pci;
	bool decode = pci_cfg_get(d, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
	uint32_t at = decode ? pci_cfg_get(d, PCI_BASE_ADDRESS_0, 4) &
				       PCI_BASE_ADDRESS_MEM_MASK
			     : 0;

	CHECK(c,
	      d->mapped_at[0] == at && c->bar_mapped == (at != 0) &&
		      (!at || c->bar_gpa == at),
	      "BAR 0 at %#x decodes at %#x, reported %#lx (%d)", at,
	      d->mapped_at[0], c->bar_gpa, c->bar_mapped);
}

static inline void check_hooks(struct attack_core *c)
{
	CHECK(c, !__atomic_load_n(&c->bad_fires, __ATOMIC_RELAXED),
	      "an MSI-X vector fired while not deliverable");
	CHECK(c, !__atomic_load_n(&c->bad_routes, __ATOMIC_RELAXED),
	      "a route was installed off the vCPU thread or out of range");
	CHECK(c, !__atomic_load_n(&c->bad_notifies, __ATOMIC_RELAXED),
	      "a notification of a queue that does not exist");
}

static inline void after_op(struct attack_core *c)
{
	check_status(c);
	for (unsigned q = 0; q < c->dev->nq; q++) {
		track_epoch(c, q);
		if (host_inflight(c, q))
			c->st.inflight_ops++;
	}
	check_hooks(c);
	if (c->pci)
		if (!c->race)
			check_bar(c);
}

/* Guest RAM the device may not write equals the driver's copy, and the
 * dirty log names only pages the device may write. */
static inline void check_ram(struct attack_core *c)
{
	for (uint64_t pg = 0; pg < PAGES; pg++) {
		const struct extent *e = &c->ext[pg];
		const uint8_t *r = c->ram + pg * PAGE,
			      *s = c->shadow + pg * PAGE;
		unsigned lo = e->hi ? e->lo : PAGE, hi = e->hi ? e->hi : PAGE;
		if (!memcmp(r, s, lo) && !memcmp(r + hi, s + hi, PAGE - hi)) {
			CHECK(c, e->hi || !mem_page_dirty(&c->mem, pg * PAGE),
			      "page %#lx marked dirty, never given to the "
			      "device",
			      pg * PAGE);
			continue;
		}
		for (unsigned i = 0; i < PAGE; i++)
			CHECK(c, (i >= lo && i < hi) || r[i] == s[i],
			      "device wrote %#x over %#x at gpa %#lx, outside "
			      "its buffers and rings",
			      r[i], s[i], pg * PAGE + i);
	}
}

/* ---- the driver's own set-up ---- */

static inline void pci_enable(struct attack_core *c)
{
	uint32_t home = (uint32_t)(WINDOW + 0x8000ULL * below(c, 0x2000));

	cfg_wr(c, PCI_BASE_ADDRESS_0, 4, home);
	cfg_wr(c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_wr(c, c->p.msix.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	for (unsigned v = 0; v < nvec(c); v++) {
		uint64_t e = VPCI_MSIX_TABLE_OFF + 16ULL * v;
		bar_wr(c, e + PCI_MSIX_ENTRY_LOWER_ADDR, 8, 0xfee00000ULL);
		bar_wr(c, e + PCI_MSIX_ENTRY_DATA, 4, 0x40 + v);
		bar_wr(c, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	}
	c->route_fail = false;
}

static inline void write_features(struct attack_core *c, uint32_t lo,
				  uint32_t hi)
{
	if (c->pci) {
		bar_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
		bar_wr(c, VIRTIO_PCI_COMMON_GF, 4, lo);
		bar_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
		bar_wr(c, VIRTIO_PCI_COMMON_GF, 4, hi);
		return;
	}
	mmio_wr(c, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
	mmio_wr(c, VIRTIO_MMIO_DRIVER_FEATURES, 4, lo);
	mmio_wr(c, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
	mmio_wr(c, VIRTIO_MMIO_DRIVER_FEATURES, 4, hi);
}

/* The device's feature, and the ring features now and then. */
static inline uint32_t ring_features(struct attack_core *c)
{
	uint32_t lo = 1u << c->dev->feature;

	if (below(c, 2))
		lo |= 1u << VIRTIO_RING_F_EVENT_IDX;
	if (below(c, 2))
		lo |= 1u << VIRTIO_RING_F_INDIRECT_DESC;
	return lo;
}

static inline void write_layout(struct attack_core *c, const gpa_t g[3])
{
	static const uint64_t mmio_lo[] = { VIRTIO_MMIO_QUEUE_DESC_LOW,
					    VIRTIO_MMIO_QUEUE_AVAIL_LOW,
					    VIRTIO_MMIO_QUEUE_USED_LOW };

	for (unsigned r = 0; r < 3; r++) {
		if (c->pci && below(c, 2)) {
			bar_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO + 8 * r, 8, g[r]);
		} else if (c->pci) {
			bar_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO + 8 * r, 4,
			       (uint32_t)g[r]);
			bar_wr(c, VIRTIO_PCI_COMMON_Q_DESCHI + 8 * r, 4,
			       g[r] >> 32);
		} else {
			mmio_wr(c, mmio_lo[r], 4, (uint32_t)g[r]);
			mmio_wr(c, mmio_lo[r] + 4, 4, g[r] >> 32);
		}
	}
}

/* Queue q of size on arena, its rings zeroed; enabled. */
static inline void driver_queue(struct attack_core *c, unsigned q,
				unsigned arena, uint16_t size)
{
	gpa_t base = ARENA(arena), g[3];
	uint64_t ready;

	check_stopped(c, q);
	c->stopped[q].valid = false;
	drv_fill(c, base + A_AVAIL, 0, PAGE);
	drv_fill(c, base + A_USED, 0, PAGE);
	g[0] = base + A_DESC, g[1] = base + A_AVAIL, g[2] = base + A_USED;
	if (c->pci) {
		bar_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		bar_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
		write_layout(c, g);
		bar_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, q);
		bar_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
		ready = bar_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
	} else {
		mmio_wr(c, VIRTIO_MMIO_QUEUE_SEL, 4, q);
		mmio_wr(c, VIRTIO_MMIO_QUEUE_NUM, 4, size);
		write_layout(c, g);
		mmio_wr(c, VIRTIO_MMIO_QUEUE_READY, 4, 1);
		ready = mmio_rd(c, VIRTIO_MMIO_QUEUE_READY, 4);
	}
	CHECK(c, ready == 1, "queue %u not enabled by a valid set-up", q);
}

static inline void reset_device(struct attack_core *c)
{
	CHECK(c, t_write_status(c, 0), "reset did not reach the device");
	after_op(c);
	CHECK(c, t_status(c) == 0, "status %#x after a reset", t_status(c));
	for (unsigned q = 0; q < c->dev->nq; q++)
		CHECK(c, !host_inflight(c, q) && !c->ep[q].live,
		      "queue %u still busy after a reset", q);
}

/* The probe up to FEATURES_OK with features lo: the device must accept it
 * whatever came before. */
static inline void driver_features(struct attack_core *c, uint32_t lo)
{
	if (c->pci)
		pci_enable(c);
	reset_device(c);
	t_write_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	write_features(c, lo, 1);
	t_write_status(c, 0x0b);
	CHECK(c, t_status(c) == 0x0b, "FEATURES_OK refused: %#x", t_status(c));
}

/* The probe's end once the queues are set up: DRIVER_OK starts every
 * queue, and their epochs are the driver's. */
static inline void driver_ok(struct attack_core *c)
{
	unsigned nq = c->dev->nq;

	if (c->pci)
		bar_wr(c, VIRTIO_PCI_COMMON_MSIX, 2, nq);
	t_write_status(c, 0x0f);
	CHECK(c, t_status(c) == 0x0f, "DRIVER_OK: status %#x", t_status(c));
	after_op(c);
	for (unsigned q = 0; q < nq; q++) {
		CHECK(c, c->ep[q].live, "queue %u did not start", q);
		c->ep[q].sane = true;
	}
	c->st.sane_epochs += nq;
	c->st.reinits++;
}

/* A queue set up by the hostile driver: the sizes and ring addresses it
 * may choose, enabled. */
static inline void hostile_queue(struct attack_core *c, unsigned q)
{
	static const uint16_t sizes[] = { 1, 2, 16, 64, 128, 256 };
	uint32_t size = below(c, 8) ? PICK(c, sizes) : size_value(c);
	gpa_t g[3];

	for (unsigned r = 0; r < 3; r++)
		g[r] = below(c, 4) ? cand_valid(c, (enum ring)r, q)
				   : cand(c, (enum ring)r, q);
	TRACE(c, "hostile queue %u: size %u desc %#lx avail %#lx used %#lx", q,
	      size, g[0], g[1], g[2]);
	if (c->pci) {
		bar_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		bar_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
		write_layout(c, g);
		bar_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	} else {
		mmio_wr(c, VIRTIO_MMIO_QUEUE_SEL, 4, q);
		mmio_wr(c, VIRTIO_MMIO_QUEUE_NUM, 4, size);
		write_layout(c, g);
		mmio_wr(c, VIRTIO_MMIO_QUEUE_READY, 4, 1);
	}
}

/* The probe sequence with hostile choices: queues on candidate rings,
 * steps left out; the device may start on whatever it accepts. */
static inline void hostile_init(struct attack_core *c)
{
	unsigned skip = below(c, 16);
	uint32_t lo = ring_features(c), hi = below(c, 8) ? 1 : 0;

	TRACE(c, "hostile init (skip %#x)", skip);
	if (!(skip & 1))
		t_write_status(c, 0);
	after_op(c);
	t_write_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	write_features(c, lo, hi);
	t_write_status(c, 0x0b);
	for (unsigned q = 0; q < c->dev->nq; q++)
		if (below(c, 4))
			hostile_queue(c, q);
	if (!(skip & 2))
		t_write_status(c, 0x0f);
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

static const unsigned attack_weights[2][OP_COUNT] = {
	/* mmio */
	{ 300, 0, 15, 50, 30, 30, 25, 60, 30, 40, 30, 80, 20, 10 },
	/* pci */
	{ 300, 0,  15, 50, 30, 30, 25, 60, 30, 40, 30,
	  80,  20, 10, 25, 40, 40, 15, 20, 20, 40, 5 },
};

static inline enum op pick_op(struct attack_core *c)
{
	const unsigned *weights = attack_weights[c->pci];
	bool sane = c->ep[0].live && c->ep[0].sane;
	unsigned total = sane ? 8 : 30, r;

	for (unsigned i = 0; i < OP_COUNT; i++)
		total += weights[i];
	r = below(c, total);
	if (r < (sane ? 8u : 30u))
		return OP_REINIT;
	r -= sane ? 8 : 30;
	for (unsigned i = 0; i < OP_COUNT; i++) {
		if (r < weights[i])
			return (enum op)i;
		r -= weights[i];
	}
	return OP_POST;
}

static inline void op_post(struct attack_core *c)
{
	unsigned q = below(c, c->dev->nq), kick = below(c, 100);

	if (c->dev->post(c, q) && kick < 85)
		t_kick(c, q);
	TRACE(c, "post queue %u", q);
}

static inline void op_sleep(struct attack_core *c)
{
	struct timespec t = { 0, 20000 + 10000 * (long)below(c, 20) };

	nanosleep(&t, NULL);
}

/* ---- virtio-mmio ---- */

/* A value for a register write at off: ring addresses come from the
 * candidates of the selected queue, anything else is as random as it
 * gets. */
static inline uint64_t mmio_value(struct attack_core *c, uint64_t off,
				  unsigned size)
{
	uint64_t v = rnd(c);
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
	v = cand(c, ring, c->m.queue_sel);
	return off & 4 ? v >> 32 : (uint32_t)v;
}

static inline void mmio_features(struct attack_core *c)
{
	static const uint32_t f[] = { 0, 1, 0xffffffff, 1u << 28, 1u << 29 };

	switch (below(c, 4)) {
	case 0:
		mmio_wr(c, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, below(c, 4));
		break;
	case 1:
		mmio_wr(c, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4,
			below(c, 3) ? below(c, 2) : (uint32_t)rnd(c));
		break;
	case 2: mmio_wr(c, VIRTIO_MMIO_DRIVER_FEATURES, 4, PICK(c, f)); break;
	default: mmio_rd(c, VIRTIO_MMIO_DEVICE_FEATURES, 4); break;
	}
}

static inline void mmio_qaddr(struct attack_core *c)
{
	unsigned ring = below(c, 3), half = below(c, 3);
	uint64_t off = VIRTIO_MMIO_QUEUE_DESC_LOW + 0x10 * ring;
	gpa_t g = cand(c, (enum ring)ring, c->m.queue_sel);

	if (half != 1)
		mmio_wr(c, off, 4, (uint32_t)g);
	if (half != 0)
		mmio_wr(c, off + 4, 4, g >> 32);
	TRACE(c, "queue %u ring %u = %#lx (half %u)", c->m.queue_sel, ring, g,
	      half);
}

static inline void mmio_random(struct attack_core *c, uint64_t lo,
			       uint64_t span)
{
	uint64_t off = lo + below(c, (unsigned)span), v;
	unsigned size = width(c);

	if (below(c, 2))
		off &= ~3ULL;
	v = mmio_value(c, off, size);
	if (below(c, 3)) {
		mmio_wr(c, off, size, v);
		TRACE(c, "mmio write %#lx/%u = %#lx", off, size, v);
	} else {
		mmio_rd(c, off, size);
	}
}

static inline void mmio_op(struct attack_core *c, enum op op)
{
	uint8_t s;

	switch (op) {
	case OP_STATUS:
		s = status_value(c);
		TRACE(c, "status %#x", s);
		mmio_wr(c, VIRTIO_MMIO_STATUS, 4, s);
		check_written_status(c, s, true);
		break;
	case OP_FEATURES: mmio_features(c); break;
	case OP_QSEL:
		mmio_wr(c, VIRTIO_MMIO_QUEUE_SEL, 4, queue_index(c));
		break;
	case OP_QSIZE:
		mmio_wr(c, VIRTIO_MMIO_QUEUE_NUM, 4, size_value(c));
		break;
	case OP_QADDR: mmio_qaddr(c); break;
	case OP_QREADY:
		s = (uint8_t)below(c, 4);
		TRACE(c, "queue %u ready %u", c->m.queue_sel, s & 1);
		mmio_wr(c, VIRTIO_MMIO_QUEUE_READY, 4, s == 3 ? 0xffffffff : s);
		break;
	case OP_NOTIFY:
		mmio_wr(c, VIRTIO_MMIO_QUEUE_NOTIFY, 4, queue_index(c));
		break;
	case OP_CONFIG:
		mmio_random(c, VIRTIO_MMIO_CONFIG, c->dev->config_span);
		break;
	case OP_RANDOM:
		mmio_random(c, 0, below(c, 4) ? VIRTIO_MMIO_CONFIG : 0x1000);
		break;
	case OP_INT:
		if (below(c, 2))
			mmio_rd(c, VIRTIO_MMIO_INTERRUPT_STATUS, 4);
		else
			mmio_wr(c, VIRTIO_MMIO_INTERRUPT_ACK, 4, rnd(c));
		break;
	default: break;
	}
}

/* ---- virtio-pci ---- */

static inline uint64_t pci_value(struct attack_core *c, uint64_t off,
				 unsigned size)
{
	uint64_t v = rnd(c), g;

	if ((size != 4 && size != 8) || off % size ||
	    off < VIRTIO_PCI_COMMON_Q_DESCLO || off >= 0x38)
		return v;
	g = cand(c, (enum ring)((off - VIRTIO_PCI_COMMON_Q_DESCLO) / 8),
		 c->p.queue_sel);
	if (size == 8)
		return g;
	return off & 4 ? g >> 32 : (uint32_t)g;
}

static inline void pci_bar_random(struct attack_core *c, uint64_t lo,
				  uint64_t span)
{
	uint64_t off = lo + below(c, (unsigned)span), v;
	unsigned size = width(c);

	if (below(c, 2))
		off &= ~(uint64_t)(size - 1);
	v = pci_value(c, off, size);
	if (below(c, 3)) {
		TRACE(c, "bar write %#lx/%u = %#lx", off, size, v);
		bar_wr(c, off, size, v);
	} else {
		bar_rd(c, off, size);
	}
}

static inline void pci_features(struct attack_core *c)
{
	static const uint32_t f[] = { 0, 1, 0xffffffff, 1u << 28, 1u << 29 };

	switch (below(c, 4)) {
	case 0: bar_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 4, below(c, 4)); break;
	case 1:
		bar_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4,
		       below(c, 3) ? below(c, 2) : (uint32_t)rnd(c));
		break;
	case 2: bar_wr(c, VIRTIO_PCI_COMMON_GF, 4, PICK(c, f)); break;
	default: bar_rd(c, VIRTIO_PCI_COMMON_GF, 4); break;
	}
}

static inline void pci_qaddr(struct attack_core *c)
{
	unsigned ring = below(c, 3), how = below(c, 4);
	uint64_t off = VIRTIO_PCI_COMMON_Q_DESCLO + 8 * ring;
	gpa_t g = cand(c, (enum ring)ring, c->p.queue_sel);

	if (how == 0)
		bar_wr(c, off, 8, g);
	if (how == 1 || how == 3)
		bar_wr(c, off, 4, (uint32_t)g);
	if (how == 2 || how == 3)
		bar_wr(c, off + 4, 4, g >> 32);
	TRACE(c, "queue %u ring %u = %#lx (how %u)", c->p.queue_sel, ring, g,
	      how);
}

static inline void pci_vectors(struct attack_core *c)
{
	static const uint16_t v[] = { 0, 1, 2, 3, 4, 0xffff, 0x7fff, 0x8000 };
	uint16_t x = below(c, 6) ? PICK(c, v) : (uint16_t)rnd(c);

	bar_wr(c,
	       below(c, 2) ? VIRTIO_PCI_COMMON_MSIX : VIRTIO_PCI_COMMON_Q_MSIX,
	       2, x);
}

static inline void pci_msix_table(struct attack_core *c)
{
	unsigned vec = below(c, 4) ? below(c, nvec(c) + 2) : below(c, 256);
	unsigned reg = below(c, 4) ? 4 * below(c, 4) : below(c, 16);
	uint64_t off = VPCI_MSIX_TABLE_OFF + 16ULL * vec + reg, v = rnd(c);
	unsigned size = width(c);

	if (reg == PCI_MSIX_ENTRY_VECTOR_CTRL && below(c, 4))
		v = below(c, 2);
	if (!below(c, 5))
		off = VPCI_MSIX_PBA_OFF + below(c, 16);
	if (below(c, 4)) {
		TRACE(c, "msix write %#lx/%u = %#lx", off, size, v);
		bar_wr(c, off, size, v);
	} else {
		bar_rd(c, off, size);
	}
}

/* Window target of the PCI configuration access capability. */
static inline uint32_t window_off(struct attack_core *c)
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

	return below(c, 5) ? PICK(c, offs) : (uint32_t)rnd(c) % 0x9000;
}

/* The value a write through the window carries: sanitised like a BAR
 * write when it lands on a ring address. */
static inline uint32_t window_value(struct attack_core *c, uint32_t off,
				    uint32_t len)
{
	if (off == VIRTIO_PCI_COMMON_STATUS && below(c, 2))
		return status_value(c);
	return (uint32_t)pci_value(c, off, len);
}

static inline void pci_window(struct attack_core *c)
{
	static const uint32_t lens[] = { 1, 2, 4, 4, 4, 3, 0, 8 };
	unsigned cap = c->p.cfg_cap;
	uint32_t off = window_off(c), len = PICK(c, lens), v, how = below(c, 8);

	cfg_wr(c, cap + VIRTIO_PCI_CAP_BAR, 1, below(c, 8) ? 0 : rnd(c));
	cfg_wr(c, cap + VIRTIO_PCI_CAP_OFFSET, 4, off);
	cfg_wr(c, cap + VIRTIO_PCI_CAP_LENGTH, 4, len);
	off = pci_cfg_get(&c->p.pci, cap + VIRTIO_PCI_CAP_OFFSET, 4);
	len = pci_cfg_get(&c->p.pci, cap + VIRTIO_PCI_CAP_LENGTH, 4);
	v = window_value(c, off, len);
	TRACE(c, "window %#x/%u %s %#x", off, len, how < 5 ? "write" : "read",
	      v);
	if (how < 5) /* always the whole data field: see cfg_random */
		cfg_wr(c, cap + sizeof(struct virtio_pci_cap), 4, v);
	else
		cfg_access(c, 1, 0, cap + sizeof(struct virtio_pci_cap),
			   1 << below(c, 3), &v, false);
}

/* A random configuration access anywhere; a write into the window's data
 * field is made through pci_window, whose values are sanitised. */
static inline void cfg_random(struct attack_core *c)
{
	static const unsigned slots[] = { 1, 1, 1, 1, 1, 1, 0, 2, 31 };
	unsigned slot = PICK(c, slots), fn = below(c, 10) ? 0 : below(c, 8);
	unsigned reg = below(c, 8) ? below(c, 256) : below(c, 0x1000);
	unsigned size = width(c), data = c->p.cfg_cap + 16;
	uint32_t v = (uint32_t)rnd(c);
	bool wr = below(c, 2);

	if (size == 8)
		size = 3; /* refused by both paths */
	if (below(c, 2) && size <= 4)
		reg &= ~(size - 1);
	if (wr && slot == 1 && !fn && reg < data + 4 && reg + size > data) {
		pci_window(c);
		return;
	}
	TRACE(c, "cfg %s %u.%u %#x/%u = %#x", wr ? "write" : "read", slot, fn,
	      reg, size, v);
	cfg_access(c, slot, fn, reg, size, &v, wr);
}

static inline void cfg_bar(struct attack_core *c)
{
	static const uint32_t v[] = {
		0xffffffff, 0,		0xc0000000, 0xc0008000, 0xcfff8000,
		0xd0000000, 0x00001000, 0xfee00000, 0xc0000004, 0xc0004000,
	};
	uint32_t x = below(c, 6) ? PICK(c, v) : (uint32_t)rnd(c);
	unsigned bar = below(c, 6) ? 0 : below(c, 6);

	if (below(c, 2))
		x = (uint32_t)(WINDOW + 0x8000ULL * below(c, 0x2000));
	TRACE(c, "BAR %u = %#x", bar, x);
	cfg_wr(c, PCI_BASE_ADDRESS_0 + 4 * bar, 4, x);
}

static inline void cfg_command(struct attack_core *c)
{
	uint32_t v = below(c, 10) < 7 ? PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
				      : (uint32_t)rnd(c);

	TRACE(c, "command %#x", v & 0xffff);
	cfg_wr(c, PCI_COMMAND, 2, v);
}

static inline void cfg_msix(struct attack_core *c)
{
	static const uint16_t v[] = { PCI_MSIX_FLAGS_ENABLE,
				      PCI_MSIX_FLAGS_ENABLE,
				      PCI_MSIX_FLAGS_ENABLE |
					      PCI_MSIX_FLAGS_MASKALL,
				      PCI_MSIX_FLAGS_MASKALL,
				      0,
				      0xffff };
	unsigned cap = c->p.msix.cap;
	uint16_t x = PICK(c, v);

	TRACE(c, "msix flags %#x", x);
	switch (below(c, 3)) {
	case 0: cfg_wr(c, cap + PCI_MSIX_FLAGS, 2, x); break;
	case 1: cfg_wr(c, cap + PCI_MSIX_FLAGS + 1, 1, x >> 8); break;
	default:
		cfg_wr(c, cap, 4,
		       pci_cfg_get(&c->p.pci, cap, 2) | (uint32_t)x << 16);
	}
}

static inline void pci_notify_random(struct attack_core *c)
{
	uint64_t off = VPCI_NOTIFY_OFF + 4ULL * below(c, 0x400);
	unsigned size = width(c);

	bar_wr(c, off, size, rnd(c));
}

static inline void pci_notify_queue(struct attack_core *c)
{
	uint32_t at = queue_index(c), v = queue_index(c);

	bar_wr(c, VPCI_NOTIFY_OFF + 4ULL * (at % 4), 2, v);
}

static inline void pci_op_virtio(struct attack_core *c, enum op op)
{
	uint8_t s;
	bool reached;

	switch (op) {
	case OP_STATUS:
		s = status_value(c);
		TRACE(c, "status %#x", s);
		reached = bar_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, s);
		check_written_status(c, s, reached);
		break;
	case OP_FEATURES: pci_features(c); break;
	case OP_QSEL:
		bar_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, queue_index(c));
		break;
	case OP_QSIZE:
		bar_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, size_value(c));
		break;
	case OP_QADDR: pci_qaddr(c); break;
	case OP_QREADY:
		s = (uint8_t)below(c, 4);
		TRACE(c, "queue %u enable %u", c->p.queue_sel, s);
		bar_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, s == 3 ? 0xffff : s);
		break;
	case OP_NOTIFY:
		if (below(c, 2))
			pci_notify_random(c);
		else
			pci_notify_queue(c);
		break;
	default: break;
	}
}

static inline void pci_op(struct attack_core *c, enum op op)
{
	switch (op) {
	case OP_CONFIG:
		pci_bar_random(c, VPCI_DEVICE_OFF, c->dev->config_span);
		break;
	case OP_RANDOM:
		pci_bar_random(c, 0,
			       below(c, 2) ? 0x40 : VPCI_BAR_SIZE + 0x100);
		break;
	case OP_INT:
		if (below(c, 3))
			bar_rd(c, VPCI_ISR_OFF, 1);
		else
			bar_wr(c, VPCI_ISR_OFF + below(c, 4), 1, rnd(c));
		break;
	case OP_VECTORS: pci_vectors(c); break;
	case OP_MSIX_TABLE: pci_msix_table(c); break;
	case OP_CFG_RANDOM: cfg_random(c); break;
	case OP_CFG_COMMAND: cfg_command(c); break;
	case OP_CFG_BAR: cfg_bar(c); break;
	case OP_CFG_MSIX: cfg_msix(c); break;
	case OP_CFG_WINDOW: pci_window(c); break;
	case OP_ROUTE_FAIL:
		c->route_fail = below(c, 2);
		TRACE(c, "route failures %d", c->route_fail);
		break;
	default: pci_op_virtio(c, op); break;
	}
}

static inline void one_op(struct attack_core *c)
{
	enum op op = pick_op(c);

	switch (op) {
	case OP_POST: op_post(c); break;
	case OP_REINIT: c->dev->proper_init(c); break;
	case OP_SLEEP: op_sleep(c); break;
	case OP_HOSTILE_INIT: hostile_init(c); break;
	default:
		if (c->pci)
			pci_op(c, op);
		else
			mmio_op(c, op);
	}
	after_op(c);
}

/* ---- a second vCPU ----
 *
 * It races the first with accesses that leave the virtio state machine
 * and the queue layout to the first (whose invariants stay exact):
 * notifications of good and bad queues, interrupt acknowledgements,
 * register and configuration reads and, on virtio-pci, memory decoding,
 * BAR moves, MSI-X enable and function mask, vector masks, all through the
 * bus (ECAM only: the 0xCF8 latch belongs to the first vCPU). */
static inline uint64_t race_rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void race_mmio(struct attack_core *c, uint64_t r)
{
	static const uint64_t reads[] = {
		VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_STATUS,
		VIRTIO_MMIO_QUEUE_READY,      VIRTIO_MMIO_CONFIG,
		VIRTIO_MMIO_CONFIG + 8,	      VIRTIO_MMIO_DEVICE_FEATURES
	};

	switch (r % 4) {
	case 0: mmio_wr(c, VIRTIO_MMIO_QUEUE_NOTIFY, 4, (r >> 8) % 4); break;
	case 1: mmio_wr(c, VIRTIO_MMIO_INTERRUPT_ACK, 4, r >> 8); break;
	default: mmio_rd(c, reads[(r >> 8) % N(reads)], 4); break;
	}
}

static inline void race_cfg(struct attack_core *c, unsigned reg, unsigned size,
			    uint32_t v)
{
	pci_ecam_ops.write(&c->bus, 1 << 15 | reg, (uint8_t *)&v, size);
}

static inline void race_pci(struct attack_core *c, uint64_t r)
{
	unsigned vec = (r >> 8) % nvec(c), cap = c->p.msix.cap;
	uint64_t v = r >> 16;

	switch (r % 8) {
	case 0:
		bus_access(c, VPCI_NOTIFY_OFF + 4 * (vec + 1), &v, 2, true);
		break;
	case 1:
		race_cfg(c, PCI_COMMAND, 2,
			 v % 4 ? PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER : 0);
		break;
	case 2:
		race_cfg(c, PCI_BASE_ADDRESS_0, 4,
			 (uint32_t)(WINDOW + 0x8000ULL * (v % 0x2000)));
		break;
	case 3:
		race_cfg(c, cap + PCI_MSIX_FLAGS, 2,
			 PCI_MSIX_FLAGS_ENABLE |
				 (v % 4 ? 0 : PCI_MSIX_FLAGS_MASKALL));
		break;
	case 4:
		v = v % 3 != 0;
		bus_access(c, VPCI_MSIX_TABLE_OFF + 16 * vec + 12, &v, 4, true);
		break;
	case 5: bus_access(c, VPCI_ISR_OFF, &v, 1, false); break;
	case 6: bus_access(c, VPCI_DEVICE_OFF + (v % 64), &v, 4, false); break;
	default: bus_access(c, VPCI_MSIX_PBA_OFF, &v, 8, false); break;
	}
}

static inline void *racer_main(void *arg)
{
	struct attack_core *c = arg;
	uint64_t s = c->seed * 0x9e3779b97f4a7c15ULL + 7;

	c->racer_self = pthread_self();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&c->racer_stop, __ATOMIC_ACQUIRE)) {
		uint64_t r = race_rnd(&s);
		if (c->pci)
			race_pci(c, r);
		else
			race_mmio(c, r);
		__atomic_add_fetch(&c->racer_ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* ---- one seed ---- */

/* The device's environment variable <env>_name, or NULL. */
static inline const char *attack_env(const struct attack_core *c,
				     const char *name)
{
	char var[64];

	snprintf(var, sizeof(var), "%s_%s", c->dev->env, name);
	return getenv(var);
}

static inline unsigned attack_env_unsigned(const struct attack_core *c,
					   const char *name, unsigned dflt)
{
	const char *s = attack_env(c, name);

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

/* A seed of dev on one transport, with or without the racer: the seed and
 * the operation count from the environment if set there. */
static inline void attack_begin(struct attack_core *c,
				const struct attack_device *dev, bool pci,
				unsigned seed, bool race)
{
	cr_assert(dev->nq >= 1 && dev->nq <= ATTACK_NQ_MAX &&
		  dev->queue_max <= VIRTIO_QUEUE_SIZE);
	c->dev = dev;
	c->pci = pci;
	c->seed = attack_env_unsigned(c, "SEED", seed);
	c->ops = attack_env_unsigned(c, "OPS", dev->default_ops);
	c->trace = attack_env(c, "TRACE") != NULL;
	c->rng.s = c->seed * 0x2545f4914f6cdd1dULL + pci;
	c->self = pthread_self();
	c->race = race;
}

/* Guest RAM, canary bytes all over it and in the shadow. */
static inline void attack_ram_init(struct attack_core *c)
{
	dummy_virtio_setup(&c->mem, RAM, &c->dummy_vd, &c->dv, 1);
	c->ram = mem_ptr(&c->mem, 0, RAM);
	c->shadow = malloc(RAM);
	cr_assert(c->ram && c->shadow);
	memset(c->ram, CANARY, RAM);
	memset(c->shadow, CANARY, RAM);
}

static inline void attack_ram_destroy(struct attack_core *c)
{
	mem_destroy(&c->mem);
	free(c->shadow);
}

/* The transport on c->vdev, its hooks' context c. */
static inline void attack_transport_init(struct attack_core *c)
{
	if (!c->pci) {
		virtio_mmio_init(&c->m, c->vdev, mmio_irq, mmio_notify, c);
		return;
	}
	pci_bus_init(&c->bus, WINDOW, (uint32_t)WINDOW_SIZE);
	cr_assert_eq(virtio_pci_init(&c->p, c->vdev, &attack_hooks, c), 0);
	cr_assert_eq(pci_bus_attach(&c->bus, &c->p.pci), 1);
	cr_assert_eq(c->p.msix.nvec, nvec(c));
}

/* A reset, and the transport gone; the device is the test's. */
static inline void attack_transport_destroy(struct attack_core *c)
{
	if (c->pci) {
		uint8_t zero = 0;
		c->p.pci.bar_ops[0]->write(&c->p, VIRTIO_PCI_COMMON_STATUS,
					   &zero, 1);
		virtio_pci_destroy(&c->p);
		pci_bus_destroy(&c->bus);
	} else {
		mmio_wr(c, VIRTIO_MMIO_STATUS, 4, 0);
	}
}

/* The seed's operations, RAM checked every CHECK_EVERY, with the second
 * vCPU racing when asked. */
static inline void attack_run(struct attack_core *c)
{
	pthread_t racer;

	if (c->race)
		cr_assert_eq(pthread_create(&racer, NULL, racer_main, c), 0);
	for (c->op = 1; c->op <= c->ops; c->op++) {
		one_op(c);
		if (c->op % CHECK_EVERY == 0)
			check_ram(c);
	}
	if (c->race) {
		__atomic_store_n(&c->racer_stop, true, __ATOMIC_RELEASE);
		pthread_join(racer, NULL);
		CHECK(c, c->racer_ops > c->ops, "the racer hardly ran");
		if (c->pci)
			check_bar(c);
	}
}

#endif
