/* Dirty-page tracking for live migration: which guest pages were written
 * since the last fetch, by the guest (KVM's log: per-slot bitmaps, or
 * per-vCPU dirty rings) or by the VMM's own devices (the guest_mem
 * region bitmaps memory.c marks), as one bitmap per RAM region.
 *
 * Threads: mem_dirty_init and mem_dirty_add_vcpu on the main thread
 * before any vCPU thread starts; mem_dirty_destroy on the main thread
 * after they are joined; start, fetch and stop on one migration thread
 * while the vCPUs run; mem_dirty_ring_full on the vCPU thread whose ring
 * filled. The harvest, KVM's reset and the slots' logging flag are
 * serialised by the struct's lock (dirty.c says what it protects). */
#ifndef MEMORY_DIRTY_H
#define MEMORY_DIRTY_H

#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory.h"

enum mem_dirty_mode {
	MEM_DIRTY_AUTO,	  /* the ring when KVM offers it, else the bitmap */
	MEM_DIRTY_BITMAP, /* KVM_GET_DIRTY_LOG per slot */
	MEM_DIRTY_RING,	  /* KVM's per-vCPU dirty rings */
};

/* One vCPU's dirty ring, mapped from its fd (ring mode). */
struct mem_dirty_ring {
	struct kvm_dirty_gfn *gfns; /* NULL: not added */
	uint32_t next;		    /* free-running: next entry to harvest */
};

/* Owned by the VM (struct vm's `dirty`); the fields are dirty.c's. */
struct mem_dirty {
	enum mem_dirty_mode mode; /* resolved: BITMAP or RING */
	int vm_fd;
	const struct guest_mem *mem;
	bool manual_protect; /* bitmap: KVM_CLEAR_DIRTY_LOG re-protects */
	bool initialized;
	uint32_t ring_entries; /* per vCPU, a power of two */
	size_t ring_bytes;     /* of each mapping */
	struct mem_dirty_ring *rings;
	unsigned nr_rings;
	pthread_mutex_t lock;
	/* Under lock: */
	bool started;
	uint64_t *kvm_bits[MEM_MAX_REGIONS]; /* KVM's pages not yet fetched */
	uint64_t bad_entries; /* ring entries naming no RAM page */
};

/* Main thread, after KVM_CREATE_VM and mem_create, before any
 * KVM_CREATE_VCPU: resolves mode (AUTO: the ring when KVM has
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL or KVM_CAP_DIRTY_LOG_RING) and enables
 * the ring (max_vcpus rings) or, for the bitmap, manual protection when
 * KVM has it. A mode asked for and missing: one log line, -ENOTSUP.
 * 0 or -errno; mem_dirty_destroy is safe afterwards either way. */
int mem_dirty_init(struct mem_dirty *d, int vm_fd, const struct guest_mem *mem,
		   unsigned max_vcpus, enum mem_dirty_mode mode);
/* Main thread, after KVM_CREATE_VCPU of vCPU index (< max_vcpus): maps
 * its ring (ring mode; nothing otherwise). 0 or -errno. */
int mem_dirty_add_vcpu(struct mem_dirty *d, unsigned index, int vcpu_fd);
void mem_dirty_destroy(struct mem_dirty *d);

/* Migration thread. start: every slot logs (KVM_MEM_LOG_DIRTY_PAGES),
 * and what was logged or marked before is dropped: the first round
 * copies every page after start returns. -EALREADY when started. stop:
 * the slots stop logging and KVM's pages not fetched are dropped (the
 * last fetch comes before it); 0 when not started. 0 or -errno after one
 * log line. */
int mem_dirty_start(struct mem_dirty *d);
int mem_dirty_stop(struct mem_dirty *d);

/* Migration thread, while started: the pages of region written since
 * the last fetch of it (or the start) into bitmap, one bit per page of
 * the region ((pages + 63) / 64 words, overwritten): KVM's log OR the
 * VMM's bitmap, both cleared. KVM's pages are write-protected again
 * before it returns, and a device write completed before the fetch
 * takes its word is in this fetch, one completed after in the next.
 * Pages a running vCPU dirtied may wait in its CPU's log (PML) until it
 * next exits: the last fetch, with the vCPUs paused, sees them all.
 * Returns the number of dirty pages, or -errno after one log line (the
 * bitmap's contents are then undefined; nothing is lost: what KVM gave
 * stays for the next fetch). */
int64_t mem_dirty_fetch(struct mem_dirty *d, unsigned region, uint64_t *bitmap);

/* vCPU thread index, on KVM_EXIT_DIRTY_RING_FULL: harvests its ring and
 * resets the rings, under the lock a fetch takes. 0 or -errno after one
 * log line (the vCPU must then stop: re-entering would exit again). */
int mem_dirty_ring_full(struct mem_dirty *d, unsigned index);

/* The ioctls of the thread that calls start, fetch and stop (slot
 * flags, the dirty log, its clear, the ring reset). The vCPU role adds
 * KVM_RESET_DIRTY_RINGS for mem_dirty_ring_full. */
int mem_dirty_rules(scmp_filter_ctx ctx);

/* Pure parts, exposed for the unit tests. */

/* Moves bitmap words into out (words of a region of `pages` pages):
 * out = kvm | vmm, with kvm's words zeroed (kvm may be NULL: none) and
 * vmm's taken by an atomic exchange with zero. Bits at or past `pages`
 * are dropped. Returns the number of bits set in out. */
uint64_t mem_dirty_merge(uint64_t *out, uint64_t *kvm, uint64_t *vmm,
			 uint64_t pages);

/* A slot as the ring names it: its page count and where its harvested
 * pages are set. */
struct mem_dirty_slot {
	uint64_t pages;
	uint64_t *bits;
};

/* Harvests ring (size entries, a power of two) from entry *next (free
 * running, wraps) while entries are dirty, at most size of them: each
 * one's page set in its slot's bits, its flags then set to RESET
 * (release; read with acquire). An entry naming a slot >= nr_slots (or
 * another address space) or an offset past the slot's end is counted in
 * *bad and reset, nothing set. Returns the entries harvested. */
uint32_t mem_dirty_harvest(struct kvm_dirty_gfn *ring, uint32_t size,
			   uint32_t *next, const struct mem_dirty_slot *slots,
			   unsigned nr_slots, uint64_t *bad);

/* A KVM_CLEAR_DIRTY_LOG request: first_page a multiple of 64, pages a
 * multiple of 64 unless it ends the slot; its bitmap starts at word
 * first_page / 64 of the fetched bitmap. */
struct mem_dirty_chunk {
	uint64_t first_page;
	uint32_t pages;
};
#define MEM_DIRTY_CLEAR_MAX_PAGES (1U << 18) /* 1 GiB per request */

/* The next request covering the set bits of bits (a slot of `pages`
 * pages) from page *pos (a multiple of 64): a run of words with a bit
 * set, at most MEM_DIRTY_CLEAR_MAX_PAGES pages, cut at the slot's end.
 * Advances *pos past it. False when no bit is set from *pos on. */
bool mem_dirty_next_chunk(const uint64_t *bits, uint64_t pages, uint64_t *pos,
			  struct mem_dirty_chunk *c);

#endif
