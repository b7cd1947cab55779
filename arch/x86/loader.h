/* Loads the kernel (bzImage, or ELF with or without the PVH note), the
 * initrd and the command line into guest RAM and writes the boot
 * information the chosen entry mode expects. */
#ifndef VMM_LOADER_H
#define VMM_LOADER_H

#include "vmm/vm.h"
#include "cpu.h"

/* Fills *entry for the boot vCPU. Returns 0, or -errno after one log line
 * naming the file and the problem; every failure here is the user's input
 * (a missing file, not a kernel, too little RAM, an over-long cmdline). */
int loader_load(const struct vm *vm, const struct vm_config *cfg,
		struct boot_entry *entry);

#endif
