/* Pure parser, no state; called on the main thread during start-up. */
#include "elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "lib/checked.h"

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

bool elf_is_elf(const uint8_t *buf, size_t len)
{
	return len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG);
}

/* A program header in class-independent form. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static void read_phdr(const uint8_t *p, bool is64, struct phdr *ph)
{
	if (is64) {
		Elf64_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct phdr){ h.p_type, h.p_offset, h.p_paddr,
				     h.p_filesz, h.p_memsz };
	} else {
		Elf32_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct phdr){ h.p_type, h.p_offset, h.p_paddr,
				     h.p_filesz, h.p_memsz };
	}
}

static int parse_notes(const uint8_t *p, uint64_t len, struct elf_kernel *k,
		       const char **why)
{
	uint64_t off = 0;

	while (off + 12 <= len) {
		Elf32_Nhdr n;
		uint64_t name_off, desc_off, next;

		memcpy(&n, p + off, sizeof(n));
		name_off = off + 12;
		desc_off = name_off + align_up(n.n_namesz, 4);
		if (!checked_add(desc_off, align_up(n.n_descsz, 4), &next) ||
		    desc_off > len || next > len)
			return fail(why, "note runs past its segment");
		if (n.n_namesz == 4 && !memcmp(p + name_off, "Xen", 4) &&
		    n.n_type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (n.n_descsz != 4 && n.n_descsz != 8)
				return fail(why,
					    "PVH entry note has a bad size");
			memcpy(&k->pvh_entry, p + desc_off, 4);
			k->has_pvh = true;
		}
		off = next;
	}
	return 0;
}

static int add_segment(const struct phdr *ph, size_t len, struct elf_kernel *k,
		       const char **why)
{
	uint64_t end;

	if (!range_within(ph->offset, ph->filesz, len))
		return fail(why, "segment runs past the end of the file");
	if (ph->filesz > ph->memsz)
		return fail(why, "segment file size exceeds its memory size");
	if (!checked_add(ph->paddr, ph->memsz, &end))
		return fail(why, "segment address range wraps");
	if (k->nr_segments == ELF_MAX_SEGMENTS)
		return fail(why, "too many loadable segments");
	k->segments[k->nr_segments++] =
		(struct elf_segment){ ph->paddr, ph->offset, ph->filesz,
				      ph->memsz };
	return 0;
}

static int parse_phdrs(const uint8_t *buf, size_t len, uint64_t phoff,
		       unsigned phnum, struct elf_kernel *k, const char **why)
{
	size_t phsz = k->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	int r;

	if (!range_within(phoff, (uint64_t)phnum * phsz, len))
		return fail(why,
			    "program headers run past the end of the file");
	for (unsigned i = 0; i < phnum; i++) {
		struct phdr ph;
		read_phdr(buf + phoff + i * phsz, k->is64, &ph);
		if (ph.type == PT_LOAD && ph.memsz) {
			r = add_segment(&ph, len, k, why);
		} else if (ph.type == PT_NOTE) {
			if (!range_within(ph.offset, ph.filesz, len))
				return fail(
					why,
					"note segment runs past the end of the file");
			r = parse_notes(buf + ph.offset, ph.filesz, k, why);
		} else {
			r = 0;
		}
		if (r)
			return r;
	}
	return 0;
}

static bool inside_segment(const struct elf_kernel *k, uint64_t addr)
{
	for (unsigned i = 0; i < k->nr_segments; i++)
		if (addr >= k->segments[i].paddr &&
		    addr - k->segments[i].paddr < k->segments[i].memsz)
			return true;
	return false;
}

static int parse_ehdr(const uint8_t *buf, size_t len, uint64_t *phoff,
		      unsigned *phnum, struct elf_kernel *k, const char **why)
{
	Elf64_Ehdr e64;
	Elf32_Ehdr e32;

	if (buf[EI_DATA] != ELFDATA2LSB)
		return fail(why, "not a little-endian ELF");
	k->is64 = buf[EI_CLASS] == ELFCLASS64;
	if (k->is64 && len >= sizeof(e64)) {
		memcpy(&e64, buf, sizeof(e64));
		if (e64.e_machine != EM_X86_64 || e64.e_type != ET_EXEC)
			return fail(why, "not an x86-64 executable ELF");
		if (e64.e_phentsize != sizeof(Elf64_Phdr))
			return fail(why, "unexpected program header size");
		*phoff = e64.e_phoff, *phnum = e64.e_phnum;
		k->entry = e64.e_entry;
		return 0;
	}
	if (buf[EI_CLASS] == ELFCLASS32 && len >= sizeof(e32)) {
		memcpy(&e32, buf, sizeof(e32));
		if (e32.e_machine != EM_386 || e32.e_type != ET_EXEC)
			return fail(why, "not an i386 executable ELF");
		if (e32.e_phentsize != sizeof(Elf32_Phdr))
			return fail(why, "unexpected program header size");
		*phoff = e32.e_phoff, *phnum = e32.e_phnum;
		k->entry = e32.e_entry;
		return 0;
	}
	return fail(why, "truncated or unknown-class ELF header");
}

int elf_parse(const uint8_t *buf, size_t len, struct elf_kernel *k,
	      const char **why)
{
	uint64_t phoff;
	unsigned phnum;
	int r;

	memset(k, 0, sizeof(*k));
	if (!elf_is_elf(buf, len) || len < EI_NIDENT)
		return fail(why, "not an ELF file");
	r = parse_ehdr(buf, len, &phoff, &phnum, k, why);
	if (!r)
		r = parse_phdrs(buf, len, phoff, phnum, k, why);
	if (r)
		return r;
	if (!k->nr_segments)
		return fail(why, "no loadable segments");
	if (k->has_pvh ? !inside_segment(k, k->pvh_entry)
		       : !inside_segment(k, k->entry))
		return fail(why,
			    "entry point is outside every loadable segment");
	if (!k->has_pvh && !k->is64)
		return fail(why, "32-bit ELF without a PVH entry note");
	return 0;
}
