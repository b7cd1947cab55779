/* ELF kernels: ELF32 or ELF64 x86 executables, with or without the PVH
 * entry note (XEN_ELFNOTE_PHYS32_ENTRY), parsed from an untrusted buffer. */
#ifndef VMM_ELF_H
#define VMM_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_segment {
	uint64_t paddr;
	uint64_t offset; /* in the file */
	uint64_t filesz;
	uint64_t memsz; /* >= filesz; the rest is zeroed */
};

struct elf_kernel {
	bool is64;
	uint64_t entry; /* e_entry, a physical address for vmlinux */
	bool has_pvh;
	uint32_t pvh_entry; /* 32-bit protected-mode entry */
	unsigned nr_segments;
	struct elf_segment segments[ELF_MAX_SEGMENTS];
};

/* True when buf starts with the ELF magic. */
bool elf_is_elf(const uint8_t *buf, size_t len);

/* Parses and validates the program headers and notes. Every segment lies
 * inside the file, filesz <= memsz, paddr + memsz does not wrap, and the
 * entry point (PVH or e_entry) lies inside a segment. Returns 0 or -EINVAL
 * with *why set. */
int elf_parse(const uint8_t *buf, size_t len, struct elf_kernel *k,
	      const char **why);

#endif
