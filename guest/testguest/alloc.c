/* RAM above the image, handed out in 4 KiB multiples and never freed: the
 * scenarios are short and allocate once. Identity mapped, so the address
 * is also what a device is given. page_alloc_rest hands over all that is
 * left at once (scenario dirty's working set). */
#include "guest.h"

static uint64_t next;
static bool all_given;

static void init_next(void)
{
	if (!next)
		next = ((uint64_t)__image_end + 0x1fffff) & ~0x1fffffULL;
}

void *page_alloc(uint64_t bytes)
{
	const struct memmap_entry *e;
	unsigned n = pvh_memmap(&e);
	uint64_t at;

	if (all_given)
		return NULL;
	init_next();
	at = next;
	bytes = (bytes + 4095) & ~4095ULL;
	for (unsigned i = 0; i < n; i++) {
		if (e[i].type == 1 && at >= e[i].addr &&
		    at + bytes <= e[i].addr + e[i].size) {
			next = at + bytes;
			memset((void *)at, 0, bytes);
			return (void *)at;
		}
	}
	return NULL;
}

unsigned page_alloc_rest(struct memmap_entry *out, unsigned max)
{
	const struct memmap_entry *e;
	unsigned n = pvh_memmap(&e), got = 0;
	uint64_t limit = (uint64_t)MAPPED_GIB << 30;

	if (all_given)
		return 0;
	init_next();
	all_given = true;
	for (unsigned i = 0; i < n && got < max; i++) {
		uint64_t a = e[i].addr > next ? e[i].addr : next;
		uint64_t end = e[i].addr + e[i].size;

		if (e[i].type != 1)
			continue;
		a = (a + 4095) & ~4095ULL;
		end = (end < limit ? end : limit) & ~4095ULL;
		if (a >= end)
			continue;
		out[got].addr = a;
		out[got].size = end - a;
		out[got].type = 1;
		out[got].reserved = 0;
		got++;
	}
	return got;
}
