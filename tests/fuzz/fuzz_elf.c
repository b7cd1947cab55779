/* The ELF kernel parser (arch/x86/elf.c) and the loader's ELF path
 * (arch/x86/loader.c) on arbitrary file bytes.
 *
 * elf_parse, on a heap copy of exactly the file's length (a read past it
 * is an ASan report): on failure *why names the problem; on success the
 * result is checked against a reading of the raw header, program headers
 * and notes here: the segments are the PT_LOAD headers with a memory
 * size, in order, each lying inside the file, filesz <= memsz, its
 * address range not wrapping; the PVH entry is the last Xen
 * PHYS32_ENTRY note's; the entry point (PVH or e_entry) lies inside a
 * segment; a 32-bit ELF has the PVH note.
 * arch_load_kernel (kernel_harness.h for the common invariants): on
 * success each segment lies in RAM above 1 MiB and below 4 GiB and holds
 * the file's bytes followed by zeros (where no later segment overlaps
 * it), and the entry mode and address are the note's (PVH) or e_entry's
 * (64-bit Linux); and a kernel that fits (segments in RAM from 1 MiB to
 * 4 GiB, command line and initrd with room) does load. */
#include "tests/fuzz/kernel_harness.h"

#include <elf.h>

#include "arch/x86/elf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	kh_init();
	return 0;
}

struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static struct phdr read_phdr(const uint8_t *p, bool is64)
{
	if (is64)
		return (struct phdr){ get32(p), get64(p + 8), get64(p + 24),
				      get64(p + 32), get64(p + 40) };
	return (struct phdr){ get32(p), get32(p + 4), get32(p + 12),
			      get32(p + 16), get32(p + 20) };
}

/* The last PVH entry note in [p, p + len), or false. */
static bool ref_notes(const uint8_t *p, uint64_t len, uint32_t *entry)
{
	bool found = false;

	for (uint64_t off = 0; off + 12 <= len;) {
		uint32_t namesz = get32(p + off), descsz = get32(p + off + 4);
		uint64_t name = off + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ULL);

		INVARIANT(desc <= len && next <= len); /* else a failure */
		if (namesz == 4 && !memcmp(p + name, "Xen", 4) &&
		    get32(p + off + 8) == XEN_ELFNOTE_PHYS32_ENTRY) {
			INVARIANT(descsz == 4 || descsz == 8);
			*entry = get32(p + desc);
			found = true;
		}
		off = next;
	}
	return found;
}

static bool inside(const struct elf_kernel *k, uint64_t a)
{
	for (unsigned i = 0; i < k->nr_segments; i++)
		if (a >= k->segments[i].paddr &&
		    a - k->segments[i].paddr < k->segments[i].memsz)
			return true;
	return false;
}

static void check_parse(const uint8_t *b, size_t len,
			const struct elf_kernel *k)
{
	bool is64 = b[EI_CLASS] == ELFCLASS64, pvh = false;
	uint64_t phoff, entry;
	unsigned phnum, n = 0;
	size_t phsz = is64 ? 56 : 32;
	uint32_t pvh_entry = 0;

	INVARIANT(len >= EI_NIDENT && !memcmp(b, ELFMAG, SELFMAG));
	INVARIANT(b[EI_DATA] == ELFDATA2LSB && k->is64 == is64);
	if (is64) {
		INVARIANT(len >= sizeof(Elf64_Ehdr));
		INVARIANT(get16(b + 16) == ET_EXEC &&
			  get16(b + 18) == EM_X86_64);
		INVARIANT(get16(b + 54) == phsz);
		entry = get64(b + 24), phoff = get64(b + 32);
		phnum = get16(b + 56);
	} else {
		INVARIANT(b[EI_CLASS] == ELFCLASS32 &&
			  len >= sizeof(Elf32_Ehdr));
		INVARIANT(get16(b + 16) == ET_EXEC && get16(b + 18) == EM_386);
		INVARIANT(get16(b + 42) == phsz);
		entry = get32(b + 24), phoff = get32(b + 28);
		phnum = get16(b + 44);
	}
	INVARIANT(k->entry == entry);
	INVARIANT(phoff <= len && (uint64_t)phnum * phsz <= len - phoff);
	for (unsigned i = 0; i < phnum; i++) {
		struct phdr ph = read_phdr(b + phoff + i * phsz, is64);
		if (ph.type == PT_LOAD && ph.memsz) {
			const struct elf_segment *s = &k->segments[n++];
			INVARIANT(n <= k->nr_segments);
			INVARIANT(s->paddr == ph.paddr &&
				  s->offset == ph.offset &&
				  s->filesz == ph.filesz &&
				  s->memsz == ph.memsz);
			INVARIANT(s->offset <= len &&
				  s->filesz <= len - s->offset);
			INVARIANT(s->filesz <= s->memsz);
			INVARIANT(s->paddr + s->memsz > s->paddr); /* no wrap */
		} else if (ph.type == PT_NOTE) {
			INVARIANT(ph.offset <= len &&
				  ph.filesz <= len - ph.offset);
			if (ref_notes(b + ph.offset, ph.filesz, &pvh_entry))
				pvh = true;
		}
	}
	INVARIANT(n == k->nr_segments && n >= 1 && n <= ELF_MAX_SEGMENTS);
	INVARIANT(k->has_pvh == pvh);
	if (pvh)
		INVARIANT(k->pvh_entry == pvh_entry && inside(k, pvh_entry));
	else
		INVARIANT(k->is64 && inside(k, k->entry));
}

static bool overlaps_later(const struct elf_kernel *k, unsigned i)
{
	const struct elf_segment *a = &k->segments[i];

	for (unsigned j = i + 1; j < k->nr_segments; j++) {
		const struct elf_segment *b = &k->segments[j];
		if (a->paddr < b->paddr + b->memsz &&
		    b->paddr < a->paddr + a->memsz)
			return true;
	}
	return false;
}

/* Whether the loader has to accept this kernel with these choices. */
static bool fits(const struct elf_kernel *k, uint64_t start, uint64_t end)
{
	uint64_t rip = k->has_pvh ? k->pvh_entry : k->entry;
	uint64_t top = kh.low_size < LAYOUT_RAM_LOW_LIMIT
			       ? kh.low_size
			       : LAYOUT_RAM_LOW_LIMIT;

	for (unsigned i = 0; i < k->nr_segments; i++)
		if (!kh_ram(k->segments[i].paddr, k->segments[i].memsz))
			return false;
	if (start < LAYOUT_HIGH_MEMORY || end > LAYOUT_RAM_HIGH_BASE ||
	    rip >= LAYOUT_RAM_HIGH_BASE)
		return false;
	if (strlen(kh.cmdline_used) > LAYOUT_CMDLINE_MAX - 1)
		return false;
	if (kh.initrd_size &&
	    (kh.initrd_size > top ||
	     ((top - kh.initrd_size) & ~(MEM_PAGE_SIZE - 1)) < end))
		return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_kernel k;
	const char *why = NULL;
	uint64_t start = UINT64_MAX, end = 0;
	uint8_t *file;
	size_t len;
	int r, parsed;

	file = kh_file(data, size, &len);
	if (!file)
		return 0;
	parsed = elf_parse(file, len, &k, &why);
	INVARIANT(parsed == 0 || parsed == -EINVAL);
	if (parsed) {
		INVARIANT(why && *why);
	} else {
		check_parse(file, len, &k);
		for (unsigned i = 0; i < k.nr_segments; i++) {
			const struct elf_segment *s = &k.segments[i];
			if (s->paddr < start)
				start = s->paddr;
			if (s->paddr + s->memsz > end)
				end = s->paddr + s->memsz;
		}
	}
	if (!elf_is_elf(file, len)) { /* fuzz_bzimage's */
		free(file);
		return 0;
	}

	r = kh_load(file, len, data[len], data[len + 1]);
	if (!parsed && fits(&k, start, end))
		INVARIANT(r == 0);
	if (!r) {
		const struct boot_entry *e = &kh.vm.arch.entry;
		INVARIANT(parsed == 0);
		for (unsigned i = 0; i < k.nr_segments; i++) {
			const struct elf_segment *s = &k.segments[i];
			INVARIANT(s->paddr >= LAYOUT_HIGH_MEMORY);
			INVARIANT(kh_ram(s->paddr, s->memsz));
			if (overlaps_later(&k, i))
				continue;
			INVARIANT(kh_holds(s->paddr, file + s->offset,
					   s->filesz));
			INVARIANT(kh_zero(s->paddr + s->filesz,
					  s->memsz - s->filesz, 65536));
		}
		if (k.has_pvh)
			INVARIANT(e->mode == BOOT_PVH32 &&
				  e->rip == k.pvh_entry);
		else
			INVARIANT(e->mode == BOOT_LINUX64 && e->rip == k.entry);
		INVARIANT(inside(&k, e->rip));
		kh_check_loaded(start, end, LAYOUT_RAM_LOW_LIMIT, NULL);
	}
	free(file);
	return 0;
}
