/* The x86 Linux boot protocol's setup header (Documentation/arch/x86/
 * boot.rst), parsed from an untrusted bzImage into a validated struct. */
#ifndef VMM_BZIMAGE_H
#define VMM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BZ_HDR_OFFSET 0x1f1
#define BZ_HDR_END_MAX                                                         \
	0x290 /* boot_params has room for the header up to here */
#define BZ_LOADED_HIGH 0x01
#define BZ_XLF_KERNEL_64 0x01
#define BZ_MIN_VERSION 0x020c /* 2.12: xloadflags, 64-bit entry */
#define BZ_ENTRY_64 0x200     /* from the protected-mode kernel's start */

struct bzimage {
	uint16_t version;
	uint64_t setup_size;   /* bytes of real-mode setup, incl. boot sector */
	const uint8_t *kernel; /* protected-mode kernel inside the buffer */
	uint64_t kernel_size;
	const uint8_t *hdr; /* setup header bytes, copied into boot_params */
	size_t hdr_len;	    /* from 0x1f1 up to 0x202 + byte at 0x201 */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size; /* max command line length, excluding NUL */
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint64_t pref_address;
	uint32_t init_size; /* memory the kernel needs from its load address */
	/* The compressed ELF (payload_offset/payload_length, inside kernel);
	 * NULL when the header's fields do not point inside the file, which
	 * only matters to unpacking: the boot protocol does not need them. */
	const uint8_t *payload;
	uint32_t payload_size;
};

/* Parses and validates buf (len bytes) as a bzImage the VMM can enter in
 * 64-bit mode. Returns 0, or -EINVAL with *why naming the broken field.
 * The struct points into buf. */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz,
		  const char **why);

/* Where to load the protected-mode kernel: its preferred address when it
 * is relocatable and aligned, else the classic 1 MiB. */
uint64_t bzimage_load_address(const struct bzimage *bz);

#endif
