/* Which MSRs a vCPU's saved state holds, and in what order they are
 * written back: the ones QEMU migrates for a KVM guest without nested
 * virtualization. A constant table and pure lookups; any thread, no
 * state, no lock.
 *
 * The order is the restore order, and it matters:
 * - capability MSRs first: PLATFORM_INFO before MISC_FEATURES_ENABLES
 *   (KVM refuses CPUID faulting unless PLATFORM_INFO offers it),
 *   PERF_CAPABILITIES before the PMU's MSRs;
 * - the PMU's counters before their event selectors, the global control
 *   last, so nothing counts from a half-written state;
 * - the async page-fault vector before the MSR that enables it;
 * - the TSC deadline after KVM_SET_LAPIC (X86_MSR_AFTER_LAPIC).
 * The TSC itself is written after KVM_SET_TSC_KHZ (arch/x86/vcpu_state.c):
 * KVM matches host-initiated TSC writes of several vCPUs made within a
 * second of each other to one offset, so they stay synchronized. */
#include "state.h"

#define UNLISTED X86_MSR_UNLISTED
#define AFTER_LAPIC X86_MSR_AFTER_LAPIC

const struct x86_msr_desc x86_msr_table[] = {
	/* What the vCPU reports about itself. */
	{ 0x10a, 0 }, /* IA32_ARCH_CAPABILITIES */
	{ 0x345, 0 }, /* IA32_PERF_CAPABILITIES */
	{ 0xce, 0 },  /* PLATFORM_INFO */
	{ 0x140, 0 }, /* MISC_FEATURES_ENABLES (CPUID faulting) */
	{ 0x3a, 0 },  /* IA32_FEATURE_CONTROL */
	/* System call entry, segments, memory types. */
	{ 0x174, 0 },	     /* IA32_SYSENTER_CS */
	{ 0x175, 0 },	     /* IA32_SYSENTER_ESP */
	{ 0x176, 0 },	     /* IA32_SYSENTER_EIP */
	{ 0x277, 0 },	     /* IA32_PAT */
	{ 0xc0000081, 0 },   /* STAR */
	{ 0xc0000082, 0 },   /* LSTAR */
	{ 0xc0000083, 0 },   /* CSTAR */
	{ 0xc0000084, 0 },   /* SYSCALL_MASK (FMASK) */
	{ 0xc0000102, 0 },   /* KERNEL_GS_BASE */
	{ 0xc0000103, 0 },   /* TSC_AUX */
	{ 0x1a0, 0 },	     /* IA32_MISC_ENABLE */
	{ 0x48, 0 },	     /* IA32_SPEC_CTRL */
	{ 0x122, 0 },	     /* IA32_TSX_CTRL */
	{ 0xc001011f, 0 },   /* AMD64_VIRT_SPEC_CTRL */
	{ 0xe1, 0 },	     /* IA32_UMWAIT_CONTROL */
	{ 0xda0, 0 },	     /* IA32_XSS */
	{ 0x1c4, 0 },	     /* IA32_XFD */
	{ 0x1c5, 0 },	     /* IA32_XFD_ERR */
	{ 0x6e1, 0 },	     /* IA32_PKRS */
	{ 0xd90, 0 },	     /* IA32_BNDCFGS */
	{ 0xc0010015, 0 },   /* K7_HWCR */
	{ 0x9e, 0 },	     /* IA32_SMBASE */
	{ 0x34, 0 },	     /* SMI_COUNT */
	{ 0xc0010117, 0 },   /* VM_HSAVE_PA */
	{ 0x2ff, UNLISTED }, /* MTRR default type */
	{ 0x250, UNLISTED }, /* MTRR fixed 64K_00000 */
	{ 0x258, UNLISTED }, /* MTRR fixed 16K_80000 */
	{ 0x259, UNLISTED }, /* MTRR fixed 16K_A0000 */
	{ 0x268, UNLISTED }, /* MTRR fixed 4K_C0000 ... */
	{ 0x269, UNLISTED },
	{ 0x26a, UNLISTED },
	{ 0x26b, UNLISTED },
	{ 0x26c, UNLISTED },
	{ 0x26d, UNLISTED },
	{ 0x26e, UNLISTED },
	{ 0x26f, UNLISTED }, /* ... 4K_F8000 */
	{ 0x200, UNLISTED }, /* MTRR variable base/mask pairs 0-7 */
	{ 0x201, UNLISTED },
	{ 0x202, UNLISTED },
	{ 0x203, UNLISTED },
	{ 0x204, UNLISTED },
	{ 0x205, UNLISTED },
	{ 0x206, UNLISTED },
	{ 0x207, UNLISTED },
	{ 0x208, UNLISTED },
	{ 0x209, UNLISTED },
	{ 0x20a, UNLISTED },
	{ 0x20b, UNLISTED },
	{ 0x20c, UNLISTED },
	{ 0x20d, UNLISTED },
	{ 0x20e, UNLISTED },
	{ 0x20f, UNLISTED },
	/* Intel architectural PMU: counters, selectors, global state. */
	{ 0xc1, 0 }, /* IA32_PERFCTR0-7 */
	{ 0xc2, 0 },
	{ 0xc3, 0 },
	{ 0xc4, 0 },
	{ 0xc5, 0 },
	{ 0xc6, 0 },
	{ 0xc7, 0 },
	{ 0xc8, 0 },
	{ 0x309, 0 }, /* IA32_FIXED_CTR0-3 */
	{ 0x30a, 0 },
	{ 0x30b, 0 },
	{ 0x30c, 0 },
	{ 0x186, 0 }, /* IA32_PERFEVTSEL0-7 */
	{ 0x187, 0 },
	{ 0x188, 0 },
	{ 0x189, 0 },
	{ 0x18a, 0 },
	{ 0x18b, 0 },
	{ 0x18c, 0 },
	{ 0x18d, 0 },
	{ 0x38d, 0 }, /* IA32_FIXED_CTR_CTRL */
	{ 0x38e, 0 }, /* IA32_PERF_GLOBAL_STATUS */
	{ 0x38f, 0 }, /* IA32_PERF_GLOBAL_CTRL */
	/* AMD PMU: legacy and family 15h names of the same counters. */
	{ 0xc0010004, 0 }, /* K7_PERFCTR0-3 */
	{ 0xc0010005, 0 },
	{ 0xc0010006, 0 },
	{ 0xc0010007, 0 },
	{ 0xc0010201, 0 }, /* F15H_PERF_CTR0-5 */
	{ 0xc0010203, 0 },
	{ 0xc0010205, 0 },
	{ 0xc0010207, 0 },
	{ 0xc0010209, 0 },
	{ 0xc001020b, 0 },
	{ 0xc0010000, 0 }, /* K7_EVNTSEL0-3 */
	{ 0xc0010001, 0 },
	{ 0xc0010002, 0 },
	{ 0xc0010003, 0 },
	{ 0xc0010200, 0 }, /* F15H_PERF_CTL0-5 */
	{ 0xc0010202, 0 },
	{ 0xc0010204, 0 },
	{ 0xc0010206, 0 },
	{ 0xc0010208, 0 },
	{ 0xc001020a, 0 },
	{ 0xc0000300, 0 }, /* AMD64_PERF_CNTR_GLOBAL_STATUS */
	{ 0xc0000301, 0 }, /* AMD64_PERF_CNTR_GLOBAL_CTL */
	/* The TSC and KVM's paravirtual MSRs. */
	{ 0x10, 0 },		/* IA32_TSC */
	{ 0x3b, 0 },		/* IA32_TSC_ADJUST */
	{ 0x11, 0 },		/* KVM_WALL_CLOCK (old) */
	{ 0x12, 0 },		/* KVM_SYSTEM_TIME (old) */
	{ 0x4b564d00, 0 },	/* KVM_WALL_CLOCK_NEW */
	{ 0x4b564d01, 0 },	/* KVM_SYSTEM_TIME_NEW */
	{ 0x4b564d06, 0 },	/* KVM_ASYNC_PF_INT: before ASYNC_PF_EN */
	{ 0x4b564d02, 0 },	/* KVM_ASYNC_PF_EN */
	{ 0x4b564d04, 0 },	/* KVM_PV_EOI_EN */
	{ 0x4b564d03, 0 },	/* KVM_STEAL_TIME */
	{ 0x4b564d05, 0 },	/* KVM_POLL_CONTROL */
	{ 0x6e0, AFTER_LAPIC }, /* IA32_TSC_DEADLINE */
};

const unsigned x86_msr_table_len =
	sizeof(x86_msr_table) / sizeof(x86_msr_table[0]);

_Static_assert(sizeof(x86_msr_table) / sizeof(x86_msr_table[0]) <=
		       X86_VCPU_MAX_MSRS,
	       "a vCPU section must have room for every MSR of the table");

int x86_msr_position(uint32_t index)
{
	for (unsigned i = 0; i < x86_msr_table_len; i++)
		if (x86_msr_table[i].index == index)
			return (int)i;
	return -1;
}

static bool listed(const uint32_t *list, unsigned n, uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == index)
			return true;
	return false;
}

unsigned x86_msr_select(const uint32_t *kvm_list, unsigned n, uint32_t *out,
			unsigned max)
{
	unsigned count = 0;

	for (unsigned i = 0; i < x86_msr_table_len && count < max; i++)
		if ((x86_msr_table[i].flags & X86_MSR_UNLISTED) ||
		    listed(kvm_list, n, x86_msr_table[i].index))
			out[count++] = x86_msr_table[i].index;
	return count;
}
