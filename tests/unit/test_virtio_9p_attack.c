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
 * flight. The register attack, the racing second vCPU and the checks
 * below that do not depend on the device are in virtio_attack.h; this
 * file has the 9P requests.
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
#include <linux/virtio_9p.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/9p.h"
#include "tests/unit/p9_client.h"
#include "virtio_attack.h"

#define NQ 1
#define NSLOTS 16
#define NARENAS 2
#define A_IND 0x3000 /* 64 bytes (4 entries) per slot */
#define A_T 0x4000   /* 4 KiB per slot */
#define A_R 0x20000  /* 8 KiB per slot */
#define T_SIZE 0x1000
#define R_SIZE 0x2000
#define MSIZE 8192
#define DEFAULT_OPS 6000
#define BIG_SIZE (4u << 20)
#define CONFIG_BYTES (2 + V9P_TAG_MAX)
#define TAG "attack9p"

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
	unsigned replies, errors, empty, reads, kinds[K_COUNT];
};

struct attack {
	struct attack_core c; /* first: the shared machinery's */
	char parent[64], export[128], sibling[128];
	struct v9p dev;
	unsigned delayed; /* atomic */
	struct drvq dq[NQ];
	struct stats st;
	uint64_t sibling_sum;
	struct p9b b; /* the T-message being built */
};

static struct attack *attack_of(struct attack_core *c)
{
	return (struct attack *)c; /* its first member */
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

static void arenas_init(struct attack_core *c)
{
	for (unsigned k = 0; k < NARENAS; k++) {
		drv_fill(c, ARENA(k), 0, A_R);
		drv_fill(c, ARENA(k) + A_R, POISON, R_SIZE * NSLOTS);
		allow(c, ARENA(k) + A_R, R_SIZE * NSLOTS);
	}
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
	struct attack_core *c = &a->c;
	const struct slot *s = &a->dq[q].s[n];
	uint32_t got = p9_get32(r + 7);
	uint64_t want = s->off >= BIG_SIZE ? 0 : BIG_SIZE - s->off;

	if (want > s->count)
		want = s->count;
	CHECK(c, got == want && len == 11 + got,
	      "Tread of %u at %#lx: %u bytes in a reply of %u", s->count,
	      s->off, got, len);
	for (uint32_t i = 0; i < got; i++)
		CHECK(c, r[11 + i] == big_byte(s->off + i),
		      "Tread at %#lx: byte %u is %#x", s->off, i, r[11 + i]);
	a->st.reads++;
}

/* A reply of len bytes in slot n's reply area, as its kind allows. */
static void check_reply(struct attack *a, unsigned q, unsigned n, uint32_t len)
{
	struct attack_core *c = &a->c;
	const struct slot *s = &a->dq[q].s[n];
	const uint8_t *r = c->ram + slot_r(a->dq[q].arena, n);
	uint8_t want = want_type(s);

	CHECK(c, len >= FS9P_HDR_SIZE && p9_get32(r) == len,
	      "slot %u (kind %u): used length %u, size field %u", n, s->kind,
	      len, len >= 4 ? p9_get32(r) : 0);
	CHECK(c, mem_page_dirty(&c->mem, slot_r(a->dq[q].arena, n)),
	      "slot %u: reply page not marked dirty", n);
	if (s->kind == K_RING)
		return;
	CHECK(c, p9_get16(r + 5) == s->tag, "slot %u: reply tag %u, sent %u", n,
	      p9_get16(r + 5), s->tag);
	if (r[4] == P9_RLERROR) {
		CHECK(c, len == 11 && !must_succeed(s),
		      "slot %u (kind %u, type %u): Rlerror %u of %u bytes", n,
		      s->kind, s->type, p9_get32(r + 7), len);
		a->st.errors++;
		return;
	}
	CHECK(c, r[4] == want, "slot %u (kind %u): reply type %u to %u", n,
	      s->kind, r[4], s->type);
	if (s->kind == K_READ)
		check_read_data(a, q, n, r, len);
}

static void complete(struct attack_core *c, unsigned q,
		     const struct vring_used_elem *el)
{
	struct attack *a = attack_of(c);
	struct drvq *d = &a->dq[q];
	unsigned n = el->id / 4;
	struct slot *s = &d->s[n];

	CHECK(c, el->id % 4 == 0 && n < d->nslots && s->avail,
	      "queue %u: used id %u was not made available (%u slots)", q,
	      el->id, d->nslots);
	CHECK(c, el->len <= s->rcap,
	      "slot %u (kind %u): used length %u, writable part %u", n, s->kind,
	      el->len, s->rcap);
	if (s->kind == K_NO_IN || s->kind == K_NO_OUT ||
	    (s->kind == K_SMALL_R && s->rcap < 11))
		CHECK(c, el->len == 0, "slot %u (kind %u): used length %u", n,
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
	struct attack_core *c = &a->c;
	struct vring_desc v = { addr, len, flags, next };

	drv_write(c, table + 16ULL * i, &v, sizeof(v));
}

/* Descriptors i.. of table: `tlen` readable bytes at t (in one or two
 * pieces), then `rlen` writable bytes at r (one or two); the count. */
static unsigned lay_chain(struct attack *a, gpa_t table, unsigned i, gpa_t t,
			  uint32_t tlen, gpa_t r, uint32_t rlen)
{
	struct attack_core *c = &a->c;
	unsigned k = 0, first = i;
	uint32_t ts =
		tlen > 1 && below(c, 3) == 0 ? 1 + below(c, tlen - 1) : tlen;
	uint32_t rs =
		rlen > 1 && below(c, 3) == 0 ? 1 + below(c, rlen - 1) : rlen;
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
	struct attack_core *c = &a->c;
	struct p9b *b = &a->b;
	bool w = below(c, 2);

	p9_begin(b, 52, s->tag);
	p9_u32(b, w ? 2 : 3);
	p9_u8(b, below(c, 3) ? (w ? 1 : 0) : 2); /* WRLCK/RDLCK or UNLCK */
	p9_u32(b, below(c, 2));
	p9_u64(b, below(c, 4) * 100);
	p9_u64(b, below(c, 3) * 100);
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
	struct attack_core *c = &a->c;
	const struct drvq *d = &a->dq[q];
	unsigned n = below(c, d->nslots);

	return d->s[n].avail && below(c, 4) ? d->s[n].tag : (uint16_t)rnd(c);
}

/* The T-message of slot s's kind into a->b. */
static void build(struct attack *a, unsigned q, struct slot *s)
{
	static const char *const names[] = { "big", "dir",  "..",
					     ".",   "nope", "lockme" };
	struct attack_core *c = &a->c;
	struct p9b *b = &a->b;

	switch (s->kind) {
	case K_READ:
		s->count = 1 + below(c, MSIZE - 11);
		s->off = below(c, 8) ? below(c, BIG_SIZE - s->count)
				     : BIG_SIZE - below(c, 3 * s->count);
		p9_tread(b, s->tag, 1, s->off, s->count);
		break;
	case K_WALK:
		p9_twalk(b, s->tag, 0, 100 + below(c, 1000), PICK(c, names));
		break;
	case K_CLUNK: p9_tclunk(b, s->tag, 100 + below(c, 1000)); break;
	case K_LOCK: build_lock(a, s); break;
	case K_FLUSH: p9_tflush(b, s->tag, busy_tag(a, q)); break;
	case K_GARBAGE:
		b->len = below(c, 200);
		for (size_t i = 0; i < b->len; i++)
			b->buf[i] = (uint8_t)rnd(c);
		if (b->len >= 7 && below(c, 2))
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
		b->buf[19] = 4 + (uint8_t)below(c, 200);
		b->buf[22] = below(c, 2) ? 0xff : 0;
		break;
	default: build_getattr(a, s->tag); break;
	}
	if (s->kind == K_SIZE_LIE) {
		uint32_t v = below(c, 2) ? (uint32_t)rnd(c)
					 : (uint32_t)b->len + below(c, 9) - 4;
		memcpy(b->buf, &v, 4);
	}
}

/* Writes the message into slot n's T area and its chain's descriptors
 * (4n .. 4n + 3, or an indirect table); the head. */
static void lay(struct attack *a, unsigned q, unsigned n, struct slot *s)
{
	struct attack_core *c = &a->c;
	struct drvq *d = &a->dq[q];
	gpa_t table = ARENA(d->arena) + A_DESC, t = slot_t(d->arena, n);
	gpa_t r = slot_r(d->arena, n), ind = slot_ind(d->arena, n);
	uint32_t tlen = (uint32_t)a->b.len;
	unsigned i = 4 * n;

	drv_write(c, t, a->b.buf, a->b.len);
	s->rcap = below(c, 4) ? R_SIZE : MSIZE;
	switch (s->kind) {
	case K_SMALL_R: s->rcap = 1 + below(c, 30); break;
	case K_NO_IN: s->rcap = 0; break;
	case K_NO_OUT: tlen = 0; break;
	case K_RING:
		t = ARENA(d->arena) + (below(c, 2) ? A_DESC : A_AVAIL);
		tlen = 7 + below(c, 200);
		break;
	case K_OUTSIDE:
		t = below(c, 2) ? RAM + PAGE : 0xa5a5a5a5a5a5a000ULL;
		break;
	default: break;
	}
	if (s->kind == K_NO_OUT)
		s->rcap = R_SIZE;
	if (s->kind == K_INDIRECT || s->kind == K_BAD_IND) {
		unsigned k = lay_chain(a, ind, 0, t, tlen, r, s->rcap);
		desc(a, table, i, ind,
		     s->kind == K_BAD_IND ? (below(c, 2) ? 15 : 0) : 16 * k,
		     VRING_DESC_F_INDIRECT, 0);
	} else {
		lay_chain(a, table, i, t, tlen, r, s->rcap);
	}
	if (s->kind == K_LOOP)
		desc(a, table, i, t, tlen, VRING_DESC_F_NEXT, (uint16_t)i);
}

static enum kind pick_kind(struct attack_core *c)
{
	/* Breaking chains rarely: most epochs should live long. */
	static const unsigned w[K_COUNT] = { 90, 30, 24, 15, 18, 12, 24,
					     12, 9,  12, 6,  6,	 6,  8,
					     1,	 1,  1,	 1,  0 };
	unsigned total = 0, r;

	for (unsigned k = 0; k < K_COUNT; k++)
		total += w[k];
	r = below(c, total);
	for (unsigned k = 0; k < K_COUNT; k++) {
		if (r < w[k])
			return (enum kind)k;
		r -= w[k];
	}
	return K_READ;
}

static void make_available(struct attack *a, unsigned q, unsigned n)
{
	struct attack_core *c = &a->c;
	struct drvq *d = &a->dq[q];
	gpa_t base = ARENA(d->arena);
	uint16_t head = (uint16_t)(4 * n);

	drv_write(c, base + A_AVAIL + 4 + 2ULL * (d->avail_idx % d->size),
		  &head, 2);
	drv_store16(c, base + A_AVAIL + 2, ++d->avail_idx);
	d->s[n].avail++;
	d->outstanding++;
}

/* Makes a request of kind k available in a free slot of queue q; false
 * if none (or the queue is not the driver's, or is being broken). */
static bool post_kind(struct attack *a, unsigned q, enum kind k, uint8_t type)
{
	struct attack_core *c = &a->c;
	struct drvq *d = &a->dq[q];
	struct epoch *e = &c->ep[q];
	unsigned n = 0, i;

	if (!e->live || !e->sane || e->breaking)
		return false;
	if (k == K_REUSE) {
		n = below(c, d->nslots);
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
	drv_fill(c, slot_r(d->arena, n), POISON, R_SIZE);
	lay(a, q, n, &d->s[n]);
	if (kind_breaks(d, k))
		e->breaking = true;
	a->st.kinds[k]++;
	make_available(a, q, n);
	return true;
}

static bool post(struct attack_core *c, unsigned q)
{
	return post_kind(attack_of(c), q, pick_kind(c), 0);
}

static unsigned outstanding(struct attack_core *c, unsigned q)
{
	return attack_of(c)->dq[q].outstanding;
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
	struct attack_core *c = &a->c;
	struct timespec t = { 0, 200000 };

	for (unsigned q = 0; q < NQ; q++) {
		struct epoch *e = &c->ep[q];
		struct drvq *d = &a->dq[q];
		if (!e->live || !e->sane || !d->outstanding)
			continue;
		v9p_kick(&a->dev, q); /* as the ioeventfd would */
		for (unsigned i = 0; i < 25000 && d->outstanding; i++) {
			poll_used(c, q);
			if (d->outstanding && e->breaking &&
			    queue_broken(a, q) && i > 50)
				break;
			if (d->outstanding)
				nanosleep(&t, NULL);
		}
		if (e->breaking && d->outstanding) {
			CHECK(c, queue_broken(a, q),
			      "queue %u: %u requests left, not broken", q,
			      d->outstanding);
			e->sane = false; /* what is left is lost */
			c->st.broken++;
			continue;
		}
		CHECK(c, !d->outstanding,
		      "queue %u: %u requests never completed (used idx %u, "
		      "broken %d)",
		      q, d->outstanding, load16(c, e->used + 2),
		      queue_broken(a, q));
	}
}

/* One request of the driver's set-up, waited for: its reply must be
 * `type`. */
static void sync_rpc(struct attack *a, uint8_t type)
{
	struct attack_core *c = &a->c;
	unsigned before = a->st.errors;

	p9_end(&a->b);
	CHECK(c, post_kind(a, 0, K_SETUP, type), "set-up: no free slot");
	t_kick(c, 0);
	drain_sane(a);
	CHECK(c, a->st.errors == before, "set-up request %u failed", type - 1);
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

/* ---- the driver's own set-up ---- */

/* Queue q on one of its arenas, zeroed, with a valid size; enabled. */
static void setup_queue(struct attack *a, unsigned q)
{
	static const uint16_t sizes[] = { 16, 16, 32, 64, 128, 128 };
	struct drvq *d = &a->dq[q];

	memset(d, 0, sizeof(*d));
	d->arena = 2 * q + below(&a->c, 2);
	d->size = PICK(&a->c, sizes);
	d->nslots = d->size / 4 < NSLOTS ? d->size / 4 : NSLOTS;
	driver_queue(&a->c, q, d->arena, d->size);
}

/* What a Linux driver does at probe: reset, negotiate, queues, DRIVER_OK;
 * the device must accept it whatever came before. Then the 9P session a
 * Linux client starts. */
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
	for (unsigned q = 0; q < NQ; q++)
		a->dq[q].indirect = lo & 1u << VIRTIO_RING_F_INDIRECT_DESC;
	session_init(a);
}

static void kick(struct attack_core *c, unsigned q)
{
	v9p_kick(&attack_of(c)->dev, q);
}

static const struct attack_device v9p_device = {
	.env = "VIRTIO_9P_ATTACK",
	.nq = NQ,
	.queue_max = V9P_QUEUE_SIZE,
	.used_len_max = FS9P_MSIZE_MAX,
	.feature = VIRTIO_9P_MOUNT_TAG,
	.config_span = 0x130,
	.default_ops = DEFAULT_OPS,
	.kick = kick,
	.outstanding = outstanding,
	.complete = complete,
	.post = post,
	.proper_init = proper_init,
};

/* ---- one seed ---- */

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
	struct attack_core *c = &a->c;
	char p[256];
	uint8_t *buf = malloc(BIG_SIZE);
	int fd;

	snprintf(p, sizeof(p), "%s/big", a->export);
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0 && buf);
	cr_assert_eq(pread(fd, buf, BIG_SIZE, 0), BIG_SIZE);
	close(fd);
	for (uint64_t i = 0; i < BIG_SIZE; i++)
		CHECK(c, buf[i] == big_byte(i), "big file byte %#lx is %#x", i,
		      buf[i]);
	free(buf);
	CHECK(c, tree_sum(a->sibling) == a->sibling_sum,
	      "the directory beside the export changed");
}

static void setup(struct attack *a)
{
	struct attack_core *c = &a->c;
	struct v9p_config cfg = { .tag = TAG };

	attack_ram_init(c);
	arenas_init(c);
	make_export(a);
	cfg.path = a->export;
	cr_assert_eq(v9p_init(&a->dev, &cfg, 0, &c->mem), 0);
	a->dev.dispatch.cfg.handle_ctx = a; /* workers idle: no request yet */
	a->dev.dispatch.cfg.handle = slow_handle;
	c->vdev = &a->dev.vdev;
	c->worker[0] = &a->dev.worker; /* one queue */
	c->inflight[0] = &a->dev.inflight;
	attack_transport_init(c);
}

static void teardown(struct attack *a)
{
	attack_transport_destroy(&a->c);
	v9p_destroy(&a->dev);
	attack_ram_destroy(&a->c);
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
	struct attack_core *c = &a->c;
	uint8_t want[CONFIG_BYTES + 64] = { sizeof(TAG) - 1, 0 };

	memcpy(want + 2, TAG, sizeof(TAG) - 1);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned off = 0; off < CONFIG_BYTES + 40; off++)
			for (unsigned w = 0; w < N(widths); w++) {
				uint64_t v = 0, o = off;
				unsigned size = widths[w];
				if (pass) {
					if (c->pci)
						bar_wr(c, VPCI_DEVICE_OFF + o,
						       size, rnd(c));
					else
						mmio_wr(c,
							VIRTIO_MMIO_CONFIG + o,
							size, rnd(c));
				}
				v = c->pci ? bar_rd(c, VPCI_DEVICE_OFF + o,
						    size)
					   : mmio_rd(c, VIRTIO_MMIO_CONFIG + o,
						     size);
				if (off + size <= CONFIG_BYTES)
					CHECK(c, !memcmp(&v, want + off, size),
					      "config %u/%u reads %#lx", off,
					      size, v);
			}
}

/* After everything: a reset and a fresh set-up serve the 9P a Linux
 * client starts with, and a read with the right data. */
static void final_io(struct attack *a)
{
	struct attack_core *c = &a->c;

	drain_sane(a);
	check_ram(c);
	c->op = c->ops;
	proper_init(c);
	CHECK(c, post_kind(a, 0, K_READ, 0), "cannot post a read");
	t_kick(c, 0);
	drain_sane(a);
	CHECK(c, a->st.reads, "no read completed");
	reset_device(c);
	check_ram(c);
}

static void report(struct attack *a)
{
	struct attack_core *c = &a->c;

	if (attack_env(c, "VERBOSE"))
		fprintf(stderr,
			"%s seed %u: %u ops, %u epochs (%u set up by the "
			"driver, %u broken by it), %u replies (%u Rlerror, %u "
			"empty), %u reads checked, %u resets, %u ops with "
			"requests in flight, %lu requests drained, %u delayed, "
			"%u irqs, %u fires, %u racing accesses\n",
			c->pci ? "pci" : "mmio", c->seed, c->ops, c->st.epochs,
			c->st.sane_epochs, c->st.broken, a->st.replies,
			a->st.errors, a->st.empty, a->st.reads, c->st.resets,
			c->st.inflight_ops, a->dev.worker.drained, a->delayed,
			c->irqs, c->fires, c->racer_ops);
	CHECK(c, c->st.inflight_ops > c->ops / 50,
	      "only %u operations ran with requests in flight",
	      c->st.inflight_ops);
	CHECK(c, a->dev.worker.drained > 0,
	      "no stop ever came with requests in flight");
	CHECK(c, c->st.epochs > c->st.sane_epochs,
	      "no queue ever started on a hostile layout");
	CHECK(c, a->st.reads > 10 && a->st.errors > 10 && a->st.empty > 5,
	      "too little traffic: %u reads, %u errors, %u empty", a->st.reads,
	      a->st.errors, a->st.empty);
	CHECK(c, c->pci ? c->fires > 0 : c->irqs > 0, "no interrupt");
}

static void run_seed(bool pci, unsigned seed, bool race)
{
	struct attack *a = calloc(1, sizeof(*a));
	unsigned tasks = count_threads(), fds = count_entries("/proc/self/fd");

	cr_assert_not_null(a);
	attack_begin(&a->c, &v9p_device, pci, seed, race);
	setup(a);
	if (pci)
		pci_enable(&a->c);
	config_sweep(a);
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
