/* The half of fuzz_virtio_mmio and fuzz_virtio_pci that does not depend
 * on the transport: a virtio-blk device with two queues, each served by
 * its real worker thread and io_uring (a 64 KiB disk on a temporary file),
 * created once; the input as a list of at most MAX_OPS operations; a
 * driver that sets the device up properly and keeps valid requests in
 * flight while the rest of the input attacks the registers; the
 * invariants checked after every operation and at the end of each input.
 *
 * The transport file defines T_OPS (how many operations of its own it
 * has) before it includes this header, and after it the functions
 * declared below under "the transport": how the registers are reached,
 * its own operations and its own invariants. The fuzzer thread is the
 * only vCPU; the register writes race with the queue workers serving the
 * driver's requests.
 *
 * Per input: a fresh transport (the device reset, its registers and the
 * transport's state built anew), guest RAM zeroed, the disk's bytes
 * restored; so an input replays the same way, but for the timing of the
 * workers against the register accesses. At the end: the device is
 * reset (which must stop every worker with nothing in flight), set up
 * properly again, and must serve a read on each queue: whatever the input
 * did, a reset gives the driver back a working device. A rare operation
 * destroys the device in whatever state the input left it (the VMM's
 * exit path: it must return, every worker drained and joined) and creates
 * it again, which must leave no thread or descriptor behind.
 *
 * Checked after every operation:
 * - status bits are never lost without a reset, and status 0 means the
 *   device is reset (no queue ready, the layout registers at their
 *   initial values, no feature negotiated, not active); FEATURES_OK only
 *   with VERSION_1 negotiated; negotiated features are offered ones; an
 *   active device has FEATURES_OK and DRIVER_OK;
 * - a queue does not become ready once DRIVER_OK is set; a ready queue has
 *   a size that is a power of two no larger than QueueNumMax and aligned
 *   rings inside guest RAM; a queue's worker serves exactly while the
 *   device is active and the queue ready, from the layout in the
 *   registers;
 * - in a queue the driver set up (while it runs and nothing else shares
 *   its memory) every used element is a request the driver made
 *   available, with status OK and the right length, and every request
 *   completes (bounded wait);
 * - the transport's own invariants (interrupt state, MSI-X, BAR). */
#ifndef TESTS_FUZZ_TRANSPORT_FUZZ_H
#define TESTS_FUZZ_TRANSPORT_FUZZ_H

#include <dirent.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "devices/iobus.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/queue_worker.h"
#include "lib/checked.h"
#include "tests/fuzz/virtio_fuzz.h"

#define NQ 2
#define R0_SIZE 0x40000ULL
#define R1 0x100000ULL
#define R1_SIZE 0x10000ULL
#define ARENA(q) (0x10000ULL + 0x10000ULL * (q))
#define ARENA_SIZE 0x10000ULL
#define A_DESC 0x0000ULL
#define A_AVAIL 0x1000ULL
#define A_USED 0x2000ULL
#define A_HDR 0x3000ULL
#define A_STATUS 0x4000ULL
#define A_DATA 0x8000ULL
#define NSLOTS 8
#define SLOT_BYTES 4096ULL
#define DISK_BYTES (NQ * NSLOTS * SLOT_BYTES)
#define MAX_OPS 256
#define IDLE_NS 2000000000LL /* see drain() */
#define BUSY_NS 8000000000LL

/* The registers of the virtio state machine, whatever the transport. */
enum vreg {
	V_STATUS,
	V_DFSEL,
	V_DF,
	V_GFSEL,
	V_GF,
	V_QSEL,
	V_QNUM,
	V_QDESC,
	V_QAVAIL,
	V_QUSED,
	V_QREADY,
	V_QVECTOR,   /* virtio-pci only */
	V_CFGVECTOR, /* virtio-pci only */
	V_NOTIFY,    /* value: the queue */
	V_ISR,	     /* read: InterruptStatus or the ISR; write: ACK (mmio) */
};

/* ---- the transport (the including file) ---- */

/* A fresh transport on the device (reset, no worker running). */
static void t_init(void);
static void t_write(enum vreg r, uint64_t v);
static uint64_t t_read(enum vreg r);
/* What the driver does before touching the device (pci: BAR, memory
 * decoding, MSI-X with one vector per queue). */
static void t_enable(void);
/* A register access at off of the transport's window (mmio: the device's
 * window; pci: BAR 0 wherever it decodes now). */
static void t_raw(bool is_write, uint64_t off, unsigned size, uint64_t *v);
/* The transport's own operations: T_OPS of them, op in [0, T_OPS). */
static void t_op(unsigned op, struct fin *in);
/* The transport's own invariants, after every operation. */
static void t_check(void);

/* ---- the state ---- */

enum kind { K_READ, K_WRITE, K_FLUSH, K_GET_ID };

/* The driver's side of a queue it set up itself. */
struct drvq {
	bool sane; /* set up by the driver, running, not interfered with */
	unsigned starts; /* the worker's start count when it was set up */
	uint16_t size, avail_idx, seen;
	bool busy[NSLOTS];
	uint8_t kind[NSLOTS];
	unsigned outstanding;
};

static struct {
	struct guest_mem mem;
	struct vblk blk;
	struct fuzz_disk disk;
	pthread_t self;
	/* Hooks, some called on worker threads: atomics. */
	unsigned irqs, fires, bad_fires, routes, bad_routes, bad_notifies;
	bool route_fail;
	uint64_t bar_gpa;
	bool bar_mapped;
	/* The driver. */
	uint8_t floor; /* status bits seen since the last reset */
	bool was_ready[NQ];
	struct drvq dq[NQ];
	unsigned op, destroys;
	bool writes;   /* the operation wrote a register (transport sets) */
	bool setup_op; /* the operation was the driver's set-up */
} T;

static struct virtio_dev *vdev(void)
{
	return &T.blk.vdev;
}

static struct vq_worker *worker(unsigned q)
{
	return &T.blk.queues[q].worker;
}

static bool serving(unsigned q)
{
	return __atomic_load_n(&worker(q)->serving, __ATOMIC_ACQUIRE);
}

static unsigned starts(unsigned q)
{
	return __atomic_load_n(&worker(q)->starts, __ATOMIC_ACQUIRE);
}

/* ---- hooks shared by the transports ---- */

static void hook_notify(void *o, unsigned q)
{
	(void)o;
	if (q >= NQ)
		__atomic_add_fetch(&T.bad_notifies, 1, __ATOMIC_RELAXED);
	vblk_kick(&T.blk, q);
}

/* ---- the driver's memory ---- */

static gpa_t slot_hdr(unsigned q, unsigned n)
{
	return ARENA(q) + A_HDR + 16ULL * n;
}

static gpa_t slot_status(unsigned q, unsigned n)
{
	return ARENA(q) + A_STATUS + n;
}

static gpa_t slot_data(unsigned q, unsigned n)
{
	return ARENA(q) + A_DATA + SLOT_BYTES * n;
}

static uint64_t slot_sector(unsigned q, unsigned n)
{
	return (q * NSLOTS + n) * SLOT_BYTES / VBLK_SECTOR;
}

static void drv_desc(unsigned q, uint16_t i, gpa_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	ram_wr(&T.mem, ARENA(q) + A_DESC + 16ULL * i, &d, sizeof(d));
}

/* ---- the driver's set-up: what Linux does at probe ---- */

static void setup(uint8_t features, uint8_t sizes)
{
	static const uint16_t qsizes[] = { 32, 64, 128, 256 };
	uint32_t lo = 1u << VIRTIO_BLK_F_FLUSH;

	if (features & 1)
		lo |= 1u << VIRTIO_RING_F_INDIRECT_DESC;
	if (features & 2)
		lo |= 1u << VIRTIO_RING_F_EVENT_IDX;
	t_enable();
	t_write(V_STATUS, 0);
	INVARIANTF(t_read(V_STATUS) == 0, "status %#lx after a reset",
		   (unsigned long)t_read(V_STATUS));
	T.floor = 0;
	t_write(V_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	t_write(V_DFSEL, 1);
	INVARIANT(t_read(V_DF) & 1); /* VERSION_1 */
	t_write(V_GFSEL, 0);
	t_write(V_GF, lo);
	t_write(V_GFSEL, 1);
	t_write(V_GF, 1);
	t_write(V_STATUS, 0x0b);
	INVARIANTF(t_read(V_STATUS) == 0x0b, "FEATURES_OK refused: %#lx",
		   (unsigned long)t_read(V_STATUS));
	for (unsigned q = 0; q < NQ; q++) {
		struct drvq *d = &T.dq[q];
		gpa_t a = ARENA(q);
		memset(d, 0, sizeof(*d));
		d->size = qsizes[(sizes >> (2 * q)) & 3];
		memset(ram_at(&T.mem, a, A_HDR), 0, A_HDR);
		t_write(V_QSEL, q);
		t_write(V_QNUM, d->size);
		t_write(V_QDESC, a + A_DESC);
		t_write(V_QAVAIL, a + A_AVAIL);
		t_write(V_QUSED, a + A_USED);
		t_write(V_QVECTOR, q);
		t_write(V_QREADY, 1);
		INVARIANTF(t_read(V_QREADY) == 1,
			   "queue %u not enabled by a valid set-up", q);
	}
	t_write(V_CFGVECTOR, NQ);
	t_write(V_STATUS, 0x0f);
	INVARIANTF(t_read(V_STATUS) == 0x0f, "DRIVER_OK: status %#lx",
		   (unsigned long)t_read(V_STATUS));
	for (unsigned q = 0; q < NQ; q++) {
		INVARIANTF(serving(q), "queue %u did not start", q);
		T.dq[q].sane = true;
		T.dq[q].starts = starts(q);
	}
}

/* Makes request slot n of queue q available, of kind k. */
static bool post(unsigned q, enum kind k)
{
	struct drvq *d = &T.dq[q];
	struct virtio_blk_outhdr h = { .sector = slot_sector(q, 0) };
	uint16_t d0, head;
	uint8_t ff = 0xff;
	unsigned n;

	if (!d->sane)
		return false;
	for (n = 0; n < NSLOTS && d->busy[n]; n++)
		;
	if (n == NSLOTS)
		return false;
	d0 = (uint16_t)(3 * n);
	h.sector = slot_sector(q, n);
	switch (k) {
	case K_READ: h.type = VIRTIO_BLK_T_IN; break;
	case K_WRITE: h.type = VIRTIO_BLK_T_OUT; break;
	case K_FLUSH: h.type = VIRTIO_BLK_T_FLUSH; break;
	default: h.type = VIRTIO_BLK_T_GET_ID; break;
	}
	ram_wr(&T.mem, slot_hdr(q, n), &h, sizeof(h));
	ram_wr(&T.mem, slot_status(q, n), &ff, 1);
	/* A write writes back the disk's own bytes. */
	if (k == K_WRITE)
		ram_wr(&T.mem, slot_data(q, n),
		       T.disk.pattern + h.sector * VBLK_SECTOR, SLOT_BYTES);
	drv_desc(q, d0, slot_hdr(q, n), 16, VRING_DESC_F_NEXT,
		 (uint16_t)(k == K_FLUSH ? d0 + 2 : d0 + 1));
	drv_desc(q, (uint16_t)(d0 + 1), slot_data(q, n),
		 k == K_GET_ID ? VBLK_ID_BYTES : (uint32_t)SLOT_BYTES,
		 (uint16_t)(VRING_DESC_F_NEXT |
			    (k == K_WRITE ? 0 : VRING_DESC_F_WRITE)),
		 (uint16_t)(d0 + 2));
	drv_desc(q, (uint16_t)(d0 + 2), slot_status(q, n), 1,
		 VRING_DESC_F_WRITE, 0);
	head = d0;
	ram_wr(&T.mem, ARENA(q) + A_AVAIL + 4 + 2ULL * (d->avail_idx % d->size),
	       &head, 2);
	__atomic_store_n((uint16_t *)ram_at(&T.mem, ARENA(q) + A_AVAIL + 2, 2),
			 ++d->avail_idx, __ATOMIC_RELEASE);
	d->busy[n] = true;
	d->kind[n] = (uint8_t)k;
	d->outstanding++;
	return true;
}

static uint32_t used_len(enum kind k)
{
	switch (k) {
	case K_READ: return 1 + SLOT_BYTES;
	case K_GET_ID: return 1 + VBLK_ID_BYTES;
	default: return 1;
	}
}

/* Used elements of a queue the driver set up: each one a request it made
 * available, done, with the length the device wrote. */
static void poll_used(unsigned q)
{
	struct drvq *d = &T.dq[q];
	gpa_t used = ARENA(q) + A_USED;
	uint16_t u;

	if (!d->sane)
		return;
	u = __atomic_load_n((uint16_t *)ram_at(&T.mem, used + 2, 2),
			    __ATOMIC_ACQUIRE);
	INVARIANTF((uint16_t)(u - d->seen) <= d->outstanding,
		   "queue %u: used idx %u after %u with %u requests "
		   "outstanding",
		   q, u, d->seen, d->outstanding);
	while (d->seen != u) {
		struct vring_used_elem el;
		unsigned n;
		uint8_t status;
		memcpy(&el,
		       ram_at(&T.mem, used + 4 + 8ULL * (d->seen % d->size), 8),
		       8);
		n = el.id / 3;
		INVARIANTF(el.id % 3 == 0 && n < NSLOTS && d->busy[n],
			   "queue %u: used id %u was not made available", q,
			   el.id);
		status = *ram_at(&T.mem, slot_status(q, n), 1);
		INVARIANTF(status == VIRTIO_BLK_S_OK,
			   "queue %u request %u: status %u", q, n, status);
		INVARIANTF(el.len == used_len((enum kind)d->kind[n]),
			   "queue %u request %u (kind %u): length %u", q, n,
			   d->kind[n], el.len);
		d->busy[n] = false;
		d->outstanding--;
		d->seen++;
	}
}

/* A queue the driver set up stays its own while its worker serves the
 * same start and no other running queue has a ring in its arena (the
 * other queue's device side would write there). */
static void track_sane(void)
{
	struct virtio_dev *vd = vdev();

	for (unsigned q = 0; q < NQ; q++) {
		struct drvq *d = &T.dq[q];
		if (!d->sane)
			continue;
		poll_used(q);
		if (starts(q) != d->starts || !serving(q)) {
			d->sane = false;
			continue;
		}
		for (unsigned o = 0; o < NQ; o++) {
			const struct virtqueue *v = &vd->vqs[o];
			gpa_t a = ARENA(q);
			if (o == q || !serving(o))
				continue;
			if (ranges_overlap(v->desc, 16ULL * v->size, a,
					   ARENA_SIZE) ||
			    ranges_overlap(v->avail, 6 + 2ULL * v->size, a,
					   ARENA_SIZE) ||
			    ranges_overlap(v->used, 6 + 8ULL * v->size, a,
					   ARENA_SIZE))
				d->sane = false;
		}
	}
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Kicks the driver's queues and waits until each request completed. The
 * bound is on the device, not on the host: a request is lost when nothing
 * completes for IDLE_NS while the queue has no host I/O in flight (the
 * device never started it), or for BUSY_NS in any case (a loaded host
 * may leave an io_uring worker unscheduled for a while). */
static void drain(void)
{
	struct timespec nap = { 0, 50000 };

	for (unsigned q = 0; q < NQ; q++) {
		struct drvq *d = &T.dq[q];
		int64_t t0 = now_ns(), busy_since = t0;
		unsigned before;
		if (!d->sane || !d->outstanding)
			continue;
		vblk_kick(&T.blk, q); /* as the ioeventfd would */
		for (unsigned i = 0;; i++) {
			before = d->outstanding;
			poll_used(q);
			if (!d->outstanding)
				break;
			if (d->outstanding < before)
				t0 = busy_since = now_ns();
			if (__atomic_load_n(&T.blk.queues[q].ctx.inflight,
					    __ATOMIC_RELAXED))
				t0 = now_ns(); /* idle only without host I/O */
			INVARIANTF(now_ns() - t0 < IDLE_NS &&
					   now_ns() - busy_since < BUSY_NS,
				   "queue %u: %u requests never completed", q,
				   d->outstanding);
			if (i < 64)
				sched_yield();
			else
				nanosleep(&nap, NULL);
		}
	}
}

/* ---- invariants after every operation ---- */

static void check_reset_state(const struct virtio_dev *vd)
{
	INVARIANT(!vd->active && !vd->guest_features);
	for (unsigned q = 0; q < NQ; q++) {
		const struct virtqueue *v = &vd->vqs[q];
		INVARIANTF(!v->ready && !v->desc && !v->avail && !v->used &&
				   v->size == vd->queue_max,
			   "status 0 but queue %u keeps ready %d size %u desc "
			   "%#lx",
			   q, v->ready, v->size, (unsigned long)v->desc);
	}
}

static void check_core(void)
{
	struct virtio_dev *vd = vdev();
	uint8_t s;

	pthread_mutex_lock(&vd->lock);
	s = __atomic_load_n(&vd->status, __ATOMIC_SEQ_CST);
	if (s)
		INVARIANTF((s & T.floor) == T.floor,
			   "status %#x lost bits of %#x without a reset", s,
			   T.floor);
	else if (T.floor) {
		INVARIANTF(T.writes, "status reset by a read");
		check_reset_state(vd);
	}
	INVARIANT(!(vd->guest_features & ~vd->host_features));
	if (s & VIRTIO_CONFIG_S_FEATURES_OK)
		INVARIANT(vd->guest_features & (1ULL << VIRTIO_F_VERSION_1));
	if (vd->active)
		INVARIANTF((s & 0x0c) == 0x0c, "active with status %#x", s);
	for (unsigned q = 0; q < NQ; q++) {
		const struct virtqueue *v = &vd->vqs[q];
		if (v->ready && !T.was_ready[q] && !T.setup_op)
			INVARIANTF(!(T.floor & VIRTIO_CONFIG_S_DRIVER_OK),
				   "queue %u enabled after DRIVER_OK", q);
		T.was_ready[q] = v->ready;
		if (v->ready)
			INVARIANTF(ref_layout_ok(&T.mem, v->size, vd->queue_max,
						 v->desc, v->avail, v->used),
				   "queue %u ready with size %u desc %#lx "
				   "avail %#lx used %#lx",
				   q, v->size, (unsigned long)v->desc,
				   (unsigned long)v->avail,
				   (unsigned long)v->used);
		INVARIANTF(serving(q) == (vd->active && v->ready),
			   "queue %u: ready %d, active %d, worker serving %d",
			   q, v->ready, vd->active, serving(q));
		if (serving(q)) {
			const struct virtqueue *w = &worker(q)->vq;
			INVARIANTF(w->size == v->size && w->desc == v->desc &&
					   w->avail == v->avail &&
					   w->used == v->used,
				   "queue %u runs a layout its registers do "
				   "not have",
				   q);
		}
	}
	T.floor = s;
	pthread_mutex_unlock(&vd->lock);
	INVARIANT(!__atomic_load_n(&T.bad_notifies, __ATOMIC_RELAXED));
}

static void after_op(void)
{
	check_core();
	track_sane();
	t_check();
}

/* ---- operations common to the transports ---- */

static unsigned width(struct fin *in)
{
	static const unsigned w[] = { 1, 2, 4, 8 };

	return w[fin_u8(in) & 3];
}

static uint32_t queue_index(struct fin *in)
{
	static const uint32_t v[] = { 0, 1, 2, 15, 16, 0xffff, 0xffffffff };
	uint8_t b = fin_u8(in);

	return b < 0xf0 ? v[b % 7] : fin_u32(in);
}

static uint32_t size_value(struct fin *in)
{
	static const uint32_t v[] = {
		0,   1,	  2,   4,   16, 32,	64,	 128,	 256,
		512, 100, 255, 257, 3,	0xffff, 0x10000, 0x8000, 0x4000
	};
	uint8_t b = fin_u8(in);

	return b < 0xf0 ? v[b % 18] : fin_u32(in);
}

/* A ring address: the selected queue's arena or the other's, aligned or
 * not, across the end of RAM or of a region, outside RAM, anything. */
static uint64_t ring_addr(struct fin *in)
{
	uint8_t b = fin_u8(in);
	gpa_t a = ARENA(b & 1);

	switch ((b >> 1) % 12) {
	case 0: return a + A_DESC;
	case 1: return a + A_AVAIL;
	case 2: return a + A_USED;
	case 3: return a + A_DESC + 8;
	case 4: return a + A_AVAIL + 1;
	case 5: return a + A_USED + 2;
	case 6: return R1 + 0x1000 * (b >> 5);
	case 7: return R0_SIZE - 0x10 * (1 + (b >> 5));
	case 8: return R1 + R1_SIZE - 0x100;
	case 9: return 0xfffffffffffff000ULL;
	case 10: return 0x100000000ULL + a;
	default: return fin_u64(in);
	}
}

static void op_features(struct fin *in)
{
	uint8_t b = fin_u8(in);
	uint32_t v = b & 0x80 ? fin_u32(in) : (b & 4 ? 0xffffffff : b >> 3);

	switch (b & 3) {
	case 0: t_write(V_DFSEL, v); break;
	case 1: t_write(V_GFSEL, v); break;
	case 2: t_write(V_GF, v); break;
	default: t_read(V_DF); break;
	}
}

static void op_raw(struct fin *in, bool is_write)
{
	uint64_t off = fin_u16(in), v = is_write ? fin_u64(in) : 0;
	unsigned size = width(in);

	TRACE("raw %s %#lx/%u = %#lx", is_write ? "write" : "read",
	      (unsigned long)off, size, (unsigned long)v);
	t_raw(is_write, off, size, &v);
}

/* Driver writes over its rings and descriptors (no queue stays the
 * driver's after one). */
static void op_poke(struct fin *in)
{
	gpa_t at = ARENA(fin_u8(in) & 1) + fin_u16(in) % 0x3000;
	uint8_t len = fin_u8(in) % 17, b[16];

	for (unsigned i = 0; i < len; i++)
		b[i] = fin_u8(in);
	ram_wr(&T.mem, at, b, len);
	for (unsigned q = 0; q < NQ; q++)
		T.dq[q].sane = false;
	TRACE("poke %#lx+%u", (unsigned long)at, len);
}

/* Lets the workers run a little. */
static void op_yield(struct fin *in)
{
	unsigned n = fin_u8(in) % 8;
	struct timespec nap = { 0, 20000 };

	for (unsigned i = 0; i <= n; i++)
		sched_yield();
	if (n == 7)
		nanosleep(&nap, NULL);
}

/* Entries of a /proc directory: open descriptors, or the process's
 * threads without io_uring's own workers (iou-*), which come and go. */
static unsigned count_entries(const char *dir, bool threads)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	INVARIANT(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		if (threads) {
			snprintf(path, sizeof(path), "%s/%s/comm", dir,
				 e->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		n += strncmp(comm, "iou-", 4) != 0;
	}
	closedir(d);
	return n;
}

/* The VMM's exit path with the device in any state, requests in flight
 * included: vblk_destroy returns (every worker drained and joined), and
 * leaves no thread or descriptor behind. The device is then created
 * again on the same disk, with a fresh transport. */
static void destroy_and_recreate(void)
{
	unsigned fds, threads;

	TRACE("destroy");
	vblk_destroy(&T.blk);
	fds = count_entries("/proc/self/fd", false);
	threads = count_entries("/proc/self/task", true);
	fuzz_disk_reopen(&T.disk, &T.blk, NQ, &T.mem);
	t_init();
	vblk_destroy(&T.blk);
	/* A joined thread leaves /proc/self/task a little later, and
	 * io_uring's own workers come and go (named iou-* only once they
	 * run): a leak is more of either, for good. */
	for (unsigned i = 0; i < 1000; i++) {
		if (count_entries("/proc/self/task", true) <= threads)
			break;
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	INVARIANTF(count_entries("/proc/self/fd", false) <= fds &&
			   count_entries("/proc/self/task", true) <= threads,
		   "a device's create and destroy left descriptors or "
		   "threads behind: %u descriptors, %u threads; %u, %u "
		   "before",
		   count_entries("/proc/self/fd", false),
		   count_entries("/proc/self/task", true), fds, threads);
	fuzz_disk_reopen(&T.disk, &T.blk, NQ, &T.mem);
	t_init();
	memset(T.dq, 0, sizeof(T.dq));
	memset(T.was_ready, 0, sizeof(T.was_ready));
	T.floor = 0;
}

#define COMMON_OPS 17

static void common_op(unsigned op, struct fin *in)
{
	uint8_t b;
	uint64_t v;

	switch (op) {
	case 0: {
		uint8_t f = fin_u8(in), s = fin_u8(in);
		TRACE("setup features %#x sizes %#x", f, s);
		setup(f, s);
		break;
	}
	case 1:
	case 2: {
		unsigned q = fin_u8(in) % NQ;
		b = fin_u8(in);
		TRACE("post %u kind %u", q, b & 3);
		if (post(q, (enum kind)(b & 3)) && !(b & 4))
			t_write(V_NOTIFY, q);
		break;
	}
	case 3:
		TRACE("drain");
		drain();
		break;
	case 4:
		b = fin_u8(in);
		TRACE("status %#x", b);
		t_write(V_STATUS, b);
		break;
	case 5: op_features(in); break;
	case 6:
		v = queue_index(in);
		TRACE("queue select %#lx", (unsigned long)v);
		t_write(V_QSEL, v);
		break;
	case 7:
		v = size_value(in);
		TRACE("queue size %#lx", (unsigned long)v);
		t_write(V_QNUM, v);
		break;
	case 8:
		b = fin_u8(in) % 3;
		v = ring_addr(in);
		TRACE("queue ring %u at %#lx", b, (unsigned long)v);
		t_write((enum vreg)(V_QDESC + b), v);
		break;
	case 9:
		b = fin_u8(in);
		TRACE("queue ready %u", b);
		t_write(V_QREADY, b & 0x80 ? 0xffffffff : b & 3);
		break;
	case 10:
		v = queue_index(in);
		TRACE("notify %#lx", (unsigned long)v);
		t_write(V_NOTIFY, v);
		break;
	case 11: op_raw(in, true); break;
	case 12: op_raw(in, false); break;
	case 13: op_poke(in); break;
	case 14: op_yield(in); break;
	case 16:
		/* Rare (a magic byte, twice an input at most): it costs tens
		 * of milliseconds. */
		if (fin_u8(in) == 0xa5 && T.destroys++ < 2)
			destroy_and_recreate();
		break;
	default:
		b = fin_u8(in);
		if (b & 1)
			t_write(V_ISR, b & 0x80 ? fin_u32(in) : 3);
		else
			t_read(V_ISR);
		break;
	}
}

/* ---- per process, per input ---- */

static void transport_fuzz_init(void)
{
	struct mem_region layout[2] = { { .gpa = 0, .size = R0_SIZE },
					{ .gpa = R1, .size = R1_SIZE } };

	fuzz_trace_init();
	fuzz_ram_init(&T.mem, layout, 2);
	fuzz_disk_open(&T.disk, &T.blk, DISK_BYTES, NQ, &T.mem);
	T.self = pthread_self();
}

/* The device reset by the core itself, as a transport's status write
 * would: every worker stopped with nothing in flight. */
static void hard_reset(void)
{
	struct virtio_dev *vd = vdev();

	pthread_mutex_lock(&vd->lock);
	virtio_set_status(vd, 0);
	INVARIANT(!vd->status);
	check_reset_state(vd);
	pthread_mutex_unlock(&vd->lock);
	for (unsigned q = 0; q < NQ; q++)
		INVARIANTF(!serving(q) && !T.blk.queues[q].ctx.inflight,
			   "queue %u still busy after a reset", q);
}

static void begin_input(void)
{
	hard_reset();
	memset(T.mem.regions[0].hva, 0, R0_SIZE);
	memset(T.mem.regions[1].hva, 0, R1_SIZE);
	fuzz_disk_restore(&T.disk);
	memset(T.dq, 0, sizeof(T.dq));
	memset(T.was_ready, 0, sizeof(T.was_ready));
	T.floor = 0;
	T.destroys = 0;
	T.route_fail = false;
	__atomic_store_n(&T.bad_notifies, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&T.bad_fires, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&T.bad_routes, 0, __ATOMIC_RELAXED);
	t_init();
}

/* Whatever the input did, a reset and a proper set-up give a device that
 * serves a read on each queue. */
static void end_input(void)
{
	drain();
	hard_reset();
	t_init();
	T.floor = 0;
	memset(T.was_ready, 0, sizeof(T.was_ready));
	setup(0, 0);
	for (unsigned q = 0; q < NQ; q++) {
		INVARIANT(post(q, K_READ));
		t_write(V_NOTIFY, q);
	}
	drain();
	hard_reset();
}

static void run_input(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };

	begin_input();
	for (T.op = 0; T.op < MAX_OPS && in.n; T.op++) {
		unsigned op = fin_u8(&in) % (COMMON_OPS + T_OPS);
		T.writes = false;
		T.setup_op = op == 0;
		if (op < COMMON_OPS)
			common_op(op, &in);
		else
			t_op(op - COMMON_OPS, &in);
		after_op();
	}
	end_input();
}

#endif
