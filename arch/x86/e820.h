/* The guest's memory map, shared by the Linux boot protocol (e820 in
 * boot_params) and PVH (hvm_start_info memmap). */
#ifndef VMM_E820_H
#define VMM_E820_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_MAX 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills out[] (E820_MAX entries) from the RAM layout: low RAM split
 * around the EBDA/BIOS area below 1 MiB, the rest as RAM, and with
 * reserve_ecam the PCI ECAM window reserved (Linux uses MMCONFIG only
 * where the firmware reserved it). Returns the number of entries. Pure. */
unsigned e820_build(const struct guest_mem *mem, bool reserve_ecam,
		    struct e820_entry *out);

#endif
