#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/bzimage.h"
#include "lib/bytes.h"

#define IMG_SIZE (64 * 1024)

/* A minimal valid bzImage: 4 setup sectors, protocol 2.15, 64-bit. */
static uint8_t *make_image(void)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	b[0x1f1] = 4;
	put16(b + 0x1fe, 0xaa55);
	b[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, 0x020f);
	b[0x211] = BZ_LOADED_HIGH;
	put32(b + 0x22c, 0x7fffffff);
	put32(b + 0x230, 0x200000);
	b[0x234] = 1;
	put16(b + 0x236, BZ_XLF_KERNEL_64);
	put32(b + 0x238, 2047);
	put64(b + 0x258, 0x1000000);
	put32(b + 0x260, 0x100000);
	return b;
}

Test(bzimage, parses_a_valid_header)
{
	uint8_t *b = make_image();
	struct bzimage bz;
	const char *why = NULL;

	cr_assert_eq(bzimage_parse(b, IMG_SIZE, &bz, &why), 0, "%s", why);
	cr_assert_eq(bz.version, 0x020f);
	cr_assert_eq(bz.setup_size, 5 * 512);
	cr_assert_eq(bz.kernel, b + 5 * 512);
	cr_assert_eq(bz.kernel_size, IMG_SIZE - 5 * 512);
	cr_assert_eq(bz.hdr_len, 0x26c - 0x1f1);
	cr_assert_eq(bz.cmdline_size, 2047);
	cr_assert_eq(bz.initrd_addr_max, 0x7fffffff);
	cr_assert_eq(bzimage_load_address(&bz), 0x1000000);
	free(b);
}

Test(bzimage, zero_setup_sects_means_four)
{
	uint8_t *b = make_image();
	struct bzimage bz;
	const char *why;

	b[0x1f1] = 0;
	cr_assert_eq(bzimage_parse(b, IMG_SIZE, &bz, &why), 0);
	cr_assert_eq(bz.setup_size, 5 * 512);
	free(b);
}

Test(bzimage, load_address_falls_back_to_1m)
{
	uint8_t *b = make_image();
	struct bzimage bz;
	const char *why;

	b[0x234] = 0; /* not relocatable */
	cr_assert_eq(bzimage_parse(b, IMG_SIZE, &bz, &why), 0);
	cr_assert_eq(bzimage_load_address(&bz), 0x100000);
	b[0x234] = 1;
	put64(b + 0x258, 0x1234567); /* misaligned preference */
	cr_assert_eq(bzimage_parse(b, IMG_SIZE, &bz, &why), 0);
	cr_assert_eq(bzimage_load_address(&bz), 0x100000);
	free(b);
}

struct mutation {
	const char *what;
	void (*apply)(uint8_t *b);
};

static void no_boot_flag(uint8_t *b)
{
	put16(b + 0x1fe, 0);
}
static void no_magic(uint8_t *b)
{
	memcpy(b + 0x202, "HdrX", 4);
}
static void old_protocol(uint8_t *b)
{
	put16(b + 0x206, 0x020b);
}
static void header_too_long(uint8_t *b)
{
	b[0x201] = 0xff;
}
static void header_too_short(uint8_t *b)
{
	b[0x201] = 0x20;
}
static void setup_past_end(uint8_t *b)
{
	b[0x1f1] = 0xff;
}
static void not_loaded_high(uint8_t *b)
{
	b[0x211] = 0;
}
static void no_64bit_entry(uint8_t *b)
{
	put16(b + 0x236, 0);
}
static void bad_alignment(uint8_t *b)
{
	put32(b + 0x230, 0x300000);
}
static void small_init_size(uint8_t *b)
{
	put32(b + 0x260, 16);
}

Test(bzimage, rejects_hostile_headers)
{
	static const struct mutation bad[] = {
		{ "boot flag", no_boot_flag },
		{ "HdrS", no_magic },
		{ "2.12", old_protocol },
		{ "longer than boot_params", header_too_long },
		{ "too short", header_too_short },
		{ "setup_sects", setup_past_end },
		{ "loaded high", not_loaded_high },
		{ "64-bit", no_64bit_entry },
		{ "power of two", bad_alignment },
		{ "init_size", small_init_size },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *b = make_image();
		struct bzimage bz;
		const char *why = "";
		bad[i].apply(b);
		cr_assert_eq(bzimage_parse(b, IMG_SIZE, &bz, &why), -EINVAL,
			     "%s accepted", bad[i].what);
		cr_assert(strstr(why, bad[i].what), "%s: reason '%s'",
			  bad[i].what, why);
		free(b);
	}
}

Test(bzimage, every_truncation_is_refused_or_bounded)
{
	uint8_t *b = make_image();
	struct bzimage bz;
	const char *why;

	/* Up to the end of the setup code no prefix is a kernel. */
	for (size_t len = 0; len <= 5 * 512; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, b, len);
		cr_assert_eq(bzimage_parse(copy, len, &bz, &why), -EINVAL,
			     "len %zu", len);
		free(copy);
	}
	free(b);
}

/* payload_offset/payload_length name the compressed ELF inside the
 * protected-mode kernel; fields pointing outside it leave no payload and
 * do not stop the boot. */
Test(bzimage, payload_inside_the_kernel)
{
	const uint64_t kernel_size = IMG_SIZE - 5 * 512;
	const struct {
		uint32_t off, len;
		bool found;
	} cases[] = {
		{ 0x100, 0x1000, true },
		{ 0, (uint32_t)kernel_size, true },
		{ (uint32_t)kernel_size - 1, 1, true },
		{ 0x100, 0, false },
		{ (uint32_t)kernel_size, 1, false },
		{ 1, (uint32_t)kernel_size, false },
		{ 0xffffffff, 0xffffffff, false },
		{ 0x10, 0xfffffff8, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = make_image();
		struct bzimage bz;
		const char *why = NULL;

		put32(b + 0x248, cases[i].off);
		put32(b + 0x24c, cases[i].len);
		cr_assert_eq(bzimage_parse(b, IMG_SIZE, &bz, &why), 0,
			     "case %zu: %s", i, why);
		if (cases[i].found) {
			cr_assert_eq(bz.payload, bz.kernel + cases[i].off,
				     "case %zu", i);
			cr_assert_eq(bz.payload_size, cases[i].len, "case %zu",
				     i);
		} else {
			cr_assert_null(bz.payload, "case %zu", i);
			cr_assert_eq(bz.payload_size, 0, "case %zu", i);
		}
		free(b);
	}
}

/* The 64-bit entry is 0x200 into the protected-mode kernel: a file that
 * ends at or before it cannot be entered. */
Test(bzimage, protected_mode_part_must_reach_the_entry)
{
	uint8_t *b = make_image();
	struct bzimage bz;
	const char *why = NULL;

	cr_assert_eq(bzimage_parse(b, 5 * 512 + 0x200, &bz, &why), -EINVAL);
	cr_assert_str_eq(why, "the protected-mode kernel ends before its "
			      "64-bit entry at 0x200");
	cr_assert_eq(bzimage_parse(b, 5 * 512 + 0x201, &bz, &why), 0, "%s",
		     why);
	free(b);
}
