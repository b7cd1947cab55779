#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/mptable.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void check(unsigned ncpus)
{
	size_t size = mptable_size(ncpus);
	uint8_t *b = malloc(size);
	uint32_t hdr_gpa;
	uint16_t len, count;
	unsigned cpus = 0, intsrc = 0;
	const uint8_t *p, *hdr;

	mptable_build(b, 0xf0000, ncpus);
	cr_assert_eq(memcmp(b, "_MP_", 4), 0);
	cr_assert_eq(sum(b, 16), 0, "floating pointer checksum");
	memcpy(&hdr_gpa, b + 4, 4);
	cr_assert_eq(hdr_gpa, 0xf0010);
	hdr = b + 16;
	cr_assert_eq(memcmp(hdr, "PCMP", 4), 0);
	memcpy(&len, hdr + 4, 2);
	memcpy(&count, hdr + 34, 2);
	cr_assert_eq(16 + len, size);
	cr_assert_eq(sum(hdr, len), 0, "table checksum");
	p = hdr + 44;
	for (unsigned i = 0; i < count; i++) {
		if (p[0] == 0) {
			cr_assert_eq(p[1], cpus);
			cr_assert_eq(p[3] & 2, cpus == 0 ? 2 : 0, "BSP flag");
			cpus++;
			p += 20;
		} else {
			if (p[0] == 3) {
				cr_assert_eq(p[5], p[7], "ISA IRQ n on pin n");
				intsrc++;
			}
			p += 8;
		}
	}
	cr_assert_eq(p, hdr + len);
	cr_assert_eq(cpus, ncpus);
	cr_assert_eq(intsrc, 16);
	free(b);
}

Test(mptable, one_cpu)
{
	check(1);
}
Test(mptable, four_cpus)
{
	check(4);
}
Test(mptable, max_cpus)
{
	check(MPTABLE_MAX_CPUS);
}
