#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "lib/checked.h"

Test(checked, add_and_mul_detect_overflow)
{
	uint64_t r;
	cr_assert(checked_add(1, 2, &r) && r == 3);
	cr_assert(!checked_add(UINT64_MAX, 1, &r));
	cr_assert(checked_add(UINT64_MAX - 1, 1, &r) && r == UINT64_MAX);
	cr_assert(checked_mul(1ULL << 31, 1ULL << 32, &r) && r == 1ULL << 63);
	cr_assert(!checked_mul(1ULL << 32, 1ULL << 32, &r));
}

Test(checked, range_within_edges)
{
	cr_assert(range_within(0, 10, 10));
	cr_assert(range_within(10, 0, 10));
	cr_assert(!range_within(10, 1, 10));
	cr_assert(!range_within(11, 0, 10));
	cr_assert(!range_within(1, UINT64_MAX, UINT64_MAX));
	cr_assert(!range_within(UINT64_MAX, 2, UINT64_MAX));
}

Test(checked, overlap_and_alignment)
{
	cr_assert(ranges_overlap(0, 10, 9, 1));
	cr_assert(!ranges_overlap(0, 10, 10, 1));
	cr_assert(!ranges_overlap(0, 0, 0, 10));
	cr_assert_eq(align_up(4097, 4096), 8192);
	cr_assert_eq(align_down(8191, 4096), 4096);
}
