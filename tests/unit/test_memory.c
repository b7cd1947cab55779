#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "memory/memory.h"
#include "tests/unit/guest_ram.h"

static void create(struct guest_mem *m, uint64_t size, enum mem_backend b)
{
	struct mem_config cfg = { .size = size, .backend = b };
	cr_assert_eq(test_mem_create(m, &cfg), 0);
}

Test(memory, translation_is_bounds_checked)
{
	struct guest_mem m;

	create(&m, 5ULL << 30, MEM_BACKEND_ANON);
	cr_assert_not_null(mem_ptr(&m, 0, 1));
	cr_assert_not_null(mem_ptr(&m, (3ULL << 30) - 8, 8));
	cr_assert_null(mem_ptr(&m, (3ULL << 30) - 8, 9),
		       "crosses into the hole");
	cr_assert_null(mem_ptr(&m, 3ULL << 30, 1), "in the hole");
	cr_assert_null(mem_ptr(&m, (4ULL << 30) - 1, 2),
		       "crosses out of the hole");
	cr_assert_not_null(mem_ptr(&m, 4ULL << 30, 1));
	cr_assert_not_null(mem_ptr(&m, (6ULL << 30) - 1, 1));
	cr_assert_null(mem_ptr(&m, 6ULL << 30, 1), "past the end");
	cr_assert_null(mem_ptr(&m, (6ULL << 30) - 1, 2));
	cr_assert_null(mem_ptr(&m, UINT64_MAX, 2), "wraps");
	cr_assert_null(mem_ptr(&m, 1, UINT64_MAX), "wraps");
	cr_assert_eq((uint8_t *)mem_ptr(&m, 4ULL << 30, 1),
		     (uint8_t *)mem_ptr(&m, 0, 1) + (3ULL << 30),
		     "high RAM follows low RAM in the mapping");
	mem_destroy(&m);
}

Test(memory, writes_mark_pages_dirty)
{
	struct guest_mem m;
	uint8_t buf[8192] = { 1 }, back[8192];

	create(&m, 64 << 20, MEM_BACKEND_MEMFD);
	cr_assert(!mem_page_dirty(&m, 0x5000));
	cr_assert_eq(mem_write(&m, 0x5ff0, buf, 0x20), 0);
	cr_assert(mem_page_dirty(&m, 0x5000));
	cr_assert(mem_page_dirty(&m, 0x6000));
	cr_assert(!mem_page_dirty(&m, 0x7000));
	cr_assert(!mem_page_dirty(&m, 0x4000));
	cr_assert_eq(mem_read(&m, 0x5ff0, back, 0x20), 0);
	cr_assert_eq(memcmp(buf, back, 0x20), 0);
	cr_assert_eq(mem_write(&m, (64 << 20) - 4, buf, 8), -EFAULT);
	cr_assert_eq(mem_read(&m, (64 << 20) - 4, back, 8), -EFAULT);
	cr_assert_not_null(mem_ptr_for_write(&m, 0x100000, 1));
	cr_assert(mem_page_dirty(&m, 0x100000));
	cr_assert_null(mem_ptr_for_write(&m, 64 << 20, 1));
	mem_destroy(&m);
}

Test(memory, rejects_sizes_that_are_not_whole_pages)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 4097, .backend = MEM_BACKEND_ANON };

	cr_assert_eq(test_mem_create(&m, &cfg), -EINVAL);
	cfg.size = 0;
	cr_assert_eq(test_mem_create(&m, &cfg), -EINVAL);
	cfg.size = 3 << 20; /* not a multiple of 2 MiB */
	cfg.backend = MEM_BACKEND_HUGETLBFS;
	cr_assert_eq(test_mem_create(&m, &cfg), -EINVAL);
}

Test(memory, hugetlbfs_dir_must_exist)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 2 << 20,
				  .backend = MEM_BACKEND_HUGETLBFS,
				  .hugetlbfs_dir = "/nonexistent-dir" };

	cr_assert_eq(test_mem_create(&m, &cfg), -ENOENT);
}

Test(memory, shared_memfd_is_visible_through_the_fd)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 4 << 20,
				  .backend = MEM_BACKEND_MEMFD,
				  .shared = true };
	char c = 0;

	cr_assert_eq(test_mem_create(&m, &cfg), 0);
	cr_assert_eq(mem_write(&m, 0x1000, "Z", 1), 0);
	cr_assert_eq(pread(m.fd, &c, 1, 0x1000), 1);
	cr_assert_eq(c, 'Z');
	mem_destroy(&m);
}

/* The VmFlags line of the mapping that starts at p (/proc/self/smaps). */
static void vmflags_of(const void *p, char *out, size_t len)
{
	char line[512], start[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in = false;

	cr_assert(f);
	snprintf(start, sizeof(start), "%lx-", (unsigned long)p);
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') && line[0] != ' ' &&
		    strncmp(line, "VmFlags", 7))
			in = !strncmp(line, start, strlen(start));
		else if (in && !strncmp(line, "VmFlags:", 8))
			snprintf(out, len, "%s", line);
	}
	fclose(f);
}

/* RAM that is not hugetlbfs starts on a 2 MiB boundary and asks for
 * transparent huge pages ("hg"): with THP set to madvise, the guest would
 * otherwise run on 4 KiB pages, and KVM maps a huge page into the guest
 * only where host and guest addresses agree modulo 2 MiB. */
Test(memory, anon_and_memfd_ram_is_aligned_and_asks_for_huge_pages)
{
	const enum mem_backend kinds[] = { MEM_BACKEND_ANON,
					   MEM_BACKEND_MEMFD };
	struct guest_mem m[4];
	char flags[512];

	for (unsigned i = 0; i < 4; i++) {
		/* A few at once: one alone might land aligned by chance. */
		create(&m[i], (uint64_t)(6 + i) << 20, kinds[i % 2]);
		cr_assert_eq((uintptr_t)m[i].base % MEM_HUGE_PAGE_SIZE, 0,
			     "%s RAM at %p", i % 2 ? "memfd" : "anon",
			     (void *)m[i].base);
		vmflags_of(m[i].base, flags, sizeof(flags));
		cr_assert(strstr(flags, " hg"), "%s RAM: %s",
			  i % 2 ? "memfd" : "anon", flags);
		cr_assert_eq(
			mem_write(&m[i], ((uint64_t)(6 + i) << 20) - 1, "x", 1),
			0, "the last byte is mapped");
	}
	for (unsigned i = 0; i < 4; i++)
		mem_destroy(&m[i]);
}
