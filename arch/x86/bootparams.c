/* Pure builders; main thread at start-up. */
#include "bootparams.h"

#include <string.h>

#include "lib/bytes.h"

static void synthetic_header(uint8_t *zp)
{
	put16(zp + 0x1fe, 0xaa55);
	memcpy(zp + 0x202, "HdrS", 4);
	put16(zp + 0x206, BZ_MIN_VERSION);
	zp[BP_LOADFLAGS] = BZ_LOADED_HIGH;
	put32(zp + BP_KERNEL_ALIGNMENT, 0x1000000);
}

void bootparams_build(uint8_t *zp, const struct bzimage *bz,
		      const struct boot_info *info)
{
	memset(zp, 0, ZERO_PAGE_SIZE);
	if (bz)
		memcpy(zp + BP_HDR, bz->hdr, bz->hdr_len);
	else
		synthetic_header(zp);
	zp[BP_TYPE_OF_LOADER] = 0xff; /* "undefined" loader */
	put32(zp + BP_CMD_LINE_PTR, (uint32_t)info->cmdline_gpa);
	put32(zp + BP_CMDLINE_SIZE, info->cmdline_len);
	put32(zp + BP_RAMDISK_IMAGE, (uint32_t)info->initrd_gpa);
	put32(zp + BP_RAMDISK_SIZE, info->initrd_size);
	put64(zp + BP_ACPI_RSDP, info->rsdp_gpa);
	zp[BP_E820_ENTRIES] = (uint8_t)info->e820_nr;
	for (unsigned i = 0; i < info->e820_nr; i++) {
		uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		put64(e, info->e820[i].addr);
		put64(e + 8, info->e820[i].size);
		put32(e + 16, info->e820[i].type);
	}
}

void pvh_build(uint8_t *si, uint8_t *memmap, uint64_t memmap_gpa,
	       uint8_t *modlist, uint64_t modlist_gpa,
	       const struct boot_info *info)
{
	memset(si, 0, PVH_START_INFO_SIZE);
	put32(si, PVH_START_INFO_MAGIC);
	put32(si + 4, 1); /* version 1: has memmap */
	/* Zero even with no initrd: the caller copies it to the guest. */
	memset(modlist, 0, PVH_MODLIST_ENTRY_SIZE);
	if (info->initrd_size) {
		put64(modlist, info->initrd_gpa);
		put64(modlist + 8, info->initrd_size);
		put32(si + 12, 1);
		put64(si + 16, modlist_gpa);
	}
	put64(si + 24, info->cmdline_gpa);
	put64(si + 32, info->rsdp_gpa);
	put64(si + 40, memmap_gpa);
	put32(si + 48, info->e820_nr);
	for (unsigned i = 0; i < info->e820_nr; i++) {
		uint8_t *e = memmap + PVH_MEMMAP_ENTRY_SIZE * i;
		memset(e, 0, PVH_MEMMAP_ENTRY_SIZE);
		put64(e, info->e820[i].addr);
		put64(e + 8, info->e820[i].size);
		put32(e + 16, info->e820[i].type);
	}
}
