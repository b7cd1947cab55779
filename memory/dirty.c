/* Dirty-page tracking for live migration (dirty.h): KVM's log, by slot
 * bitmaps or per-vCPU rings, merged with the VMM's own bitmaps.
 *
 * Threads: init, add_vcpu and destroy on the main thread, while no vCPU
 * thread runs; start, fetch and stop on the migration thread;
 * mem_dirty_ring_full on a vCPU thread.
 *
 * Locking: d->lock protects started, kvm_bits (the pages KVM logged and
 * nobody has fetched yet), bad_entries and each ring's next index, and
 * it is held across every harvest and the KVM_RESET_DIRTY_RINGS that
 * follows it, across KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG, and
 * across the slots' re-registration. So a page harvested by a vCPU's
 * ring-full exit is only handed to a fetch after KVM write-protected it
 * again (QEMU's rule in kvm_dirty_ring_reap_locked): a write after the
 * fetch's copy of the page is logged anew. The rest of struct mem_dirty
 * is set on the main thread before the vCPU and migration threads start
 * and only read afterwards. The VMM's bitmaps (guest_mem's regions) are
 * not under the lock: devices OR their bits in (release) from any
 * thread, a fetch exchanges words with zero (acquire). */
#include "dirty.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sandbox.h"

/* 64 KiB per vCPU: KVM's advice (api.rst), as QEMU's default. */
#define RING_ENTRIES 4096U
/* KVM refuses a ring smaller than a page. */
#define RING_MIN_ENTRIES (4096U / sizeof(struct kvm_dirty_gfn))

static uint64_t words_of(uint64_t pages)
{
	return (pages + 63) / 64;
}

static uint64_t region_pages(const struct guest_mem *mem, unsigned i)
{
	return mem->regions[i].size / MEM_PAGE_SIZE;
}

uint64_t mem_dirty_merge(uint64_t *out, uint64_t *kvm, uint64_t *vmm,
			 uint64_t pages)
{
	uint64_t words = words_of(pages), n = 0;

	for (uint64_t w = 0; w < words; w++) {
		uint64_t v = 0;

		/* A word seen as zero is left alone: a bit set after this
		 * load belongs to the next fetch. */
		if (vmm && __atomic_load_n(&vmm[w], __ATOMIC_RELAXED))
			v = __atomic_exchange_n(&vmm[w], 0, __ATOMIC_ACQUIRE);
		if (kvm) {
			v |= kvm[w];
			kvm[w] = 0;
		}
		if (w == words - 1 && pages % 64)
			v &= (1ULL << (pages % 64)) - 1;
		out[w] = v;
		n += (uint64_t)__builtin_popcountll(v);
	}
	return n;
}

uint32_t mem_dirty_harvest(struct kvm_dirty_gfn *ring, uint32_t size,
			   uint32_t *next, const struct mem_dirty_slot *slots,
			   unsigned nr_slots, uint64_t *bad)
{
	uint32_t n;

	for (n = 0; n < size; n++) {
		struct kvm_dirty_gfn *e = &ring[*next & (size - 1)];
		uint32_t slot;
		uint64_t off;

		/* Acquire: KVM fills slot and offset before the flag. */
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		slot = __atomic_load_n(&e->slot, __ATOMIC_RELAXED);
		off = __atomic_load_n(&e->offset, __ATOMIC_RELAXED);
		if (slot < nr_slots && off < slots[slot].pages)
			slots[slot].bits[off / 64] |= 1ULL << (off % 64);
		else
			(*bad)++;
		/* Release: the reads above are done before KVM may reuse
		 * the entry. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		(*next)++;
	}
	return n;
}

bool mem_dirty_next_chunk(const uint64_t *bits, uint64_t pages, uint64_t *pos,
			  struct mem_dirty_chunk *c)
{
	uint64_t words = words_of(pages), w = *pos / 64, end, last;

	while (w < words && !bits[w])
		w++;
	if (w >= words) {
		*pos = words * 64;
		return false;
	}
	end = w + 1;
	while (end < words && bits[end] &&
	       end - w < MEM_DIRTY_CLEAR_MAX_PAGES / 64)
		end++;
	last = end * 64 < pages ? end * 64 : pages;
	c->first_page = w * 64;
	c->pages = (uint32_t)(last - c->first_page);
	*pos = end * 64;
	return true;
}

static int check_ext(int fd, unsigned long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r > 0 ? r : 0;
}

static int enable_cap(int fd, uint32_t cap, uint64_t arg)
{
	struct kvm_enable_cap ec = { .cap = cap, .args = { arg } };

	return ioctl(fd, KVM_ENABLE_CAP, &ec) < 0 ? -errno : 0;
}

/* The ring capability KVM offers (ACQ_REL first) and its entries per
 * vCPU: RING_ENTRIES, or the largest power of two KVM allows; 0: none. */
static uint32_t ring_cap(int vm_fd, uint32_t *cap)
{
	uint64_t max;
	uint32_t n = RING_ENTRIES;

	if (!KVM_DIRTY_LOG_PAGE_OFFSET)
		return 0; /* this architecture has no ring */
	*cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	max = (uint64_t)check_ext(vm_fd, *cap);
	if (!max) {
		*cap = KVM_CAP_DIRTY_LOG_RING;
		max = (uint64_t)check_ext(vm_fd, *cap);
	}
	max /= sizeof(struct kvm_dirty_gfn); /* KVM reports bytes */
	while (n > max)
		n >>= 1;
	return n >= RING_MIN_ENTRIES ? n : 0;
}

static int init_ring(struct mem_dirty *d, bool asked)
{
	uint32_t cap = 0, n = ring_cap(d->vm_fd, &cap);
	int r;

	if (!n) {
		if (asked)
			log_error("--dirty-tracking ring: this KVM offers no "
				  "dirty ring (KVM_CAP_DIRTY_LOG_RING)");
		return -ENOTSUP;
	}
	r = enable_cap(d->vm_fd, cap,
		       (uint64_t)n * sizeof(struct kvm_dirty_gfn));
	if (r) {
		if (asked)
			log_error(
				"--dirty-tracking ring: enabling a dirty ring "
				"of %u entries per vCPU: %s",
				n, strerror(-r));
		return r;
	}
	d->mode = MEM_DIRTY_RING;
	d->ring_entries = n;
	d->ring_bytes = (size_t)n * sizeof(struct kvm_dirty_gfn);
	return 0;
}

/* KVM_GET_DIRTY_LOG then leaves the log alone, and KVM_CLEAR_DIRTY_LOG
 * write-protects just the pages fetched; without it, the get clears and
 * write-protects the whole slot. KVM_DIRTY_LOG_INITIALLY_SET is not
 * asked for: a slot starts logging clean and write-protected. */
static void init_bitmap(struct mem_dirty *d)
{
	d->mode = MEM_DIRTY_BITMAP;
	if (check_ext(d->vm_fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) &
	    KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
		d->manual_protect =
			!enable_cap(d->vm_fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				    KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
}

int mem_dirty_init(struct mem_dirty *d, int vm_fd, const struct guest_mem *mem,
		   unsigned max_vcpus, enum mem_dirty_mode mode)
{
	int r;

	memset(d, 0, sizeof(*d));
	d->vm_fd = vm_fd;
	d->mem = mem;
	r = pthread_mutex_init(&d->lock, NULL);
	if (r) {
		log_error("dirty tracking: %s", strerror(r));
		return -r;
	}
	d->initialized = true;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		d->kvm_bits[i] = calloc(words_of(region_pages(mem, i)), 8);
		if (!d->kvm_bits[i]) {
			log_error("dirty tracking: cannot allocate bitmaps");
			return -ENOMEM;
		}
	}
	if (mode != MEM_DIRTY_BITMAP) {
		r = init_ring(d, mode == MEM_DIRTY_RING);
		if (r && mode == MEM_DIRTY_RING)
			return r;
	}
	if (d->mode != MEM_DIRTY_RING) {
		init_bitmap(d);
		return 0;
	}
	d->rings = calloc(max_vcpus, sizeof(*d->rings));
	if (!d->rings) {
		log_error("dirty tracking: cannot allocate %u rings",
			  max_vcpus);
		return -ENOMEM;
	}
	d->nr_rings = max_vcpus;
	return 0;
}

int mem_dirty_add_vcpu(struct mem_dirty *d, unsigned index, int vcpu_fd)
{
	off_t at = (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE);
	void *p;

	if (d->mode != MEM_DIRTY_RING)
		return 0;
	if (index >= d->nr_rings || d->rings[index].gfns) {
		log_error("dirty ring of vCPU %u: not a vCPU index, or "
			  "mapped already",
			  index);
		return -EINVAL;
	}
	p = mmap(NULL, d->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		 vcpu_fd, at);
	if (p == MAP_FAILED) {
		int r = -errno;
		log_error("mapping the dirty ring of vCPU %u: %s", index,
			  strerror(errno));
		return r;
	}
	d->rings[index].gfns = p;
	return 0;
}

void mem_dirty_destroy(struct mem_dirty *d)
{
	if (!d->initialized)
		return;
	for (unsigned i = 0; i < d->nr_rings; i++)
		if (d->rings[i].gfns)
			munmap(d->rings[i].gfns, d->ring_bytes);
	free(d->rings);
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++)
		free(d->kvm_bits[i]);
	pthread_mutex_destroy(&d->lock);
	memset(d, 0, sizeof(*d));
}

/* Under d->lock. */
static void harvest_ring(struct mem_dirty *d, unsigned index)
{
	struct mem_dirty_slot slots[MEM_MAX_REGIONS];
	struct mem_dirty_ring *ring = &d->rings[index];

	if (!ring->gfns)
		return;
	for (unsigned i = 0; i < d->mem->nr_regions; i++)
		slots[i] = (struct mem_dirty_slot){ region_pages(d->mem, i),
						    d->kvm_bits[i] };
	mem_dirty_harvest(ring->gfns, d->ring_entries, &ring->next, slots,
			  d->mem->nr_regions, &d->bad_entries);
}

/* Under d->lock: every ring harvested into kvm_bits, then the harvested
 * entries recycled, their pages write-protected again. */
static int harvest_all(struct mem_dirty *d)
{
	for (unsigned i = 0; i < d->nr_rings; i++)
		harvest_ring(d, i);
	if (ioctl(d->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0) {
		int r = -errno;
		log_error("KVM_RESET_DIRTY_RINGS: %s", strerror(errno));
		return r;
	}
	return 0;
}

/* Under d->lock. */
static void drop_logged(struct mem_dirty *d)
{
	for (unsigned i = 0; i < d->mem->nr_regions; i++)
		memset(d->kvm_bits[i], 0,
		       words_of(region_pages(d->mem, i)) * 8);
	d->bad_entries = 0;
}

int mem_dirty_start(struct mem_dirty *d)
{
	int r;

	pthread_mutex_lock(&d->lock);
	if (d->started) {
		pthread_mutex_unlock(&d->lock);
		log_error("dirty tracking: started twice");
		return -EALREADY;
	}
	r = mem_set_kvm_flags(d->mem, d->vm_fd, KVM_MEM_LOG_DIRTY_PAGES);
	/* Entries left from an earlier run, recycled and dropped. */
	if (!r && d->mode == MEM_DIRTY_RING)
		r = harvest_all(d);
	if (r) {
		mem_set_kvm_flags(d->mem, d->vm_fd, 0);
	} else {
		drop_logged(d);
		for (unsigned i = 0; i < d->mem->nr_regions; i++) {
			uint64_t *vmm = d->mem->regions[i].dirty;
			for (uint64_t w = 0;
			     w < words_of(region_pages(d->mem, i)); w++)
				__atomic_store_n(&vmm[w], 0, __ATOMIC_RELAXED);
		}
		d->started = true;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

int mem_dirty_stop(struct mem_dirty *d)
{
	int r = 0;

	pthread_mutex_lock(&d->lock);
	if (d->started) {
		/* Recycled while the slots still log, so that no reset
		 * write-protects a slot that no longer does. */
		if (d->mode == MEM_DIRTY_RING)
			harvest_all(d);
		r = mem_set_kvm_flags(d->mem, d->vm_fd, 0);
		drop_logged(d);
		d->started = false;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Under d->lock: the slot's log into out (scratch) and kvm_bits; with
 * manual protection, the pages fetched are then cleared and protected. A
 * failure leaves them in kvm_bits for the next fetch. */
static int fetch_bitmap(struct mem_dirty *d, unsigned slot, uint64_t *out)
{
	uint64_t pages = region_pages(d->mem, slot), pos = 0;
	uint64_t *acc = d->kvm_bits[slot];
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = out };
	struct mem_dirty_chunk c;

	if (ioctl(d->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		int r = -errno;
		log_error("KVM_GET_DIRTY_LOG slot %u: %s", slot,
			  strerror(errno));
		return r;
	}
	for (uint64_t w = 0; w < words_of(pages); w++)
		acc[w] |= out[w];
	while (d->manual_protect &&
	       mem_dirty_next_chunk(out, pages, &pos, &c)) {
		struct kvm_clear_dirty_log cl = {
			.slot = slot,
			.num_pages = c.pages,
			.first_page = c.first_page,
			.dirty_bitmap = out + c.first_page / 64,
		};
		if (ioctl(d->vm_fd, KVM_CLEAR_DIRTY_LOG, &cl) < 0) {
			int r = -errno;
			log_error(
				"KVM_CLEAR_DIRTY_LOG slot %u pages %llu+%u: %s",
				slot, (unsigned long long)c.first_page, c.pages,
				strerror(errno));
			return r;
		}
	}
	return 0;
}

int64_t mem_dirty_fetch(struct mem_dirty *d, unsigned region, uint64_t *bitmap)
{
	int64_t n;
	int r;

	if (region >= d->mem->nr_regions) {
		log_error("dirty tracking: no RAM region %u", region);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	if (!d->started) {
		pthread_mutex_unlock(&d->lock);
		log_error("dirty tracking: fetch before start");
		return -EINVAL;
	}
	r = d->mode == MEM_DIRTY_RING ? harvest_all(d)
				      : fetch_bitmap(d, region, bitmap);
	if (r) {
		pthread_mutex_unlock(&d->lock);
		return r;
	}
	if (d->bad_entries) {
		log_error("dirty ring: %llu entries named no guest RAM page "
			  "(ignored)",
			  (unsigned long long)d->bad_entries);
		d->bad_entries = 0;
	}
	n = (int64_t)mem_dirty_merge(bitmap, d->kvm_bits[region],
				     d->mem->regions[region].dirty,
				     region_pages(d->mem, region));
	pthread_mutex_unlock(&d->lock);
	return n;
}

int mem_dirty_ring_full(struct mem_dirty *d, unsigned index)
{
	int r;

	if (d->mode != MEM_DIRTY_RING || index >= d->nr_rings) {
		log_error("vCPU %u: dirty ring full without a ring", index);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	harvest_ring(d, index);
	r = ioctl(d->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0 ? -errno : 0;
	pthread_mutex_unlock(&d->lock);
	if (r)
		log_error("vCPU %u: KVM_RESET_DIRTY_RINGS: %s", index,
			  strerror(-r));
	return r;
}

int mem_dirty_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = {
		KVM_SET_USER_MEMORY_REGION, /* start, stop */
		KVM_GET_DIRTY_LOG,
		KVM_CLEAR_DIRTY_LOG,
		KVM_RESET_DIRTY_RINGS,
	};

	return sandbox_allow_ioctls(ctx, ioctls,
				    sizeof(ioctls) / sizeof(ioctls[0]));
}
