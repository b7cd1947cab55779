#include <criterion/criterion.h>
#include <errno.h>

#include "lib/parse.h"

Test(parse_size, accepts_suffixes_and_default_unit)
{
	static const struct {
		const char *s;
		uint64_t unit, want;
	} ok[] = {
		{ "0", 1, 0 },
		{ "4096", 1, 4096 },
		{ "512", 1 << 20, 512ULL << 20 },
		{ "1K", 1, 1024 },
		{ "512M", 1, 512ULL << 20 },
		{ "512m", 1, 512ULL << 20 },
		{ "4G", 1, 4ULL << 30 },
		{ "4GiB", 1, 4ULL << 30 },
		{ "4gb", 1, 4ULL << 30 },
		{ "1T", 1, 1ULL << 40 },
		{ "16777215T", 1, 16777215ULL << 40 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1234;
		cr_assert_eq(parse_size(ok[i].s, ok[i].unit, &v), 0, "%s",
			     ok[i].s);
		cr_assert_eq(v, ok[i].want, "%s", ok[i].s);
	}
}

Test(parse_size, rejects_garbage_overflow_negatives_and_suffixes)
{
	static const char *bad[] = {
		"",
		" 1",
		"1 ",
		"-1",
		"+1",
		"1.5G",
		"4Gx",
		"4GG",
		"G",
		"0x10",
		"18446744073709551616",
		"99999999999999999999",
		"16777216T",
		"1P",
		"1KiBB",
		"1iB",
		"12abc",
		"\t",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 77;
		cr_assert_lt(parse_size(bad[i], 1, &v), 0, "'%s' accepted",
			     bad[i]);
		cr_assert_eq(v, 77, "'%s' changed the output", bad[i]);
	}
}

Test(parse_size, default_unit_overflow_is_an_error)
{
	uint64_t v;
	cr_assert_eq(parse_size("17592186044416", 1 << 20, &v), -ERANGE);
}

Test(parse_uint, range_and_garbage)
{
	uint64_t v;
	cr_assert_eq(parse_uint("1", 1, 254, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(parse_uint("254", 1, 254, &v), 0);
	cr_assert_eq(parse_uint("255", 1, 254, &v), -ERANGE);
	cr_assert_eq(parse_uint("0", 1, 254, &v), -ERANGE);
	cr_assert_eq(parse_uint("-1", 1, 254, &v), -EINVAL);
	cr_assert_eq(parse_uint("2x", 1, 254, &v), -EINVAL);
	cr_assert_eq(parse_uint("", 1, 254, &v), -EINVAL);
	cr_assert_eq(parse_uint("18446744073709551616", 1, 254, &v), -ERANGE);
}
