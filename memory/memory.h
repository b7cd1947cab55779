/* Guest RAM: backends (anonymous, memfd, hugetlbfs), KVM slots, and the
 * one checked way to turn a guest-physical address range into host
 * memory. Where the RAM regions lie in guest-physical space is the
 * architecture's choice (arch_mem_layout). */
#ifndef MEMORY_MEMORY_H
#define MEMORY_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t gpa_t;

#define MEM_MAX_REGIONS 2
#define MEM_PAGE_SIZE 4096ULL
#define MEM_HUGE_PAGE_SIZE (2ULL << 20)

enum mem_backend { MEM_BACKEND_ANON, MEM_BACKEND_MEMFD, MEM_BACKEND_HUGETLBFS };

struct mem_config {
	uint64_t size; /* bytes, a multiple of MEM_PAGE_SIZE */
	enum mem_backend backend;
	const char *hugetlbfs_dir; /* hugetlbfs: NULL = memfd MFD_HUGETLB */
	bool shared;		   /* MAP_SHARED instead of MAP_PRIVATE */
};

struct mem_region {
	gpa_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint64_t *dirty; /* one bit per page written by the VMM itself */
};

/* Owned by the VM; regions are fixed after mem_create, so lookups need no
 * lock. The dirty bitmaps are updated with atomic ORs from any thread and
 * taken by atomic exchanges (mem_dirty_fetch). */
struct guest_mem {
	struct mem_region regions[MEM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t size; /* total RAM bytes */
	uint8_t *base; /* one mapping of `size` bytes holding every region */
	int fd;	       /* memfd or hugetlbfs file, -1 for anonymous */
};

/* Validates cfg and maps guest RAM as the nr_regions regions of layout
 * (gpa and size used; their sizes add up to cfg->size). Returns 0 or
 * -errno after logging one line naming the backend and the reason. */
int mem_create(struct guest_mem *mem, const struct mem_config *cfg,
	       const struct mem_region *layout, unsigned nr_regions);
void mem_destroy(struct guest_mem *mem);

/* Registers every region as a KVM memory slot of vm_fd (slot i is
 * region i). */
int mem_register_kvm(const struct guest_mem *mem, int vm_fd);
/* Registers the slots again with these flags (KVM_MEM_LOG_DIRTY_PAGES
 * or 0; memory/dirty.c). 0 or -errno after one log line. */
int mem_set_kvm_flags(const struct guest_mem *mem, int vm_fd, uint32_t flags);

/* Host pointer for [gpa, gpa + len), or NULL when any byte of the range is
 * outside guest RAM (including wrap-around and ranges spanning the hole).
 * The only translation from guest-physical to host addresses. */
void *mem_ptr(const struct guest_mem *mem, gpa_t gpa, uint64_t len);

/* Copies into guest RAM through mem_ptr and then marks the pages dirty;
 * every device write into guest memory goes through this,
 * mem_ptr_for_write or mem_mark_dirty_host. A mark is an atomic OR with
 * release order, after the write: a fetch (memory/dirty.h) that takes
 * the bit also sees the bytes. Returns 0 or -EFAULT. */
int mem_write(const struct guest_mem *mem, gpa_t gpa, const void *src,
	      uint64_t len);
int mem_read(const struct guest_mem *mem, gpa_t gpa, void *dst, uint64_t len);

/* mem_ptr for a range the caller is about to write: marks it dirty
 * before the write, so a fetch between the two would take the mark
 * without the bytes. For writes while dirty tracking is off (the kernel
 * loader); later writes use mem_write or mark after completing. */
void *mem_ptr_for_write(const struct guest_mem *mem, gpa_t gpa, uint64_t len);

/* Marks dirty the guest pages behind the host range [hva, hva + len),
 * which came from mem_ptr: for guest RAM written by someone other than
 * the VMM's own copies (io_uring reading into a guest buffer, a byte
 * stored through a popped chain), marked when the write has completed so
 * that a copy of the page taken before it cannot be mistaken for the final
 * one. 0, or -EFAULT (nothing marked) when the range is not guest RAM. */
int mem_mark_dirty_host(const struct guest_mem *mem, const void *hva,
			uint64_t len);

/* True when the page holding gpa was written through the functions above
 * since the VM started, or, once dirty tracking started, since the last
 * fetch of its region (mem_dirty_fetch takes the bits) or the start. */
bool mem_page_dirty(const struct guest_mem *mem, gpa_t gpa);

/* Bytes of guest RAM resident in host memory (mincore), or 0 on error. */
uint64_t mem_resident_bytes(const struct guest_mem *mem);

/* True when [gpa, gpa + len) is RAM. */
static inline bool mem_is_ram(const struct guest_mem *mem, gpa_t gpa,
			      uint64_t len)
{
	return mem_ptr(mem, gpa, len) != 0;
}

#endif
