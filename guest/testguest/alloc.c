/* RAM above the image, handed out in 4 KiB multiples and never freed: the
 * scenarios are short and allocate once. Identity mapped, so the address
 * is also what a device is given. */
#include "guest.h"

static uint64_t next;

void *page_alloc(uint64_t bytes)
{
	const struct memmap_entry *e;
	unsigned n = pvh_memmap(&e);
	uint64_t at;

	if (!next)
		next = ((uint64_t)__image_end + 0x1fffff) & ~0x1fffffULL;
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
