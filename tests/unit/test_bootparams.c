#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/x86/bootparams.h"
#include "arch/x86/layout.h"
#include "lib/bytes.h"

static unsigned e820_for(uint64_t size, struct e820_entry *e)
{
	struct guest_mem mem = { .size = size };
	mem.nr_regions = arch_mem_layout(size, mem.regions);
	return e820_build(&mem, false, e);
}

Test(e820, small_ram_is_split_around_the_bios_area)
{
	struct e820_entry e[E820_MAX];

	cr_assert_eq(e820_for(128 << 20, e), 3);
	cr_assert(e[0].addr == 0 && e[0].size == LAYOUT_EBDA &&
		  e[0].type == E820_RAM);
	cr_assert(e[1].addr == LAYOUT_EBDA && e[1].type == E820_RESERVED);
	cr_assert_eq(e[1].addr + e[1].size, 0x100000);
	cr_assert(e[2].addr == 0x100000 && e[2].size == (128 << 20) - 0x100000);
}

Test(e820, pci_reserves_the_ecam_window_in_address_order)
{
	struct guest_mem mem = { .size = 5ULL << 30 };
	struct e820_entry e[E820_MAX];
	unsigned n;

	mem.nr_regions = arch_mem_layout(mem.size, mem.regions);
	n = e820_build(&mem, true, e);
	cr_assert_eq(n, 5);
	cr_assert(e[3].addr == LAYOUT_PCI_ECAM && e[3].size == 1 << 20 &&
		  e[3].type == E820_RESERVED);
	cr_assert(e[4].addr == 1ULL << 32 && e[4].type == E820_RAM);
	for (unsigned i = 1; i < n; i++)
		cr_assert(e[i].addr >= e[i - 1].addr + e[i - 1].size);
}

Test(e820, ram_above_3g_moves_above_4g)
{
	struct e820_entry e[E820_MAX];

	cr_assert_eq(e820_for(5ULL << 30, e), 4);
	cr_assert_eq(e[2].addr + e[2].size, 3ULL << 30);
	cr_assert(e[3].addr == 4ULL << 30 && e[3].size == 2ULL << 30);
	cr_assert_eq(e[3].type, E820_RAM);
}

Test(e820, exactly_3g_has_no_high_region)
{
	struct e820_entry e[E820_MAX];

	cr_assert_eq(e820_for(3ULL << 30, e), 3);
	cr_assert_eq(e[2].addr + e[2].size, 3ULL << 30);
}

Test(e820, tiny_ram)
{
	struct e820_entry e[E820_MAX];

	cr_assert_eq(e820_for(0x80000, e), 1);
	cr_assert_eq(e[0].size, 0x80000);
	cr_assert_eq(e820_for(0xa0000, e), 2);
	cr_assert_eq(e[1].size, 0xa0000 - LAYOUT_EBDA);
}

Test(bootparams, zero_page_fields)
{
	struct e820_entry e[E820_MAX];
	uint8_t hdr[0x26c - 0x1f1] = { 0 };
	struct bzimage bz = { .hdr = hdr, .hdr_len = sizeof(hdr) };
	struct boot_info info = { .cmdline_gpa = 0x20000,
				  .cmdline_len = 12,
				  .initrd_gpa = 0x7000000,
				  .initrd_size = 4096,
				  .rsdp_gpa = 0xe0000,
				  .e820 = e };
	uint8_t zp[ZERO_PAGE_SIZE];

	memcpy(hdr + (0x202 - 0x1f1), "HdrS", 4);
	info.e820_nr = e820_for(5ULL << 30, e);
	memset(zp, 0xcc, sizeof(zp));
	bootparams_build(zp, &bz, &info);
	cr_assert_eq(memcmp(zp + 0x202, "HdrS", 4), 0);
	cr_assert_eq(zp[BP_TYPE_OF_LOADER], 0xff);
	cr_assert_eq(get32(zp + BP_CMD_LINE_PTR), 0x20000);
	cr_assert_eq(get32(zp + BP_RAMDISK_IMAGE), 0x7000000);
	cr_assert_eq(get32(zp + BP_RAMDISK_SIZE), 4096);
	cr_assert_eq(get64(zp + BP_ACPI_RSDP), 0xe0000);
	cr_assert_eq(zp[BP_E820_ENTRIES], 4);
	cr_assert_eq(get64(zp + BP_E820_TABLE + 3 * 20), 4ULL << 30);
	cr_assert_eq(get32(zp + BP_E820_TABLE + 3 * 20 + 16), E820_RAM);
	cr_assert_eq(zp[0x1ef], 0, "sentinel must be zero");
	cr_assert_eq(zp[ZERO_PAGE_SIZE - 1], 0);
}

Test(bootparams, synthetic_header_for_vmlinux)
{
	struct boot_info info = { .cmdline_gpa = 0x20000 };
	uint8_t zp[ZERO_PAGE_SIZE];

	bootparams_build(zp, NULL, &info);
	cr_assert_eq(memcmp(zp + 0x202, "HdrS", 4), 0);
	cr_assert_eq(zp[0x1fe], 0x55);
	cr_assert_eq(zp[0x1ff], 0xaa);
	cr_assert_eq(zp[BP_LOADFLAGS] & 1, 1);
}

Test(pvh, start_info_memmap_and_module)
{
	struct e820_entry e[E820_MAX];
	struct boot_info info = { .cmdline_gpa = 0x20000,
				  .initrd_gpa = 0x800000,
				  .initrd_size = 1234,
				  .rsdp_gpa = 0xe0000,
				  .e820 = e };
	uint8_t si[PVH_START_INFO_SIZE], mm[E820_MAX * PVH_MEMMAP_ENTRY_SIZE],
		ml[PVH_MODLIST_ENTRY_SIZE];

	info.e820_nr = e820_for(256 << 20, e);
	pvh_build(si, mm, 0x6040, ml, 0x6e00, &info);
	cr_assert_eq(get32(si), PVH_START_INFO_MAGIC);
	cr_assert_eq(get32(si + 4), 1);
	cr_assert_eq(get32(si + 12), 1);
	cr_assert_eq(get64(si + 16), 0x6e00);
	cr_assert_eq(get64(si + 24), 0x20000);
	cr_assert_eq(get64(si + 32), 0xe0000);
	cr_assert_eq(get64(si + 40), 0x6040);
	cr_assert_eq(get32(si + 48), 3);
	cr_assert_eq(get64(ml), 0x800000);
	cr_assert_eq(get64(ml + 8), 1234);
	cr_assert_eq(get64(mm + 2 * 24), 0x100000);
	cr_assert_eq(get32(mm + 1 * 24 + 16), E820_RESERVED);
}

Test(pvh, no_initrd_no_modules)
{
	struct boot_info info = { .cmdline_gpa = 0x20000 };
	uint8_t si[PVH_START_INFO_SIZE], mm[8], ml[PVH_MODLIST_ENTRY_SIZE];

	pvh_build(si, mm, 0, ml, 0, &info);
	cr_assert_eq(get32(si + 12), 0);
	cr_assert_eq(get64(si + 16), 0);
}

/* The loader writes the module list into guest RAM whether or not there is
 * an initrd: without one it was left as the caller's buffer was, 32 bytes
 * of the VMM's stack handed to the guest. */
Test(pvh, no_initrd_module_list_is_zeroed)
{
	struct boot_info info = { .cmdline_gpa = 0x20000 };
	uint8_t si[PVH_START_INFO_SIZE], mm[8], ml[PVH_MODLIST_ENTRY_SIZE];

	memset(ml, 0xa5, sizeof(ml));
	pvh_build(si, mm, 0, ml, 0x6e00, &info);
	for (size_t i = 0; i < sizeof(ml); i++)
		cr_assert_eq(ml[i], 0, "byte %zu", i);
}
