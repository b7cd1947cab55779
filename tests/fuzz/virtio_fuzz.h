/* Shared by the virtio fuzz targets (fuzz_virtqueue, fuzz_blk_req,
 * fuzz_virtio_mmio, fuzz_virtio_pci): the INVARIANT macros, a reader of
 * the input bytes, guest RAM in heap buffers, a reference walker of split
 * virtqueue chains written from the specification and virtqueue.h rather
 * than from virtqueue.c, and a virtio-blk device on a temporary disk.
 *
 * Guest RAM: each region is its own heap allocation, so AddressSanitizer
 * reports an access just outside any region (mmap'd RAM would hide it),
 * and a range spanning two regions is not contiguous on the host either.
 * The struct guest_mem is filled in by hand and never passed to
 * mem_destroy. */
#ifndef TESTS_FUZZ_VIRTIO_FUZZ_H
#define TESTS_FUZZ_VIRTIO_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/virtqueue.h"
#include "memory/memory.h"

/* The same with a line of context. */
#define INVARIANTF(c, ...)                                                     \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "INVARIANT failed: %s: ", #c);         \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* Loops of the harness over every byte of RAM or a disk: without
 * coverage instrumentation, which would cost more than the code under
 * test and tells the fuzzer nothing. */
#define NO_COVERAGE                                                            \
	__attribute__((no_sanitize("coverage", "address"), noinline))

/* VMM_FUZZ_TRACE=1 in the environment: each operation on stderr, for
 * reading a crashing input. */
static bool fuzz_trace;

#define TRACE(...)                                                             \
	do {                                                                   \
		if (fuzz_trace) {                                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

static inline void fuzz_trace_init(void)
{
	fuzz_trace = getenv("VMM_FUZZ_TRACE") != NULL;
}

/* ---- the input, consumed from the front; zeroes once it runs out ---- */

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fin_u8(struct fin *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fin_u16(struct fin *in)
{
	uint16_t lo = fin_u8(in);

	return (uint16_t)(lo | fin_u8(in) << 8);
}

static inline uint32_t fin_u32(struct fin *in)
{
	uint32_t lo = fin_u16(in);

	return lo | (uint32_t)fin_u16(in) << 16;
}

static inline uint64_t fin_u64(struct fin *in)
{
	uint64_t lo = fin_u32(in);

	return lo | (uint64_t)fin_u32(in) << 32;
}

/* ---- guest RAM ---- */

/* Regions of layout (gpa and size used), each a heap buffer of its own,
 * zeroed, with a dirty bitmap. For the whole process. */
static inline void fuzz_ram_init(struct guest_mem *mem,
				 const struct mem_region *layout, unsigned n)
{
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	mem->nr_regions = n;
	for (unsigned i = 0; i < n; i++) {
		struct mem_region *r = &mem->regions[i];
		uint64_t pages = layout[i].size / MEM_PAGE_SIZE;
		*r = layout[i];
		r->hva = aligned_alloc(MEM_PAGE_SIZE, r->size);
		r->dirty = calloc((pages + 63) / 64, 8);
		INVARIANT(r->hva && r->dirty);
		memset(r->hva, 0, r->size);
		mem->size += r->size;
	}
	mem->base = mem->regions[0].hva;
}

static inline void fuzz_ram_clear_dirty(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		uint64_t pages = mem->regions[i].size / MEM_PAGE_SIZE;
		memset(mem->regions[i].dirty, 0, (pages + 63) / 64 * 8);
	}
}

/* Host bytes of [gpa, gpa + len) when the range lies inside one region,
 * else NULL: the bounds as the memory API documents them, computed here
 * without it. len 0 is refused. */
static inline uint8_t *ram_at(const struct guest_mem *mem, gpa_t gpa,
			      uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		if (len && gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

/* True when the host range [p, p + len) lies inside one region. */
static inline bool hva_in_ram(const struct guest_mem *mem, const void *p,
			      uint64_t len)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned i = 0; i < mem->nr_regions; i++) {
		uintptr_t b = (uintptr_t)mem->regions[i].hva;
		if (a >= b && a - b < mem->regions[i].size &&
		    len <= mem->regions[i].size - (a - b))
			return true;
	}
	return false;
}

/* Guest-physical address of a host byte of RAM, or ~0. */
static inline gpa_t hva_to_gpa(const struct guest_mem *mem, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned i = 0; i < mem->nr_regions; i++) {
		uintptr_t b = (uintptr_t)mem->regions[i].hva;
		if (a >= b && a - b < mem->regions[i].size)
			return mem->regions[i].gpa + (a - b);
	}
	return ~0ULL;
}

static inline uint16_t ram_rd16(const struct guest_mem *mem, gpa_t gpa)
{
	uint16_t v = 0;
	uint8_t *p = ram_at(mem, gpa, 2);

	if (p)
		memcpy(&v, p, 2);
	return v;
}

static inline void ram_wr(const struct guest_mem *mem, gpa_t gpa,
			  const void *src, uint64_t len)
{
	uint8_t *p = ram_at(mem, gpa, len);

	if (p) {
		memcpy(p, src, len);
		return;
	}
	/* Byte by byte: a range may run off a region and still be written
	 * where it is RAM. */
	for (uint64_t i = 0; i < len; i++) {
		uint8_t *p = ram_at(mem, gpa + i, 1);
		if (p)
			*p = ((const uint8_t *)src)[i];
	}
}

/* ---- the reference walker ---- */

/* A queue as the driver configured it, and the reference's progress. */
struct ref_vq {
	const struct guest_mem *mem;
	uint16_t size;
	bool indirect, ready, broken;
	gpa_t desc, avail, used;
	uint16_t last_avail;
};

struct ref_seg {
	gpa_t gpa;
	uint32_t len;
	bool write;
};

struct ref_chain {
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_bytes, in_bytes;
	gpa_t table; /* the indirect table read, if table_len */
	uint32_t table_len;
	struct ref_seg seg[VQ_MAX_SEGS];
};

struct ref_walk {
	struct ref_chain *c;
	bool seen_in;
};

static inline struct vring_desc ref_desc(const struct guest_mem *mem, gpa_t gpa)
{
	struct vring_desc d;
	uint8_t *p = ram_at(mem, gpa, sizeof(d));

	INVARIANT(p); /* the callers checked the table */
	memcpy(&d, p, sizeof(d));
	return d;
}

/* A buffer joins the chain: readable ones before writable ones, empty
 * ones skipped (after the order check), RAM only, at most VQ_MAX_SEGS. */
static inline int ref_add(const struct ref_vq *q, struct ref_walk *w,
			  const struct vring_desc *d)
{
	struct ref_chain *c = w->c;
	bool write = d->flags & VRING_DESC_F_WRITE;

	if (!write && w->seen_in)
		return -1;
	if (!d->len)
		return 0;
	if (!ram_at(q->mem, d->addr, d->len) ||
	    c->n_out + c->n_in == VQ_MAX_SEGS)
		return -1;
	c->seg[c->n_out + c->n_in] = (struct ref_seg){ d->addr, d->len, write };
	if (write) {
		w->seen_in = true;
		c->n_in++;
		c->in_bytes += d->len;
	} else {
		c->n_out++;
		c->out_bytes += d->len;
	}
	return 0;
}

/* An indirect table (2.7.5.3): negotiated, the ring's descriptor without
 * NEXT, whole entries, 1 to VQ_MAX_INDIRECT of them, in RAM; no nested
 * table; at most as many entries read as the table has. */
static inline int ref_indirect(const struct ref_vq *q, struct ref_walk *w,
			       const struct vring_desc *t)
{
	uint32_t n = t->len / 16, budget, j = 0;

	if (!q->indirect || (t->flags & VRING_DESC_F_NEXT) || t->len % 16 ||
	    !n || n > VQ_MAX_INDIRECT || !ram_at(q->mem, t->addr, t->len))
		return -1;
	w->c->table = t->addr;
	w->c->table_len = t->len;
	for (budget = n;; budget--) {
		struct vring_desc d;
		if (!budget || j >= n)
			return -1;
		d = ref_desc(q->mem, t->addr + 16ULL * j);
		if ((d.flags & VRING_DESC_F_INDIRECT) || ref_add(q, w, &d))
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		j = d.next;
	}
}

/* The chain at head: at most size descriptors read from the ring (no
 * loops), an indirect table only as the head. 0, or -1: broken. */
static inline int ref_walk_chain(const struct ref_vq *q, uint16_t head,
				 struct ref_chain *c)
{
	struct ref_walk w = { .c = c };
	unsigned budget = q->size;
	uint16_t i = head;

	memset(c, 0, offsetof(struct ref_chain, seg));
	c->head = head;
	for (;; budget--) {
		struct vring_desc d;
		if (!budget || i >= q->size)
			return -1;
		d = ref_desc(q->mem, q->desc + 16ULL * i);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (i != head || (d.flags & VRING_DESC_F_NEXT))
				return -1;
			return ref_indirect(q, &w, &d);
		}
		if (ref_add(q, &w, &d))
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/* vq_pop's contract: 1 with a chain, 0 when the ring is empty, -EINVAL
 * (and broken for good) when the driver broke the queue: more entries
 * than the ring holds, a head outside the table, a bad chain. */
static inline int ref_pop(struct ref_vq *q, struct ref_chain *c)
{
	uint16_t idx, head;

	if (!q->ready || q->broken)
		return -EINVAL;
	idx = ram_rd16(q->mem, q->avail + 2);
	if (idx == q->last_avail)
		return 0;
	head = ram_rd16(q->mem,
			q->avail + 4 + 2ULL * (q->last_avail % q->size));
	if ((uint16_t)(idx - q->last_avail) > q->size || head >= q->size ||
	    ref_walk_chain(q, head, c)) {
		q->broken = true;
		return -EINVAL;
	}
	q->last_avail++;
	return 1;
}

/* What vq_enable must accept (virtqueue.h): a size that is a power of two
 * no larger than max and VQ_MAX_SIZE, aligned rings (2.7), each inside
 * RAM. */
static inline bool ref_layout_ok(const struct guest_mem *mem, uint32_t size,
				 uint32_t max, gpa_t desc, gpa_t avail,
				 gpa_t used)
{
	return size && !(size & (size - 1)) && size <= max &&
	       size <= VQ_MAX_SIZE && !(desc % 16) && !(avail % 2) &&
	       !(used % 4) && ram_at(mem, desc, 16ULL * size) &&
	       ram_at(mem, avail, 6 + 2ULL * size) &&
	       ram_at(mem, used, 6 + 8ULL * size);
}

/* A chain vq_pop returned is the reference's, and is sound on its own:
 * within the segment limit, every iovec non-empty and inside one RAM
 * region, the byte counts their sums, readable ones first. */
static inline void check_chain(const struct guest_mem *mem,
			       const struct vq_chain *c,
			       const struct ref_chain *ref)
{
	uint64_t out = 0, in = 0;

	INVARIANT(c->mem == mem);
	INVARIANT(c->n_out + c->n_in <= VQ_MAX_SEGS);
	for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
		INVARIANTF(c->iov[i].iov_len &&
				   hva_in_ram(mem, c->iov[i].iov_base,
					      c->iov[i].iov_len),
			   "iovec %u of %u (%zu bytes) outside guest RAM", i,
			   c->n_out + c->n_in, c->iov[i].iov_len);
		*(i < c->n_out ? &out : &in) += c->iov[i].iov_len;
	}
	INVARIANT(out == c->out_bytes && in == c->in_bytes);
	INVARIANTF(c->head == ref->head && c->n_out == ref->n_out &&
			   c->n_in == ref->n_in &&
			   c->out_bytes == ref->out_bytes &&
			   c->in_bytes == ref->in_bytes,
		   "chain at head %u: %u+%u segments, %lu+%lu bytes; the "
		   "reference walked head %u: %u+%u, %lu+%lu",
		   c->head, c->n_out, c->n_in, (unsigned long)c->out_bytes,
		   (unsigned long)c->in_bytes, ref->head, ref->n_out, ref->n_in,
		   (unsigned long)ref->out_bytes, (unsigned long)ref->in_bytes);
	for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
		const struct ref_seg *s = &ref->seg[i];
		INVARIANTF(c->iov[i].iov_base == ram_at(mem, s->gpa, s->len) &&
				   c->iov[i].iov_len == s->len &&
				   s->write == (i >= c->n_out),
			   "segment %u: not the descriptor's buffer %#lx+%u", i,
			   (unsigned long)s->gpa, s->len);
	}
}

/* ---- a virtio-blk device on a temporary raw disk ---- */

#define FUZZ_SERIAL "FUZZ-SERIAL-01234567" /* all 20 bytes, no NUL */

static inline uint8_t fuzz_disk_byte(uint64_t i)
{
	return (uint8_t)(i * 7 ^ (i >> 8) ^ 0x3c);
}

struct fuzz_disk {
	int fd; /* the harness's own descriptor of the (unlinked) file */
	uint64_t bytes;
	uint8_t *pattern;
};

/* A disk of bytes bytes holding fuzz_disk_byte, and vblk b of queues
 * queues on it (page cache, no sandbox), its file already unlinked (a
 * fuzzer killed by the run's time limit leaves nothing behind). */
static inline void fuzz_disk_open(struct fuzz_disk *d, struct vblk *b,
				  uint64_t bytes, unsigned queues,
				  const struct guest_mem *mem)
{
	/* tmpfs when there is one: a flush costs no disk write there. */
	char path[] = "/dev/shm/vmm-fuzz-disk-XXXXXX";
	struct vblk_config cfg = { .path = path, .queues = queues };

	memcpy(cfg.serial, FUZZ_SERIAL, VBLK_ID_BYTES);
	d->bytes = bytes;
	d->pattern = malloc(bytes);
	d->fd = mkstemp(path);
	if (d->fd < 0) {
		strcpy(path, "/tmp/vmm-fuzz-disk-XXXXXX");
		d->fd = mkstemp(path);
	}
	INVARIANT(d->pattern && d->fd >= 0);
	for (uint64_t i = 0; i < bytes; i++)
		d->pattern[i] = fuzz_disk_byte(i);
	INVARIANT(pwrite(d->fd, d->pattern, bytes, 0) == (ssize_t)bytes);
	INVARIANT(vblk_init(b, &cfg, 0, mem) == 0);
	unlink(path);
}

/* vblk b again on the same (unlinked) disk, after vblk_destroy. */
static inline void fuzz_disk_reopen(struct fuzz_disk *d, struct vblk *b,
				    unsigned queues,
				    const struct guest_mem *mem)
{
	char path[64];
	struct vblk_config cfg = { .path = path, .queues = queues };

	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fd);
	memcpy(cfg.serial, FUZZ_SERIAL, VBLK_ID_BYTES);
	INVARIANT(vblk_init(b, &cfg, 0, mem) == 0);
}

/* The disk back to its pattern, its size unchanged. */
static inline void fuzz_disk_restore(struct fuzz_disk *d)
{
	struct stat st;

	INVARIANT(fstat(d->fd, &st) == 0 && (uint64_t)st.st_size == d->bytes);
	INVARIANT(pwrite(d->fd, d->pattern, d->bytes, 0) == (ssize_t)d->bytes);
}

#endif
