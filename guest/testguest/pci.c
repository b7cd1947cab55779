/* PCI bus 0, function 0 of each slot: configuration reads and writes
 * through the 0xCF8/0xCFC ports (type 1) or an ECAM window. */
#include "guest.h"

#define PCI_CAP_PTR 0x34
#define PCI_STATUS_CAPS 0x100000 /* in the command/status dword */

uint32_t pci_read(uint64_t ecam, unsigned dev, unsigned off)
{
	if (ecam)
		return mmio_read32(ecam + ((uint64_t)dev << 15) +
				   (off & 0xffc));
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	return inl(0xcfc);
}

void pci_write(uint64_t ecam, unsigned dev, unsigned off, uint32_t v)
{
	if (ecam) {
		mmio_write32(ecam + ((uint64_t)dev << 15) + (off & 0xffc), v);
		return;
	}
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

int pci_find(uint64_t ecam, uint16_t vendor, uint16_t device)
{
	for (unsigned dev = 0; dev < 32; dev++)
		if (pci_read(ecam, dev, 0) == ((uint32_t)device << 16 | vendor))
			return (int)dev;
	return -1;
}

unsigned pci_next_cap(uint64_t ecam, unsigned dev, unsigned from, uint8_t id)
{
	unsigned at, guard = 0;

	if (!(pci_read(ecam, dev, 4) & PCI_STATUS_CAPS))
		return 0;
	at = from ? (pci_read(ecam, dev, from) >> 8) & 0xfc
		  : pci_read(ecam, dev, PCI_CAP_PTR) & 0xfc;
	for (; at && guard < 48; guard++) {
		uint32_t h = pci_read(ecam, dev, at);
		if ((h & 0xff) == id)
			return at;
		at = (h >> 8) & 0xfc;
	}
	return 0;
}

uint64_t pci_bar(uint64_t ecam, unsigned dev, unsigned bar)
{
	uint32_t lo = pci_read(ecam, dev, 0x10 + 4 * bar);

	if ((lo & 6) == 4) /* 64-bit */
		return (lo & ~0xfULL) |
		       (uint64_t)pci_read(ecam, dev, 0x14 + 4 * bar) << 32;
	return lo & ~0xfULL;
}
