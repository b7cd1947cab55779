/* Loads the kernel (bzImage, or ELF with or without the PVH note), the
 * initrd and the command line into guest RAM and writes the boot
 * information the chosen entry mode expects (arch_load_kernel). A bzImage
 * may instead be booted as the PVH ELF inside it, unpacked on the host
 * once and kept in the kernel cache: its own decompressor is a large part
 * of a short-lived VM's start (3.3 s of 7.8 s for Debian's xz kernel in
 * the lab).
 *
 * Main thread at start-up. Kernel and initrd files are mapped read-only,
 * copied into guest RAM through the memory API, and unmapped. */
#include "arch/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootparams.h"
#include "bzimage.h"
#include "lib/checked.h"
#include "elf.h"
#include "layout.h"
#include "lib/log.h"
#include "lib/open_input.h"
#include "vmm/kernel_cache.h"
#include "vmm/vm.h"

/* fd stays open while the file is mapped: large parts (ELF segments) are
 * read with pread rather than copied out of the mapping, which would
 * leave the whole file counted in vmm's peak RSS. */
struct mapped_file {
	const uint8_t *data;
	size_t size;
	int fd; /* valid while data is */
};

/* Maps fd (which stays the caller's); reports errors as WHAT PATH. */
static int map_fd(const char *what, const char *path, int fd,
		  struct mapped_file *f)
{
	struct stat st;
	int e;

	if (fstat(fd, &st) < 0) {
		e = errno;
		log_error("%s %s: %s", what, path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		log_error("%s %s: not a non-empty regular file", what, path);
		return -EINVAL;
	}
	f->size = (size_t)st.st_size;
	f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		e = errno;
		f->data = NULL;
		log_error("%s %s: %s", what, path, strerror(e));
		return -e;
	}
	f->fd = fd;
	return 0;
}

static int map_file(const char *what, const char *path, struct mapped_file *f)
{
	int fd = open_input(path, O_RDONLY), r;

	if (fd < 0) {
		log_error("%s %s: %s", what, path, strerror(-fd));
		return fd;
	}
	r = map_fd(what, path, fd, f);
	if (r)
		close(fd);
	return r;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->data) {
		munmap((void *)f->data, f->size);
		close(f->fd);
		f->data = NULL;
	}
}

/* Loading state shared by the steps below. */
struct load {
	const struct vm *vm;
	const struct vm_config *cfg;
	struct boot_info info;
	struct e820_entry e820[E820_MAX];
	uint64_t kernel_end;  /* first byte above the kernel image */
	uint64_t initrd_max;  /* initrd must end at or below this */
	uint32_t cmdline_max; /* bytes, without NUL */
	const char *note;     /* how the kernel boots, for --stats */
};

static uint8_t *guest_dst(const struct load *l, const char *what, uint64_t gpa,
			  uint64_t memsz)
{
	uint8_t *dst = mem_ptr_for_write(&l->vm->mem, gpa, memsz);

	if (!dst)
		log_error("%s: %llu bytes at %#llx do not fit in guest RAM "
			  "(%llu MiB)",
			  what, (unsigned long long)memsz,
			  (unsigned long long)gpa,
			  (unsigned long long)l->vm->mem.size >> 20);
	return dst;
}

static int copy_in(const struct load *l, const char *what, uint64_t gpa,
		   const void *src, uint64_t len, uint64_t memsz)
{
	uint8_t *dst = guest_dst(l, what, gpa, memsz);

	if (!dst)
		return -EINVAL;
	memcpy(dst, src, len);
	memset(dst + len, 0, memsz - len);
	return 0;
}

/* copy_in from f at off; len bytes that the parser found inside the file
 * (a file that shrank since is an error, not a SIGBUS). */
static int copy_in_file(const struct load *l, const char *what, uint64_t gpa,
			const struct mapped_file *f, uint64_t off, uint64_t len,
			uint64_t memsz)
{
	uint8_t *dst = guest_dst(l, what, gpa, memsz);
	uint64_t done = 0;

	if (!dst)
		return -EINVAL;
	while (done < len) {
		ssize_t n = pread(f->fd, dst + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			log_error("%s: reading kernel %s: %s", what,
				  l->cfg->kernel,
				  n < 0 ? strerror(e) : "the file shrank");
			return -e;
		}
		done += (uint64_t)n;
	}
	memset(dst + len, 0, memsz - len);
	return 0;
}

static int load_cmdline(struct load *l)
{
	size_t len = strlen(l->cfg->cmdline);

	if (len > l->cmdline_max) {
		log_error("--cmdline: %zu bytes, the kernel accepts at most %u",
			  len, l->cmdline_max);
		return -EINVAL;
	}
	l->info.cmdline_gpa = LAYOUT_CMDLINE;
	l->info.cmdline_len = (uint32_t)len;
	return copy_in(l, "--cmdline", LAYOUT_CMDLINE, l->cfg->cmdline, len + 1,
		       len + 1);
}

static int place_initrd(struct load *l, const char *name, const uint8_t *data,
			size_t size)
{
	const struct mem_region *low = &l->vm->mem.regions[0];
	uint64_t top = low->size < l->initrd_max ? low->size : l->initrd_max;
	uint64_t gpa = size <= top ? align_down(top - size, MEM_PAGE_SIZE) : 0;
	int r;

	if (size > UINT32_MAX || gpa < l->kernel_end) {
		log_error("initrd %s: %zu bytes do not fit between the kernel "
			  "and %llu MiB",
			  name, size, (unsigned long long)top >> 20);
		return -EINVAL;
	}
	r = copy_in(l, "initrd", gpa, data, size, size);
	l->info.initrd_gpa = gpa;
	l->info.initrd_size = (uint32_t)size;
	return r;
}

/* A file (--initrd), or the initramfs vmm built in memory. */
static int load_initrd(struct load *l)
{
	struct mapped_file f = { 0 };
	int r;

	if (l->cfg->initrd_data)
		return place_initrd(l, "(built in memory)", l->cfg->initrd_data,
				    l->cfg->initrd_size);
	if (!l->cfg->initrd)
		return 0;
	r = map_file("initrd", l->cfg->initrd, &f);
	if (!r)
		r = place_initrd(l, l->cfg->initrd, f.data, f.size);
	unmap_file(&f);
	return r;
}

static int load_bzimage(struct load *l, const struct bzimage *bz,
			struct boot_entry *entry)
{
	uint64_t addr = bzimage_load_address(bz);

	l->kernel_end = addr + bz->init_size;
	l->initrd_max = (uint64_t)bz->initrd_addr_max + 1;
	l->cmdline_max = bz->cmdline_size;
	*entry = (struct boot_entry){ BOOT_LINUX64, addr + BZ_ENTRY_64,
				      LAYOUT_ZERO_PAGE };
	/* Reserve init_size so the decompressor's room is known to be RAM. */
	return copy_in(l, "kernel", addr, bz->kernel, bz->kernel_size,
		       bz->init_size);
}

static int load_elf(struct load *l, const struct mapped_file *f,
		    struct elf_kernel *k, struct boot_entry *entry)
{
	const char *why;
	int r;

	if (elf_parse(f->data, f->size, k, &why)) {
		log_error("kernel %s: not a usable ELF: %s", l->cfg->kernel,
			  why);
		return -EINVAL;
	}
	for (unsigned i = 0; i < k->nr_segments; i++) {
		const struct elf_segment *s = &k->segments[i];
		if (s->paddr < LAYOUT_HIGH_MEMORY) {
			log_error(
				"kernel %s: segment at %#llx overlaps the boot "
				"data below 1 MiB",
				l->cfg->kernel, (unsigned long long)s->paddr);
			return -EINVAL;
		}
		r = copy_in_file(l, "kernel segment", s->paddr, f, s->offset,
				 s->filesz, s->memsz);
		if (r)
			return r;
		if (s->paddr + s->memsz > l->kernel_end)
			l->kernel_end = s->paddr + s->memsz;
	}
	l->initrd_max = LAYOUT_RAM_LOW_LIMIT;
	l->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	if (k->has_pvh)
		*entry = (struct boot_entry){ BOOT_PVH32, k->pvh_entry,
					      LAYOUT_START_INFO };
	else
		*entry = (struct boot_entry){ BOOT_LINUX64, k->entry,
					      LAYOUT_ZERO_PAGE };
	return 0;
}

/* The PVH ELF inside bz from the kernel cache, unpacked into it now if it
 * is not there: 0 with it mapped in *elf and parsed into *k, or 1 with the
 * reason it cannot be used in why. */
static int cached_elf(const struct bzimage *bz, struct mapped_file *elf,
		      struct elf_kernel *k, bool *hit, char *why, size_t n)
{
	struct kernel_cache_entry e;
	char dir[PATH_MAX];
	const char *bad;

	if (!bz->payload) {
		snprintf(why, n, "its header names no compressed payload");
		return 1;
	}
	if (kernel_cache_dir(dir)) {
		snprintf(why, n,
			 "no cache directory (neither XDG_CACHE_HOME "
			 "nor HOME is an absolute path)");
		return 1;
	}
	/* A damaged entry (a full disk, someone's edit) is unpacked again. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (kernel_cache_get(dir, bz->payload, bz->payload_size, &e,
				     why, n))
			return 1;
		elf->size = e.size;
		elf->data = mmap(NULL, e.size, PROT_READ, MAP_PRIVATE, e.fd, 0);
		bad = "it cannot be mapped";
		if (elf->data != MAP_FAILED &&
		    !elf_parse(elf->data, elf->size, k, &bad)) {
			elf->fd = e.fd;
			*hit = e.hit;
			if (k->has_pvh)
				return 0;
			unmap_file(elf);
			snprintf(why, n,
				 "its ELF has no PVH entry (a kernel "
				 "built without CONFIG_PVH)");
			return 1;
		}
		if (elf->data != MAP_FAILED)
			munmap((void *)elf->data, elf->size);
		elf->data = NULL;
		kernel_cache_drop(&e);
		if (!e.hit) {
			snprintf(why, n,
				 "its payload unpacked to no usable "
				 "ELF: %s",
				 bad);
			return 1;
		}
	}
	snprintf(why, n, "the kernel cache entry was damaged twice");
	return 1;
}

/* A bzImage as itself, or as the PVH ELF inside it (vm_config's
 * unpack_kernel); *used_bz tells which. */
static int load_bzimage_or_elf(struct load *l, const struct mapped_file *f,
			       struct bzimage *bz, struct mapped_file *unpacked,
			       bool *used_bz, struct boot_entry *entry)
{
	enum vm_unpack mode = l->cfg->unpack_kernel;
	struct elf_kernel k;
	const char *bad;
	char why[PATH_MAX + 128];
	bool hit;

	if (bzimage_parse(f->data, f->size, bz, &bad)) {
		log_error("kernel %s: not a usable bzImage: %s", l->cfg->kernel,
			  bad);
		return -EINVAL;
	}
	*used_bz = true;
	if (mode == VM_UNPACK_TRY || mode == VM_UNPACK_ON) {
		if (!cached_elf(bz, unpacked, &k, &hit, why, sizeof(why))) {
			*used_bz = false;
			l->note = hit ? "PVH ELF unpacked from the bzImage "
					"(kernel cache hit)"
				      : "PVH ELF unpacked from the bzImage "
					"(unpacked now)";
			return load_elf(l, unpacked, &k, entry);
		}
		if (mode == VM_UNPACK_ON) {
			log_error("kernel %s: --unpack-kernel on: %s",
				  l->cfg->kernel, why);
			return -EINVAL;
		}
		log_info("kernel %s: booting the bzImage itself, which is "
			 "slower: %s",
			 l->cfg->kernel, why);
	}
	l->note = "bzImage";
	return load_bzimage(l, bz, entry);
}

/* The boot page tables (64-bit entry) map the first 4 GiB; a 32-bit PVH
 * entry reaches no further either. A kernel placed or entered above that
 * would fault before printing anything. */
static int check_reachable(const struct load *l, const struct boot_entry *e)
{
	if (e->rip < LAYOUT_RAM_HIGH_BASE &&
	    l->kernel_end <= LAYOUT_RAM_HIGH_BASE)
		return 0;
	log_error("kernel %s: loaded up to %#llx with its entry at %#llx, "
		  "beyond the first 4 GiB the boot page tables map",
		  l->cfg->kernel, (unsigned long long)l->kernel_end,
		  (unsigned long long)e->rip);
	return -EINVAL;
}

static int write_boot_info(struct load *l, const struct bzimage *bz,
			   const struct boot_entry *entry)
{
	const struct guest_mem *mem = &l->vm->mem;
	uint8_t zp[ZERO_PAGE_SIZE];
	uint8_t si[PVH_START_INFO_SIZE];
	uint8_t memmap[E820_MAX * PVH_MEMMAP_ENTRY_SIZE];
	uint8_t modlist[PVH_MODLIST_ENTRY_SIZE];

	if (entry->mode == BOOT_LINUX64) {
		bootparams_build(zp, bz, &l->info);
		return mem_write(mem, LAYOUT_ZERO_PAGE, zp, sizeof(zp));
	}
	pvh_build(si, memmap, LAYOUT_PVH_MEMMAP, modlist, LAYOUT_PVH_MODLIST,
		  &l->info);
	if (mem_write(mem, LAYOUT_START_INFO, si, sizeof(si)) ||
	    mem_write(mem, LAYOUT_PVH_MEMMAP, memmap,
		      l->info.e820_nr * PVH_MEMMAP_ENTRY_SIZE) ||
	    mem_write(mem, LAYOUT_PVH_MODLIST, modlist, sizeof(modlist)))
		return -EFAULT;
	return 0;
}

int arch_load_kernel(struct vm *vm, const struct vm_config *cfg)
{
	struct boot_entry *entry = &vm->arch.entry;
	struct load l = { .vm = vm, .cfg = cfg };
	struct mapped_file f = { 0 }, unpacked = { 0 };
	struct bzimage bz;
	struct elf_kernel elf;
	bool used_bz = false;
	int r;

	if (vm->mem.regions[0].size < LAYOUT_HIGH_MEMORY * 2) {
		log_error("--memory: at least 2 MiB of RAM is needed to boot");
		return -EINVAL;
	}
	r = map_file("kernel", cfg->kernel, &f);
	if (r)
		return r;
	if (elf_is_elf(f.data, f.size)) {
		r = load_elf(&l, &f, &elf, entry);
		l.note = elf.has_pvh ? "PVH ELF" : "ELF";
	} else {
		r = load_bzimage_or_elf(&l, &f, &bz, &unpacked, &used_bz,
					entry);
	}
	vm->kernel_note = l.note;
	if (!r)
		r = check_reachable(&l, entry);
	if (!r)
		r = load_cmdline(&l);
	if (!r)
		r = load_initrd(&l);
	l.info.rsdp_gpa = LAYOUT_ACPI;
	l.info.e820 = l.e820;
	l.info.e820_nr = e820_build(
		&vm->mem, vm->vdevs.transport == VM_TRANSPORT_PCI, l.e820);
	/* bz points into the mapped kernel: unmap only after this. */
	if (!r)
		r = write_boot_info(&l, used_bz ? &bz : NULL, entry);
	if (!r)
		r = x86_write_boot_tables(&vm->mem, entry->mode);
	unmap_file(&unpacked);
	unmap_file(&f);
	return r;
}
