/* x86 CPU state at boot: the GDT and identity page tables in guest RAM,
 * and the registers of the boot vCPU for each entry mode. */
#ifndef VMM_X86_CPU_H
#define VMM_X86_CPU_H

#include <stdint.h>

#include "memory/memory.h"

enum boot_mode {
	BOOT_LINUX64, /* 64-bit Linux boot protocol: rsi = boot_params */
	BOOT_PVH32,   /* PVH: 32-bit protected mode, ebx = hvm_start_info */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t arg; /* rsi (LINUX64) or rbx (PVH32) */
};

/* Writes the GDT and (for 64-bit entry) page tables identity-mapping the
 * first 4 GiB with 2 MiB pages. 0 or -EFAULT. */
int x86_write_boot_tables(const struct guest_mem *mem, enum boot_mode mode);

/* Sets FPU, boot MSRs and the LAPIC LINT pins of any vCPU. 0 or -errno. */
int x86_init_vcpu(int vcpu_fd);

/* Sets the boot vCPU's segment, control and general registers. */
int x86_set_entry_state(int vcpu_fd, const struct boot_entry *entry);

#endif
