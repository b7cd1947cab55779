/* Boot information blocks handed to the kernel: Linux boot_params (the
 * "zero page") and PVH hvm_start_info. Builders are pure functions on a
 * caller's buffer so they can be tested without a VM. */
#ifndef VMM_BOOTPARAMS_H
#define VMM_BOOTPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "bzimage.h"
#include "e820.h"

#define ZERO_PAGE_SIZE 4096
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_ACPI_RSDP 0x070
#define BP_HDR 0x1f1
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_CMDLINE_SIZE 0x238

struct boot_info {
	uint64_t cmdline_gpa;
	uint32_t cmdline_len; /* without the NUL */
	uint64_t initrd_gpa;
	uint32_t initrd_size; /* 0: no initrd */
	uint64_t rsdp_gpa;    /* 0: no ACPI */
	const struct e820_entry *e820;
	unsigned e820_nr;
};

/* Fills zp (ZERO_PAGE_SIZE bytes). bz may be NULL for an ELF vmlinux
 * entered at its 64-bit entry point, which takes a synthetic header. */
void bootparams_build(uint8_t *zp, const struct bzimage *bz,
		      const struct boot_info *info);

#define PVH_START_INFO_MAGIC 0x336ec578
#define PVH_START_INFO_SIZE 56
#define PVH_MEMMAP_ENTRY_SIZE 24
#define PVH_MODLIST_ENTRY_SIZE 32

/* Fills the hvm_start_info (56 bytes at si), its memmap (memmap buffer)
 * and module list (one initrd entry, when present; zeros otherwise). The gpa arguments are
 * where the caller will copy memmap and modlist. */
void pvh_build(uint8_t *si, uint8_t *memmap, uint64_t memmap_gpa,
	       uint8_t *modlist, uint64_t modlist_gpa,
	       const struct boot_info *info);

#endif
