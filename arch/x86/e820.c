/* Pure function; main thread at start-up. */
#include "e820.h"

#include "devices/pci/pci.h"
#include "layout.h"

static unsigned add(struct e820_entry *out, unsigned n, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (size)
		out[n++] = (struct e820_entry){ addr, size, type };
	return n;
}

unsigned e820_build(const struct guest_mem *mem, bool reserve_ecam,
		    struct e820_entry *out)
{
	const struct mem_region *low = &mem->regions[0];
	unsigned n = 0;

	if (low->size <= LAYOUT_EBDA)
		return add(out, n, 0, low->size, E820_RAM);
	n = add(out, n, 0, LAYOUT_EBDA, E820_RAM);
	if (low->size <= LAYOUT_HIGH_MEMORY)
		return add(out, n, LAYOUT_EBDA, low->size - LAYOUT_EBDA,
			   E820_RESERVED);
	n = add(out, n, LAYOUT_EBDA, LAYOUT_HIGH_MEMORY - LAYOUT_EBDA,
		E820_RESERVED);
	n = add(out, n, LAYOUT_HIGH_MEMORY, low->size - LAYOUT_HIGH_MEMORY,
		E820_RAM);
	if (reserve_ecam)
		n = add(out, n, LAYOUT_PCI_ECAM, PCI_ECAM_BUS_SIZE,
			E820_RESERVED);
	for (unsigned i = 1; i < mem->nr_regions; i++)
		n = add(out, n, mem->regions[i].gpa, mem->regions[i].size,
			E820_RAM);
	return n;
}
