/* vCPU threads: configuration accesses under bus->lock; BAR accesses
 * without it (mapped_at is read atomically), see pci.h. Set-up on the
 * main thread before the vCPUs start. */
#include "pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "lib/checked.h"
#include "lib/log.h"

#define CFG_ADDR_ENABLE 0x80000000u
#define FIRST_CAP 0x40

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint16_t subsys_vendor,
		     uint16_t subsys_id, const struct pci_device_ops *ops,
		     void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	pci_cfg_set(dev, PCI_VENDOR_ID, 2, vendor);
	pci_cfg_set(dev, PCI_DEVICE_ID, 2, device);
	pci_cfg_set(dev, PCI_REVISION_ID, 4, class_code << 8 | 1);
	pci_cfg_set(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, subsys_vendor);
	pci_cfg_set(dev, PCI_SUBSYSTEM_ID, 2, subsys_id);
	/* Memory decode, bus mastering and INTx disable are the guest's;
	 * there is no I/O BAR and no interrupt pin. */
	pci_wmask_set(dev, PCI_COMMAND, 2,
		      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			      PCI_COMMAND_INTX_DISABLE);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->next_cap = FIRST_CAP;
	dev->ops = ops;
	dev->opaque = opaque;
}

void pci_device_add_bar(struct pci_device *dev, unsigned bar, uint32_t size,
			const struct io_ops *ops)
{
	dev->bar_size[bar] = size;
	dev->bar_ops[bar] = ops;
	/* 32-bit non-prefetchable memory: the type bits read 0, and the
	 * address bits below the size are read-only zero, which is how the
	 * guest sizes the BAR. */
	pci_wmask_set(dev, PCI_BASE_ADDRESS_0 + 4 * bar, 4, ~(size - 1));
}

uint8_t pci_add_cap(struct pci_device *dev, uint8_t id, const void *body,
		    unsigned len)
{
	unsigned at = dev->next_cap, p;

	if (len < 2 || at + len > PCI_CFG_SIZE)
		return 0;
	dev->cfg[at] = id;
	dev->cfg[at + 1] = 0;
	memcpy(dev->cfg + at + 2, body, len - 2);
	if (!dev->cfg[PCI_CAPABILITY_LIST]) {
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)at;
		dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	} else {
		for (p = dev->cfg[PCI_CAPABILITY_LIST]; dev->cfg[p + 1];)
			p = dev->cfg[p + 1];
		dev->cfg[p + 1] = (uint8_t)at;
	}
	dev->next_cap = (uint8_t)((at + len + 3) & ~3u);
	return (uint8_t)at;
}

void pci_bus_init(struct pci_bus *bus, uint64_t mmio_base, uint32_t mmio_size)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->mmio_base = mmio_base;
	bus->mmio_size = mmio_size;
	pci_device_init(&bus->host_bridge, PCI_VENDOR_REDHAT,
			PCI_DEVICE_REDHAT_HOST, PCI_CLASS_HOST_BRIDGE, 0, 0,
			NULL, NULL);
	bus->slots[0] = &bus->host_bridge;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	pthread_mutex_destroy(&bus->lock);
}

int pci_bus_attach(struct pci_bus *bus, struct pci_device *dev)
{
	unsigned slot = 1;

	while (slot < PCI_MAX_SLOTS && bus->slots[slot])
		slot++;
	for (unsigned b = 0; b < PCI_NUM_BARS && slot < PCI_MAX_SLOTS; b++) {
		uint32_t size = dev->bar_size[b], at;
		if (!size)
			continue;
		at = (bus->next_bar + size - 1) & ~(size - 1);
		if (at > bus->mmio_size || size > bus->mmio_size - at) {
			slot = PCI_MAX_SLOTS;
			break;
		}
		pci_cfg_set(dev, PCI_BASE_ADDRESS_0 + 4 * b, 4,
			    (uint32_t)bus->mmio_base + at);
		bus->next_bar = at + size;
	}
	if (slot == PCI_MAX_SLOTS) {
		log_error("pci: no room for another device on bus 0");
		return -ENOSPC;
	}
	bus->slots[slot] = dev;
	return (int)slot;
}

/* Reports every BAR whose decoding changed; bus->lock held. */
static void update_mappings(struct pci_device *dev)
{
	bool decode = pci_cfg_get(dev, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;

	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		uint32_t at = 0;
		if (!dev->bar_size[b])
			continue;
		if (decode)
			at = pci_cfg_get(dev, PCI_BASE_ADDRESS_0 + 4 * b, 4) &
			     PCI_BASE_ADDRESS_MEM_MASK;
		if (at == dev->mapped_at[b])
			continue;
		__atomic_store_n(&dev->mapped_at[b], at, __ATOMIC_RELEASE);
		if (dev->ops && dev->ops->bar_moved)
			dev->ops->bar_moved(dev->opaque, b, at, at != 0);
	}
}

int pci_cfg_check(const struct pci_device *dev, const uint8_t *cfg,
		  unsigned *off)
{
	for (unsigned i = 0; i < PCI_CFG_SIZE; i++) {
		if ((cfg[i] ^ dev->cfg[i]) & ~dev->wmask[i]) {
			*off = i;
			return -EPROTO;
		}
	}
	return 0;
}

void pci_cfg_load(struct pci_device *dev, const uint8_t *cfg)
{
	memcpy(dev->cfg, cfg, PCI_CFG_SIZE);
	update_mappings(dev);
}

/* One access of len bytes at reg of slot's function 0, within a dword. */
static void config_access(struct pci_bus *bus, unsigned slot, unsigned fn,
			  unsigned reg, uint8_t *data, unsigned len,
			  bool is_write)
{
	struct pci_device *dev =
		slot < PCI_MAX_SLOTS && !fn ? bus->slots[slot] : NULL;

	if (!dev || reg >= PCI_CFG_SIZE) {
		if (!is_write)
			memset(data, dev ? 0 : 0xff, len);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	if (is_write) {
		for (unsigned i = 0; i < len; i++)
			dev->cfg[reg + i] =
				(uint8_t)((dev->cfg[reg + i] &
					   ~dev->wmask[reg + i]) |
					  (data[i] & dev->wmask[reg + i]));
		if (dev->ops && dev->ops->config_written)
			dev->ops->config_written(dev->opaque, reg, len);
		if (ranges_overlap(reg, len, PCI_COMMAND, 2) ||
		    ranges_overlap(reg, len, PCI_BASE_ADDRESS_0,
				   4 * PCI_NUM_BARS))
			update_mappings(dev);
	} else {
		if (dev->ops && dev->ops->config_reading)
			dev->ops->config_reading(dev->opaque, reg, len);
		memcpy(data, dev->cfg + reg, len);
	}
	pthread_mutex_unlock(&bus->lock);
}

static bool aligned_access(uint64_t off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && !(off & (size - 1));
}

static void port_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pci_bus *bus = opaque;
	uint32_t a = __atomic_load_n(&bus->config_address, __ATOMIC_ACQUIRE);

	memset(data, 0xff, size);
	if (off == 0 && size == 4)
		memcpy(data, &a, 4);
	else if (off >= 4 && aligned_access(off, size) &&
		 (a & CFG_ADDR_ENABLE) && !((a >> 16) & 0xff))
		config_access(bus, (a >> 11) & 0x1f, (a >> 8) & 7,
			      (a & 0xfc) + (unsigned)(off - 4), data, size,
			      false);
}

static void port_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned size)
{
	struct pci_bus *bus = opaque;
	uint32_t a = __atomic_load_n(&bus->config_address, __ATOMIC_ACQUIRE);

	if (off == 0 && size == 4) {
		memcpy(&a, data, 4);
		__atomic_store_n(&bus->config_address, a & 0x80fffffcu,
				 __ATOMIC_RELEASE);
	} else if (off >= 4 && aligned_access(off, size) &&
		   (a & CFG_ADDR_ENABLE) && !((a >> 16) & 0xff)) {
		config_access(bus, (a >> 11) & 0x1f, (a >> 8) & 7,
			      (a & 0xfc) + (unsigned)(off - 4), (uint8_t *)data,
			      size, true);
	}
}

const struct io_ops pci_config_port_ops = {
	.read = port_read,
	.write = port_write,
};

/* ECAM: offset = device << 15 | function << 12 | register. */
static void ecam_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	if (!aligned_access(off, size)) {
		memset(data, 0xff, size);
		return;
	}
	config_access(opaque, (off >> 15) & 0x1f, (off >> 12) & 7, off & 0xfff,
		      data, size, false);
}

static void ecam_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned size)
{
	if (aligned_access(off, size))
		config_access(opaque, (off >> 15) & 0x1f, (off >> 12) & 7,
			      off & 0xfff, (uint8_t *)data, size, true);
}

const struct io_ops pci_ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

/* Finds the BAR decoding [gpa, gpa + size); returns its device or NULL. */
static struct pci_device *bar_at(struct pci_bus *bus, uint64_t gpa,
				 unsigned size, unsigned *bar, uint64_t *off)
{
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->slots[s];
		if (!dev)
			continue;
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			uint32_t at = __atomic_load_n(&dev->mapped_at[b],
						      __ATOMIC_ACQUIRE);
			if (!at || gpa < at ||
			    !range_within(gpa - at, size, dev->bar_size[b]))
				continue;
			*bar = b;
			*off = gpa - at;
			return dev;
		}
	}
	return NULL;
}

static void mmio_access(struct pci_bus *bus, uint64_t off, uint8_t *data,
			unsigned size, bool is_write)
{
	struct pci_device *dev;
	unsigned bar;
	uint64_t boff;

	dev = bar_at(bus, bus->mmio_base + off, size, &bar, &boff);
	if (dev && is_write)
		dev->bar_ops[bar]->write(dev->opaque, boff, data, size);
	else if (dev)
		dev->bar_ops[bar]->read(dev->opaque, boff, data, size);
	else if (!is_write)
		memset(data, 0xff, size);
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	mmio_access(opaque, off, data, size, false);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned size)
{
	mmio_access(opaque, off, (uint8_t *)data, size, true);
}

const struct io_ops pci_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};
