/* Pure parser, no state; called on the main thread during start-up. */
#include "bzimage.h"

#include <errno.h>
#include <string.h>

#include "lib/bytes.h"

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

static int parse_sizes(const uint8_t *buf, size_t len, struct bzimage *bz,
		       const char **why)
{
	unsigned sects = buf[0x1f1] ? buf[0x1f1] : 4;
	size_t hdr_end = 0x202 + (size_t)buf[0x201];

	if (hdr_end > len)
		return fail(why, "setup header runs past the end of the file");
	if (hdr_end > BZ_HDR_END_MAX)
		return fail(why,
			    "setup header is longer than boot_params allows");
	if (hdr_end < 0x268)
		return fail(why, "setup header too short for protocol 2.12");
	bz->hdr = buf + BZ_HDR_OFFSET;
	bz->hdr_len = hdr_end - BZ_HDR_OFFSET;
	bz->setup_size = (uint64_t)(sects + 1) * 512;
	if (bz->setup_size >= len)
		return fail(why, "setup_sects points past the end of the file");
	bz->kernel = buf + bz->setup_size;
	bz->kernel_size = len - bz->setup_size;
	if (bz->kernel_size <= BZ_ENTRY_64)
		return fail(why, "the protected-mode kernel ends before its "
				 "64-bit entry at 0x200");
	return 0;
}

static int parse_fields(const uint8_t *buf, struct bzimage *bz,
			const char **why)
{
	uint32_t align = get32(buf + 0x230);

	if (!(buf[0x211] & BZ_LOADED_HIGH))
		return fail(why, "kernel is not loaded high (zImage)");
	if (!(get16(buf + 0x236) & BZ_XLF_KERNEL_64))
		return fail(why, "kernel has no 64-bit entry point");
	if (align && (align & (align - 1)))
		return fail(why, "kernel_alignment is not a power of two");
	bz->kernel_alignment = align;
	bz->initrd_addr_max = get32(buf + 0x22c);
	bz->cmdline_size = get32(buf + 0x238);
	bz->relocatable = buf[0x234];
	bz->pref_address = get64(buf + 0x258);
	bz->init_size = get32(buf + 0x260);
	if (bz->init_size < bz->kernel_size)
		return fail(why, "init_size is smaller than the kernel");
	return 0;
}

static void find_payload(const uint8_t *buf, struct bzimage *bz)
{
	uint64_t off = get32(buf + 0x248), len = get32(buf + 0x24c);

	if (len && off <= bz->kernel_size && len <= bz->kernel_size - off) {
		bz->payload = bz->kernel + off;
		bz->payload_size = (uint32_t)len;
	}
}

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz,
		  const char **why)
{
	int r;

	memset(bz, 0, sizeof(*bz));
	if (len < 0x268)
		return fail(why, "file too small for a setup header");
	if (get16(buf + 0x1fe) != 0xaa55)
		return fail(why, "no boot flag 0xAA55 at 0x1fe");
	if (memcmp(buf + 0x202, "HdrS", 4))
		return fail(why, "no \"HdrS\" signature at 0x202");
	bz->version = get16(buf + 0x206);
	if (bz->version < BZ_MIN_VERSION)
		return fail(why, "boot protocol older than 2.12");
	r = parse_sizes(buf, len, bz, why);
	if (!r)
		r = parse_fields(buf, bz, why);
	if (!r)
		find_payload(buf, bz);
	return r;
}

uint64_t bzimage_load_address(const struct bzimage *bz)
{
	uint64_t addr = bz->pref_address;

	if (!bz->relocatable || addr < 0x100000 ||
	    (bz->kernel_alignment && addr % bz->kernel_alignment))
		return 0x100000;
	return addr;
}
