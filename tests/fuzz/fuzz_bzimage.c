/* The bzImage parser (arch/x86/bzimage.c) and the loader's bzImage path
 * (arch/x86/loader.c, booting the bzImage itself: never the kernel
 * cache) on arbitrary file bytes.
 *
 * bzimage_parse, on a heap copy of exactly the file's length (so a read
 * past it is an ASan report): on failure *why names the field; on success
 * the setup header, the protected-mode kernel and the payload lie inside
 * the file where the header's fields say (checked against a reading of
 * the raw bytes here), the header fits boot_params, the kernel is longer
 * than its 64-bit entry offset, init_size covers it, and the payload is
 * NULL exactly when its fields point outside the kernel.
 * bzimage_load_address: 1 MiB, or the relocatable kernel's aligned
 * preference above it.
 * arch_load_kernel (kernel_harness.h for the common invariants): on
 * success the kernel's bytes are at the load address followed by zeros
 * to init_size, all in RAM, and the entry is load address + 0x200; the
 * zero page carries the file's setup header. */
#include "tests/fuzz/kernel_harness.h"

#include "arch/x86/bzimage.h"
#include "arch/x86/elf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	kh_init();
	return 0;
}

/* The parse's results against the raw bytes. */
static void check_parse(const uint8_t *b, size_t len, const struct bzimage *bz)
{
	unsigned sects = b[0x1f1] ? b[0x1f1] : 4;
	uint64_t setup = (uint64_t)(sects + 1) * 512, off, plen;

	INVARIANT(len >= 0x268 && get16(b + 0x1fe) == 0xaa55);
	INVARIANT(!memcmp(b + 0x202, "HdrS", 4));
	INVARIANT(bz->version == get16(b + 0x206) &&
		  bz->version >= BZ_MIN_VERSION);
	INVARIANT(bz->hdr == b + BZ_HDR_OFFSET);
	INVARIANT(bz->hdr_len == 0x202 + (size_t)b[0x201] - BZ_HDR_OFFSET);
	INVARIANT(BZ_HDR_OFFSET + bz->hdr_len <= len);
	INVARIANT(BZ_HDR_OFFSET + bz->hdr_len <= BZ_HDR_END_MAX);
	INVARIANT(BZ_HDR_OFFSET + bz->hdr_len >= 0x268);
	INVARIANT(bz->setup_size == setup && setup < len);
	INVARIANT(bz->kernel == b + setup && bz->kernel_size == len - setup);
	INVARIANT(bz->kernel_size > BZ_ENTRY_64);
	INVARIANT(b[0x211] & BZ_LOADED_HIGH);
	INVARIANT(get16(b + 0x236) & BZ_XLF_KERNEL_64);
	INVARIANT(bz->kernel_alignment == get32(b + 0x230));
	INVARIANT(!(bz->kernel_alignment & (bz->kernel_alignment - 1)));
	INVARIANT(bz->init_size == get32(b + 0x260) &&
		  bz->init_size >= bz->kernel_size);
	INVARIANT(bz->initrd_addr_max == get32(b + 0x22c));
	INVARIANT(bz->cmdline_size == get32(b + 0x238));
	INVARIANT(bz->pref_address == get64(b + 0x258));
	off = get32(b + 0x248);
	plen = get32(b + 0x24c);
	if (plen && off + plen <= bz->kernel_size) {
		INVARIANT(bz->payload == bz->kernel + off);
		INVARIANT(bz->payload_size == plen);
		INVARIANT(bz->payload >= b &&
			  bz->payload + bz->payload_size <= b + len);
	} else {
		INVARIANT(bz->payload == NULL && bz->payload_size == 0);
	}
}

static void check_address(const struct bzimage *bz)
{
	uint64_t a = bzimage_load_address(bz);

	INVARIANT(a >= 0x100000);
	if (a != 0x100000) {
		INVARIANT(bz->relocatable && a == bz->pref_address);
		INVARIANT(!bz->kernel_alignment ||
			  a % bz->kernel_alignment == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage bz;
	const char *why = NULL;
	uint8_t *file;
	size_t len;
	int r, parsed;

	file = kh_file(data, size, &len);
	if (!file)
		return 0;
	parsed = bzimage_parse(file, len, &bz, &why);
	INVARIANT(parsed == 0 || parsed == -EINVAL);
	if (parsed) {
		INVARIANT(why && *why);
	} else {
		check_parse(file, len, &bz);
		check_address(&bz);
	}

	r = kh_load(file, len, data[len], data[len + 1]);
	if (!r && !elf_is_elf(file, len)) { /* ELF: fuzz_elf's */
		/* A file that is no ELF loads only as a valid bzImage. */
		uint64_t a = bzimage_load_address(&bz);
		INVARIANT(parsed == 0);
		INVARIANT(kh.vm.arch.entry.mode == BOOT_LINUX64);
		INVARIANT(kh.vm.arch.entry.rip == a + BZ_ENTRY_64);
		INVARIANT(kh_holds(a, bz.kernel, bz.kernel_size));
		INVARIANT(kh_zero(a + bz.kernel_size,
				  bz.init_size - bz.kernel_size, 65536));
		INVARIANT(kh_holds(LAYOUT_ZERO_PAGE + BZ_HDR_OFFSET, bz.hdr,
				   0x210 - BZ_HDR_OFFSET));
		INVARIANT(strlen(kh.cmdline_used) <= bz.cmdline_size);
		kh_check_loaded(a, a + bz.init_size,
				(uint64_t)bz.initrd_addr_max + 1, bz.hdr);
	}
	free(file);
	return 0;
}
