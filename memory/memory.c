/* Guest RAM. mem_create/mem_destroy run on the main thread before vCPUs
 * start and after they stop; the lookup and copy helpers run on any thread
 * and touch only immutable region data plus atomic dirty bits. */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/checked.h"
#include "lib/log.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static const char *backend_name(const struct mem_config *cfg)
{
	switch (cfg->backend) {
	case MEM_BACKEND_MEMFD: return "memfd";
	case MEM_BACKEND_HUGETLBFS: return "hugetlbfs";
	default: return "anon";
	}
}

static int open_backing_file(const struct mem_config *cfg)
{
	int fd;

	if (cfg->backend == MEM_BACKEND_MEMFD)
		return memfd_create("vmm-ram", MFD_CLOEXEC);
	if (!cfg->hugetlbfs_dir)
		return memfd_create("vmm-ram", MFD_CLOEXEC | MFD_HUGETLB);
	/* An unlinked file: the RAM disappears with the process. */
	fd = open(cfg->hugetlbfs_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd;
}

/* Anonymous and memfd RAM asks for transparent huge pages, as QEMU's
 * does: with THP set to "madvise" (Debian's default) the guest otherwise
 * runs on 4 KiB pages, a TLB miss walking two page tables for every 4 KiB
 * it touches (README, bench/blk: the test guest's 1 MiB reads at QD8
 * more than doubled). KVM maps a huge page into the guest only where
 * guest-physical and host-virtual addresses agree modulo 2 MiB, so the
 * mapping starts on a 2 MiB boundary (Linux before 6.7 does not align
 * large anonymous mappings by itself): a larger reservation, trimmed. A
 * kernel without THP refuses the advice, which changes nothing else. */
static int map_thp(struct guest_mem *mem, const struct mem_config *cfg,
		   int flags)
{
	size_t slack = MEM_HUGE_PAGE_SIZE - MEM_PAGE_SIZE;
	uint8_t *p, *base;

	p = mmap(NULL, cfg->size + slack, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	base = (uint8_t *)(((uintptr_t)p + slack) & ~(uintptr_t)slack);
	if (base > p)
		munmap(p, (size_t)(base - p));
	if (base + cfg->size < p + cfg->size + slack)
		munmap(base + cfg->size,
		       (size_t)(p + cfg->size + slack - (base + cfg->size)));
	if (mmap(base, cfg->size, PROT_READ | PROT_WRITE, flags | MAP_FIXED,
		 mem->fd, 0) == MAP_FAILED) {
		int e = errno;

		munmap(base, cfg->size);
		return -e;
	}
	mem->base = base;
	madvise(base, cfg->size, MADV_HUGEPAGE);
	return 0;
}

static int map_ram(struct guest_mem *mem, const struct mem_config *cfg)
{
	int flags = cfg->shared ? MAP_SHARED : MAP_PRIVATE;
	void *p;

	mem->fd = -1;
	if (cfg->backend == MEM_BACKEND_ANON) {
		flags |= MAP_ANONYMOUS | MAP_NORESERVE;
	} else {
		mem->fd = open_backing_file(cfg);
		if (mem->fd < 0)
			return -errno;
		if (ftruncate(mem->fd, (off_t)cfg->size) < 0)
			return -errno;
	}
	if (cfg->backend == MEM_BACKEND_HUGETLBFS) {
		p = mmap(NULL, cfg->size, PROT_READ | PROT_WRITE, flags,
			 mem->fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		mem->base = p;
		return 0;
	}
	return map_thp(mem, cfg, flags);
}

static int alloc_dirty_bitmaps(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		uint64_t pages = mem->regions[i].size / MEM_PAGE_SIZE;
		mem->regions[i].dirty = calloc((pages + 63) / 64, 8);
		if (!mem->regions[i].dirty)
			return -ENOMEM;
	}
	return 0;
}

int mem_create(struct guest_mem *mem, const struct mem_config *cfg,
	       const struct mem_region *layout, unsigned nr_regions)
{
	uint64_t align = cfg->backend == MEM_BACKEND_HUGETLBFS
				 ? MEM_HUGE_PAGE_SIZE
				 : MEM_PAGE_SIZE;
	uint64_t off = 0;
	int r;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (!cfg->size || cfg->size % align) {
		log_error("--memory: %llu bytes is not a positive multiple of "
			  "%llu KiB (the %s page size)",
			  (unsigned long long)cfg->size,
			  (unsigned long long)align >> 10, backend_name(cfg));
		return -EINVAL;
	}
	mem->size = cfg->size;
	r = map_ram(mem, cfg);
	if (r) {
		log_error("guest RAM: cannot map %llu MiB from %s%s%s: %s%s",
			  (unsigned long long)cfg->size >> 20,
			  backend_name(cfg), cfg->hugetlbfs_dir ? " in " : "",
			  cfg->hugetlbfs_dir ? cfg->hugetlbfs_dir : "",
			  strerror(-r),
			  cfg->backend == MEM_BACKEND_HUGETLBFS && r == -ENOMEM
				  ? " (are enough huge pages reserved in "
				    "/proc/sys/vm/nr_hugepages?)"
				  : "");
		mem_destroy(mem);
		return r;
	}
	mem->nr_regions = nr_regions;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		mem->regions[i] = layout[i];
		mem->regions[i].hva = mem->base + off;
		off += mem->regions[i].size;
	}
	r = alloc_dirty_bitmaps(mem);
	if (r) {
		log_error("guest RAM: cannot allocate dirty bitmaps");
		mem_destroy(mem);
	}
	return r;
}

void mem_destroy(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++)
		free(mem->regions[i].dirty);
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}

int mem_set_kvm_flags(const struct guest_mem *mem, int vm_fd, uint32_t flags)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = flags,
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (uintptr_t)mem->regions[i].hva,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			int r = -errno;
			log_error("KVM_SET_USER_MEMORY_REGION slot %u: %s", i,
				  strerror(errno));
			return r;
		}
	}
	return 0;
}

int mem_register_kvm(const struct guest_mem *mem, int vm_fd)
{
	return mem_set_kvm_flags(mem, vm_fd, 0);
}

static const struct mem_region *find_region(const struct guest_mem *mem,
					    gpa_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		if (gpa >= r->gpa && range_within(gpa - r->gpa, len, r->size))
			return r;
	}
	return NULL;
}

void *mem_ptr(const struct guest_mem *mem, gpa_t gpa, uint64_t len)
{
	const struct mem_region *r = find_region(mem, gpa, len);

	return r ? r->hva + (gpa - r->gpa) : NULL;
}

static void mark_dirty(const struct mem_region *r, gpa_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (!len)
		return;
	first = (gpa - r->gpa) / MEM_PAGE_SIZE;
	last = (gpa - r->gpa + len - 1) / MEM_PAGE_SIZE;
	/* Release: pairs with the fetch's acquiring exchange, so the page
	 * copy that follows it sees what was written before the mark. */
	for (uint64_t p = first; p <= last; p++)
		__atomic_fetch_or(&r->dirty[p / 64], 1ULL << (p % 64),
				  __ATOMIC_RELEASE);
}

void *mem_ptr_for_write(const struct guest_mem *mem, gpa_t gpa, uint64_t len)
{
	const struct mem_region *r = find_region(mem, gpa, len);

	if (!r)
		return NULL;
	mark_dirty(r, gpa, len);
	return r->hva + (gpa - r->gpa);
}

int mem_mark_dirty_host(const struct guest_mem *mem, const void *hva,
			uint64_t len)
{
	uintptr_t a = (uintptr_t)hva;

	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		uintptr_t base = (uintptr_t)r->hva;
		if (a >= base && range_within(a - base, len, r->size)) {
			mark_dirty(r, r->gpa + (a - base), len);
			return 0;
		}
	}
	return -EFAULT;
}

int mem_write(const struct guest_mem *mem, gpa_t gpa, const void *src,
	      uint64_t len)
{
	const struct mem_region *r = find_region(mem, gpa, len);

	if (!r)
		return -EFAULT;
	memcpy(r->hva + (gpa - r->gpa), src, len);
	mark_dirty(r, gpa, len); /* after the bytes: see mem_dirty_fetch */
	return 0;
}

int mem_read(const struct guest_mem *mem, gpa_t gpa, void *dst, uint64_t len)
{
	const void *p = mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

bool mem_page_dirty(const struct guest_mem *mem, gpa_t gpa)
{
	const struct mem_region *r = find_region(mem, gpa, 1);
	uint64_t p;

	if (!r)
		return false;
	p = (gpa - r->gpa) / MEM_PAGE_SIZE;
	return __atomic_load_n(&r->dirty[p / 64], __ATOMIC_RELAXED) &
	       (1ULL << (p % 64));
}

uint64_t mem_resident_bytes(const struct guest_mem *mem)
{
	uint64_t pages = mem->size / MEM_PAGE_SIZE, resident = 0;
	unsigned char *vec = malloc(pages);

	if (!vec)
		return 0;
	if (mincore(mem->base, mem->size, vec) == 0)
		for (uint64_t i = 0; i < pages; i++)
			resident += vec[i] & 1;
	free(vec);
	return resident * MEM_PAGE_SIZE;
}
