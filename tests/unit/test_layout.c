#include <criterion/criterion.h>

#include "arch/arch.h"

Test(layout, ram_keeps_the_32bit_hole)
{
	struct mem_region r[MEM_MAX_REGIONS];

	cr_assert_eq(arch_mem_layout(512 << 20, r), 1);
	cr_assert(r[0].gpa == 0 && r[0].size == 512 << 20);
	cr_assert_eq(arch_mem_layout(3ULL << 30, r), 1);
	cr_assert_eq(arch_mem_layout((3ULL << 30) + 4096, r), 2);
	cr_assert(r[1].gpa == (4ULL << 30) && r[1].size == 4096);
	cr_assert_eq(arch_mem_layout(5ULL << 30, r), 2);
	cr_assert_eq(r[0].size, 3ULL << 30);
	cr_assert_eq(r[1].size, 2ULL << 30);
}

Test(layout, device_windows_lie_in_the_hole)
{
	cr_assert_geq(ARCH_PCI_MMIO, 3ULL << 30);
	cr_assert_leq(ARCH_PCI_MMIO + ARCH_PCI_MMIO_SIZE, ARCH_VDEV_MMIO_BASE);
	cr_assert_lt(ARCH_VDEV_MMIO_BASE, ARCH_PCI_ECAM);
	cr_assert_lt(ARCH_PCI_ECAM, 4ULL << 30);
}
