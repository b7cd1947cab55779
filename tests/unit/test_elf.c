#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/elf.h"

#define FILE_SIZE 8192
#define LOAD_OFF 0x1000
#define NOTE_OFF 0x200

/* An ELF64 executable: one PT_LOAD of 0x800 bytes at 1 MiB (memsz 0x1000)
 * and a PT_NOTE with a Xen PVH entry note when pvh is set. */
static uint8_t *make_elf64(bool pvh)
{
	uint8_t *b = calloc(1, FILE_SIZE);
	Elf64_Ehdr *e = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(*e));
	Elf32_Nhdr note = { .n_namesz = 4,
			    .n_descsz = 4,
			    .n_type = XEN_ELFNOTE_PHYS32_ENTRY };
	uint32_t entry = 0x100010;

	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_entry = 0x100020;
	e->e_phoff = sizeof(*e);
	e->e_phentsize = sizeof(*ph);
	e->e_phnum = 2;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = LOAD_OFF,
			      .p_paddr = 0x100000,
			      .p_filesz = 0x800,
			      .p_memsz = 0x1000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
			      .p_offset = NOTE_OFF,
			      .p_filesz = 20 };
	if (pvh) {
		memcpy(b + NOTE_OFF, &note, sizeof(note));
		memcpy(b + NOTE_OFF + 12, "Xen", 4);
		memcpy(b + NOTE_OFF + 16, &entry, 4);
	}
	return b;
}

static Elf64_Ehdr *ehdr(uint8_t *b)
{
	return (Elf64_Ehdr *)b;
}
static Elf64_Phdr *phdr(uint8_t *b, int i)
{
	return (Elf64_Phdr *)(b + sizeof(Elf64_Ehdr)) + i;
}

Test(elf, pvh_note_gives_the_entry)
{
	uint8_t *b = make_elf64(true);
	struct elf_kernel k;
	const char *why = NULL;

	cr_assert_eq(elf_parse(b, FILE_SIZE, &k, &why), 0, "%s", why);
	cr_assert(k.has_pvh);
	cr_assert_eq(k.pvh_entry, 0x100010);
	cr_assert_eq(k.nr_segments, 1);
	cr_assert_eq(k.segments[0].paddr, 0x100000);
	cr_assert_eq(k.segments[0].filesz, 0x800);
	cr_assert_eq(k.segments[0].memsz, 0x1000);
	free(b);
}

Test(elf, without_note_uses_e_entry)
{
	uint8_t *b = make_elf64(false);
	struct elf_kernel k;
	const char *why = NULL;

	cr_assert_eq(elf_parse(b, FILE_SIZE, &k, &why), 0, "%s", why);
	cr_assert(!k.has_pvh);
	cr_assert_eq(k.entry, 0x100020);
	free(b);
}

Test(elf, elf32_with_pvh_note)
{
	uint8_t *b = calloc(1, FILE_SIZE);
	Elf32_Ehdr *e = (Elf32_Ehdr *)b;
	Elf32_Phdr *ph = (Elf32_Phdr *)(b + sizeof(*e));
	Elf32_Nhdr note = { 4, 4, XEN_ELFNOTE_PHYS32_ENTRY };
	uint32_t entry = 0x200000;
	struct elf_kernel k;
	const char *why = NULL;

	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS32;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_type = ET_EXEC;
	e->e_machine = EM_386;
	e->e_phoff = sizeof(*e);
	e->e_phentsize = sizeof(*ph);
	e->e_phnum = 2;
	ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD,
			      .p_offset = LOAD_OFF,
			      .p_paddr = 0x200000,
			      .p_filesz = 16,
			      .p_memsz = 16 };
	ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE,
			      .p_offset = NOTE_OFF,
			      .p_filesz = 20 };
	memcpy(b + NOTE_OFF, &note, sizeof(note));
	memcpy(b + NOTE_OFF + 12, "Xen", 4);
	memcpy(b + NOTE_OFF + 16, &entry, 4);
	cr_assert_eq(elf_parse(b, FILE_SIZE, &k, &why), 0, "%s", why);
	cr_assert(!k.is64 && k.has_pvh && k.pvh_entry == 0x200000);
	/* Without the note a 32-bit ELF has no entry the VMM supports. */
	memset(b + NOTE_OFF, 0, 20);
	cr_assert_eq(elf_parse(b, FILE_SIZE, &k, &why), -EINVAL);
	free(b);
}

static void big_endian(uint8_t *b)
{
	b[EI_DATA] = ELFDATA2MSB;
}
static void wrong_machine(uint8_t *b)
{
	ehdr(b)->e_machine = EM_AARCH64;
}
static void not_exec(uint8_t *b)
{
	ehdr(b)->e_type = ET_DYN;
}
static void bad_phentsize(uint8_t *b)
{
	ehdr(b)->e_phentsize = 12;
}
static void phoff_past_end(uint8_t *b)
{
	ehdr(b)->e_phoff = FILE_SIZE - 8;
}
static void phoff_wraps(uint8_t *b)
{
	ehdr(b)->e_phoff = UINT64_MAX - 16;
}
static void many_phdrs(uint8_t *b)
{
	ehdr(b)->e_phnum = 0xffff;
}
static void seg_past_end(uint8_t *b)
{
	phdr(b, 0)->p_offset = FILE_SIZE - 4;
}
static void seg_offset_wraps(uint8_t *b)
{
	phdr(b, 0)->p_offset = UINT64_MAX;
}
static void filesz_gt_memsz(uint8_t *b)
{
	phdr(b, 0)->p_filesz = 0x1800;
	phdr(b, 0)->p_memsz = 0x1000;
}
static void paddr_wraps(uint8_t *b)
{
	phdr(b, 0)->p_paddr = UINT64_MAX - 0x10;
}
static void note_past_end(uint8_t *b)
{
	phdr(b, 1)->p_filesz = FILE_SIZE;
}
static void note_desc_huge(uint8_t *b)
{
	((Elf32_Nhdr *)(b + NOTE_OFF))->n_descsz = 0xfffffff0;
}
static void note_bad_size(uint8_t *b)
{
	((Elf32_Nhdr *)(b + NOTE_OFF))->n_descsz = 2;
}
static void entry_outside(uint8_t *b)
{
	memcpy(b + NOTE_OFF + 16, "\0\0\0\x40", 4);
}
static void no_load(uint8_t *b)
{
	phdr(b, 0)->p_type = PT_NULL;
}
static void truncated_class(uint8_t *b)
{
	b[EI_CLASS] = 7;
}

Test(elf, rejects_hostile_files)
{
	static const struct {
		const char *what;
		void (*apply)(uint8_t *);
	} bad[] = {
		{ "big-endian", big_endian },
		{ "machine", wrong_machine },
		{ "ET_DYN", not_exec },
		{ "phentsize", bad_phentsize },
		{ "phoff past end", phoff_past_end },
		{ "phoff wraps", phoff_wraps },
		{ "65535 phdrs", many_phdrs },
		{ "segment past end", seg_past_end },
		{ "segment offset wraps", seg_offset_wraps },
		{ "filesz > memsz", filesz_gt_memsz },
		{ "paddr wraps", paddr_wraps },
		{ "note past end", note_past_end },
		{ "huge note", note_desc_huge },
		{ "note size", note_bad_size },
		{ "entry outside", entry_outside },
		{ "no PT_LOAD", no_load },
		{ "unknown class", truncated_class },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *b = make_elf64(true);
		struct elf_kernel k;
		const char *why = NULL;
		bad[i].apply(b);
		cr_assert_eq(elf_parse(b, FILE_SIZE, &k, &why), -EINVAL,
			     "%s accepted", bad[i].what);
		cr_assert_not_null(why);
		free(b);
	}
}

Test(elf, every_truncation_is_refused)
{
	uint8_t *b = make_elf64(true);
	struct elf_kernel k;
	const char *why;

	for (size_t len = 0; len < LOAD_OFF + 0x800; len++)
		cr_assert_eq(elf_parse(b, len, &k, &why), -EINVAL, "len %zu",
			     len);
	cr_assert_eq(elf_parse(b, LOAD_OFF + 0x800, &k, &why), 0);
	free(b);
}

Test(elf, too_many_segments)
{
	uint8_t *b = make_elf64(false);
	struct elf_kernel k;
	const char *why;

	ehdr(b)->e_phnum = ELF_MAX_SEGMENTS + 1;
	for (int i = 0; i <= ELF_MAX_SEGMENTS; i++)
		*phdr(b, i) = *phdr(b, 0);
	cr_assert_eq(elf_parse(b, FILE_SIZE, &k, &why), -EINVAL);
	free(b);
}
