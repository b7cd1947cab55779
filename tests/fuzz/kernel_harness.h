/* What fuzz_bzimage and fuzz_elf share: arch_load_kernel (arch/x86/
 * loader.c) on a kernel file of the input's bytes, into guest RAM that
 * has a PROT_NONE guard page on each side (so that a write outside it
 * faults), and the invariants of every load:
 *   - failure: -errno after exactly one "vmm: " line (arch.h's promise),
 *     no fd left open;
 *   - success: the entry point lies in what was loaded, below 4 GiB (the
 *     boot page tables map no more); the command line is in RAM at
 *     LAYOUT_CMDLINE; the initrd lies in low RAM, page-aligned, above the
 *     kernel and below its limit, holding the initrd's bytes, and the
 *     boot information (zero page or PVH start info) says where; no
 *     value in the boot information the VMM built looks like a host
 *     address (leftover stack or heap bytes).
 * The caller checks what the kernel's own format promises.
 *
 * Control: two bytes at the input's end pick the RAM size, a second RAM
 * region at 4 GiB, the transport (whether the e820 map reserves ECAM),
 * the initrd size and the command line; the rest is the kernel file.
 * Test-only; header-only. */
#ifndef TESTS_FUZZ_KERNEL_HARNESS_H
#define TESTS_FUZZ_KERNEL_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "arch/arch.h"
#include "arch/x86/bootparams.h"
#include "arch/x86/layout.h"
#include "lib/bytes.h"
#include "vmm/vm.h"

/* fd 2 itself: stderr is the loader's log capture while it runs. */

#define KH_GUARD 4096ULL
#define KH_LOW_MAX (32ULL << 20)
#define KH_HIGH (2ULL << 20)
#define KH_CMDLINE_MAX 70000
#define KH_INITRD_MAX (3ULL << 20)

struct kh {
	uint8_t *map;	   /* guard, low area, guard, high area, guard */
	uint8_t *low_area; /* KH_LOW_MAX bytes; RAM is its top part */
	uint8_t *high;
	int memfd;
	char path[64];
	char cmdline[KH_CMDLINE_MAX + 1];
	uint8_t *initrd;
	char log[8192];
	struct vm vm;
	/* This input's choices. */
	uint64_t low_size;
	bool has_high;
	const char *cmdline_used;
	size_t cmdline_cut; /* where cmdline's NUL is for this input */
	size_t initrd_size;
};

static struct kh kh;

static void kh_init(void)
{
	size_t len = KH_GUARD + KH_LOW_MAX + KH_GUARD + KH_HIGH + KH_GUARD;
	uint64_t words = KH_LOW_MAX / MEM_PAGE_SIZE / 64 + 1;

	kh.map = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INVARIANT(kh.map != MAP_FAILED);
	kh.low_area = kh.map + KH_GUARD;
	kh.high = kh.low_area + KH_LOW_MAX + KH_GUARD;
	kh.vm.mem.regions[0].dirty = calloc(words, 8);
	kh.vm.mem.regions[1].dirty = calloc(words, 8);
	INVARIANT(kh.vm.mem.regions[0].dirty && kh.vm.mem.regions[1].dirty);
	kh.memfd = memfd_create("fuzz-kernel", MFD_CLOEXEC);
	INVARIANT(kh.memfd >= 0);
	snprintf(kh.path, sizeof(kh.path), "/proc/self/fd/%d", kh.memfd);
	memset(kh.cmdline, 'c', KH_CMDLINE_MAX);
	kh.initrd = malloc(KH_INITRD_MAX);
	INVARIANT(kh.initrd);
	for (size_t i = 0; i < KH_INITRD_MAX; i++)
		kh.initrd[i] = (uint8_t)(i * 7 + 3);
}

/* RAM for this input: the low region at the top of the low area (its
 * end against a guard page, the area below it PROT_NONE), the high one
 * mapped or not. */
static void kh_set_ram(uint8_t c)
{
	static const uint64_t sizes[] = { 2ULL << 20, 8ULL << 20, KH_LOW_MAX,
					  (17ULL << 20) + 3 * MEM_PAGE_SIZE };
	struct guest_mem *m = &kh.vm.mem;
	uint8_t *hva;

	kh.low_size = sizes[c & 3];
	kh.has_high = c & 4;
	hva = kh.low_area + KH_LOW_MAX - kh.low_size;
	if (hva > kh.low_area)
		INVARIANT(!mprotect(kh.low_area, (size_t)(hva - kh.low_area),
				    PROT_NONE));
	INVARIANT(!mprotect(hva, kh.low_size, PROT_READ | PROT_WRITE));
	INVARIANT(!mprotect(kh.high, KH_HIGH,
			    kh.has_high ? PROT_READ | PROT_WRITE : PROT_NONE));
	m->regions[0].gpa = 0;
	m->regions[0].size = kh.low_size;
	m->regions[0].hva = hva;
	m->regions[1].gpa = LAYOUT_RAM_HIGH_BASE;
	m->regions[1].size = KH_HIGH;
	m->regions[1].hva = kh.high;
	m->nr_regions = kh.has_high ? 2 : 1;
	m->size = kh.low_size + (kh.has_high ? KH_HIGH : 0);
	m->base = hva;
	m->fd = -1;
	kh.vm.vdevs.transport = c & 8 ? VM_TRANSPORT_MMIO : VM_TRANSPORT_PCI;
}

static const uint8_t *kh_ram(uint64_t gpa, uint64_t len)
{
	return mem_ptr(&kh.vm.mem, gpa, len);
}

/* True when [gpa, gpa + len) is RAM and holds exactly p's bytes. */
static bool kh_holds(uint64_t gpa, const void *p, uint64_t len)
{
	const uint8_t *r = kh_ram(gpa, len);

	return r && !memcmp(r, p, len);
}

/* True when [gpa, gpa + len) is RAM and zero (checking at most max). */
static bool kh_zero(uint64_t gpa, uint64_t len, uint64_t max)
{
	const uint8_t *r = kh_ram(gpa, len);

	if (!r)
		return false;
	for (uint64_t i = 0; i < len && i < max; i++)
		if (r[i])
			return false;
	return true;
}

/* Userspace addresses of this process (PIE text, libraries, heap, ASan's
 * allocator, stacks) all lie above 0x500000000000 on x86-64; no address
 * the VMM hands a guest (RAM at most 1 TiB, windows below 4 GiB) does. */
static bool kh_host_address(uint64_t v)
{
	return v >= 0x500000000000ULL && v < 0x800000000000ULL;
}

/* No 8-byte-aligned word of [gpa, gpa + len) looks like a host
 * address (the PVH blocks are made of such words). */
static void kh_no_host_addresses(uint64_t gpa, uint64_t len)
{
	const uint8_t *r = kh_ram(gpa, len);

	INVARIANT(r);
	for (uint64_t i = 0; i + 8 <= len; i += 8) {
		if (kh_host_address(get64(r + i)))
			dprintf(STDERR_FILENO,
				"host address %#llx at gpa %#llx\n",
				(unsigned long long)get64(r + i),
				(unsigned long long)(gpa + i));
		INVARIANT(!kh_host_address(get64(r + i)));
	}
}

/* Loads data[0..len) with controls c1, c2. Returns arch_load_kernel's
 * result; kh.log holds what it logged. */
/* An input is the kernel file followed by two bytes for kh_load: the file
 * in a buffer of its own (ASan sees any read past it), NULL when the
 * input is too short. */
static uint8_t *kh_file(const uint8_t *data, size_t size, size_t *len)
{
	uint8_t *file;

	if (size < 2)
		return NULL;
	*len = size - 2;
	file = malloc(*len ? *len : 1);
	INVARIANT(file);
	memcpy(file, data, *len);
	return file;
}

static int kh_load(const uint8_t *data, size_t len, uint8_t c1, uint8_t c2)
{
	static const size_t initrds[] = {
		0, 0, 0, 1, 4096, 65536 + 5, (1ULL << 20) + 1, KH_INITRD_MAX
	};
	static const size_t cmdlines[] = { 0,	 255,	2047,  2048,
					   4096, 65535, 65536, 69999 };
	struct vm_config cfg = { 0 };
	FILE *log, *saved;
	int r, fds = fuzz_count_fds();

	kh_set_ram(c1);
	INVARIANT(!ftruncate(kh.memfd, 0));
	INVARIANT(pwrite(kh.memfd, data, len, 0) == (ssize_t)len);
	cfg.kernel = kh.path;
	cfg.unpack_kernel = VM_UNPACK_OFF; /* never the kernel cache */
	kh.initrd_size = initrds[c2 & 7];
	cfg.initrd_data = kh.initrd_size ? kh.initrd : NULL;
	cfg.initrd_size = kh.initrd_size;
	kh.cmdline[kh.cmdline_cut] = 'c'; /* the last input's end */
	kh.cmdline[KH_CMDLINE_MAX] = 0;
	if (c2 & 0x80) {
		kh.cmdline_cut = cmdlines[(c2 >> 4) & 7];
		kh.cmdline[kh.cmdline_cut] = 0;
		cfg.cmdline = kh.cmdline;
	} else {
		cfg.cmdline = "console=ttyS0";
	}
	kh.cmdline_used = cfg.cmdline;
	cfg.cpus = 1;
	cfg.mem.size = kh.vm.mem.size;
	memset(kh.log, 0, sizeof(kh.log));
	log = fmemopen(kh.log, sizeof(kh.log) - 1, "w");
	INVARIANT(log);
	saved = stderr;
	stderr = log;
	r = arch_load_kernel(&kh.vm, &cfg);
	stderr = saved;
	fclose(log);
	INVARIANT(fuzz_count_fds() == fds);
	if (r) {
		const char *nl = strchr(kh.log, '\n');
		INVARIANT(r < 0);
		INVARIANT(!strncmp(kh.log, "vmm: ", 5));
		INVARIANT(nl && !nl[1]); /* exactly one line */
	}
	return r;
}

/* What every successful load promises, for a kernel occupying
 * [kernel_start, kernel_end) of guest-physical memory (hdr: the bzImage
 * setup header, NULL for ELF, whose segments the caller checks). */
static void kh_check_loaded(uint64_t kernel_start, uint64_t kernel_end,
			    uint64_t initrd_max, const uint8_t *hdr)
{
	const struct boot_entry *e = &kh.vm.arch.entry;
	uint64_t initrd_gpa = 0, initrd_size = 0;

	INVARIANT(kernel_start >= LAYOUT_HIGH_MEMORY);
	INVARIANT(kernel_start < kernel_end);
	INVARIANT(kernel_end <= LAYOUT_RAM_HIGH_BASE);
	INVARIANT(kh_ram(kernel_start, kernel_end - kernel_start) ||
		  hdr == NULL); /* ELF: each segment is checked instead */
	INVARIANT(e->rip < LAYOUT_RAM_HIGH_BASE);
	INVARIANT(kh_holds(LAYOUT_CMDLINE, kh.cmdline_used,
			   strlen(kh.cmdline_used) + 1));
	if (e->mode == BOOT_LINUX64) {
		const uint8_t *zp = kh_ram(LAYOUT_ZERO_PAGE, ZERO_PAGE_SIZE);
		INVARIANT(zp && e->arg == LAYOUT_ZERO_PAGE);
		INVARIANT(!memcmp(zp + 0x202, "HdrS", 4));
		INVARIANT(get32(zp + BP_CMD_LINE_PTR) == LAYOUT_CMDLINE);
		INVARIANT(zp[BP_E820_ENTRIES] >= 1 &&
			  zp[BP_E820_ENTRIES] <= E820_MAX);
		INVARIANT(get64(zp + BP_ACPI_RSDP) == LAYOUT_ACPI);
		for (unsigned i = 0; i < zp[BP_E820_ENTRIES]; i++) {
			const uint8_t *m = zp + BP_E820_TABLE + 20 * i;
			INVARIANT(get64(m) < (1ULL << 40) &&
				  get64(m + 8) <= (1ULL << 40));
		}
		initrd_gpa = get32(zp + BP_RAMDISK_IMAGE);
		initrd_size = get32(zp + BP_RAMDISK_SIZE);
	} else {
		const uint8_t *si =
			kh_ram(LAYOUT_START_INFO, PVH_START_INFO_SIZE);
		INVARIANT(e->mode == BOOT_PVH32 && e->arg == LAYOUT_START_INFO);
		INVARIANT(si && get32(si) == PVH_START_INFO_MAGIC);
		INVARIANT(get64(si + 24) == LAYOUT_CMDLINE);
		INVARIANT(get32(si + 48) >= 1 && get32(si + 48) <= E820_MAX);
		if (get32(si + 12)) {
			const uint8_t *ml =
				kh_ram(get64(si + 16), PVH_MODLIST_ENTRY_SIZE);
			INVARIANT(get32(si + 12) == 1 && ml);
			initrd_gpa = get64(ml);
			initrd_size = get64(ml + 8);
		}
		INVARIANT(get64(si + 32) == LAYOUT_ACPI);
		kh_no_host_addresses(LAYOUT_START_INFO, PVH_START_INFO_SIZE);
		kh_no_host_addresses(LAYOUT_PVH_MEMMAP,
				     get32(si + 48) * PVH_MEMMAP_ENTRY_SIZE);
		/* Written whether or not it lists an initrd. */
		kh_no_host_addresses(LAYOUT_PVH_MODLIST,
				     PVH_MODLIST_ENTRY_SIZE);
	}
	INVARIANT(initrd_size == kh.initrd_size);
	if (initrd_size) {
		INVARIANT(initrd_gpa % MEM_PAGE_SIZE == 0);
		INVARIANT(initrd_gpa >= kernel_end);
		INVARIANT(initrd_gpa + initrd_size <= kh.low_size);
		INVARIANT(initrd_gpa + initrd_size <= initrd_max);
		INVARIANT(kh_holds(initrd_gpa, kh.initrd, initrd_size));
	}
}

#endif
