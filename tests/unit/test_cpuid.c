#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "arch/x86/cpuid.h"

Test(cpuid, apic_id_topology_and_hypervisor_bit)
{
	struct kvm_cpuid_entry2 e[] = {
		{ .function = 1, .ebx = 0xff00ffff, .ecx = 0, .edx = 0 },
		{ .function = 0xb, .index = 0 },
		{ .function = 0xb, .index = 1 },
		{ .function = 0xb, .index = 2 },
		{ .function = 4, .eax = 0xfc000121 },
		{ .function = 0x80000008, .ecx = 0xf0ff },
	};

	cpuid_patch(e, 6, 3, 4);
	cr_assert_eq(e[0].ebx >> 24, 3, "initial APIC id");
	cr_assert_eq((e[0].ebx >> 16) & 0xff, 4, "logical processors");
	cr_assert_eq(e[0].ebx & 0xffff, 0xffff, "other bits kept");
	cr_assert(e[0].ecx & (1u << 31), "hypervisor");
	cr_assert(e[0].edx & (1u << 28), "HTT with several vCPUs");
	cr_assert_eq(e[1].edx, 3);
	cr_assert_eq(e[1].ebx, 1);
	cr_assert_eq(e[1].ecx, 1u << 8);
	cr_assert_eq(e[2].eax, 2, "4 cores need 2 bits");
	cr_assert_eq(e[2].ebx, 4);
	cr_assert_eq(e[2].ecx, 2u << 8 | 1);
	cr_assert_eq(e[3].ecx, 2, "invalid level");
	cr_assert_eq(e[3].edx, 3);
	cr_assert_eq(e[4].eax >> 26, 3, "cores per package - 1");
	cr_assert_eq(e[4].eax & 0x3ffffff, 0x121);
	cr_assert_eq(e[5].ecx, 3, "NC = cores - 1, ApicIdSize 0");
}

Test(cpuid, single_cpu_clears_htt)
{
	struct kvm_cpuid_entry2 e[] = { { .function = 1, .edx = 1u << 28 } };

	cpuid_patch(e, 1, 0, 1);
	cr_assert_eq(e[0].edx & (1u << 28), 0);
	cr_assert_eq(e[0].ebx >> 24, 0);
}
