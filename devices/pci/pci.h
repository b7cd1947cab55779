/* PCI bus 0 of the platform: a host bridge at 00:00.0 and up to
 * PCI_MAX_SLOTS - 1 single-function devices, configuration space through
 * the 0xCF8/0xCFC ports (type 1) and through an ECAM (MMCONFIG) window,
 * and 32-bit memory BARs served from one MMIO window that the bus owns, so
 * a guest may move a BAR without the VMM touching the (immutable) MMIO bus.
 *
 * Threads: vCPU threads. Configuration accesses are serialised by the bus
 * lock; BAR accesses are routed by the BAR addresses, read atomically, to
 * the device's handlers, which lock their own state. */
#ifndef DEVICES_PCI_PCI_H
#define DEVICES_PCI_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/iobus.h"

#define PCI_MAX_SLOTS 32
#define PCI_CFG_SIZE 256 /* conventional space; the extended 4K reads 0 */
#define PCI_NUM_BARS 6
#define PCI_CONFIG_PORT 0xcf8 /* address at 0xcf8, data at 0xcfc..0xcff */
#define PCI_ECAM_BUS_SIZE (1u << 20) /* ECAM covers bus 0 only */

#define PCI_VENDOR_REDHAT 0x1b36
#define PCI_DEVICE_REDHAT_HOST 0x0008
#define PCI_CLASS_HOST_BRIDGE 0x060000 /* class, subclass, prog-if */

/* What a device does beyond plain configuration registers. All optional. */
struct pci_device_ops {
	/* Before a configuration read of [off, off + len) is served from
	 * the config array, so the device can refresh what it computes. */
	void (*config_reading)(void *opaque, unsigned off, unsigned len);
	/* After a configuration write, already merged under the write mask. */
	void (*config_written)(void *opaque, unsigned off, unsigned len);
	/* BAR bar now decodes at gpa (mapped) or no longer decodes. */
	void (*bar_moved)(void *opaque, unsigned bar, uint64_t gpa,
			  bool mapped);
};

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	 /* bits the guest may change */
	uint32_t bar_size[PCI_NUM_BARS]; /* power of two, 0: no BAR */
	const struct io_ops *bar_ops[PCI_NUM_BARS];
	uint32_t mapped_at[PCI_NUM_BARS]; /* last address reported, 0: none */
	uint8_t next_cap; /* where pci_add_cap puts the next capability */
	const struct pci_device_ops *ops;
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t config_address; /* the 0xCF8 register */
	uint64_t mmio_base;	 /* the BAR window */
	uint32_t mmio_size;
	uint32_t next_bar; /* firmware-style BAR assignment cursor */
	struct pci_device host_bridge;
	struct pci_device *slots[PCI_MAX_SLOTS];
};

/* The bus with its host bridge; BARs are assigned inside the window
 * [mmio_base, mmio_base + mmio_size). */
void pci_bus_init(struct pci_bus *bus, uint64_t mmio_base, uint32_t mmio_size);
void pci_bus_destroy(struct pci_bus *bus);

/* Sets up the header of a type 0 function (command, status, IDs, class,
 * no interrupt pin) before the caller adds BARs and capabilities. */
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint16_t subsys_vendor,
		     uint16_t subsys_id, const struct pci_device_ops *ops,
		     void *opaque);

/* A 32-bit memory BAR of size bytes (a power of two, at least 4 KiB)
 * served by ops with dev->opaque. */
void pci_device_add_bar(struct pci_device *dev, unsigned bar, uint32_t size,
			const struct io_ops *ops);

/* Appends a capability of len bytes (id, next pointer, then body) to the
 * list; returns its offset, or 0 when the space is full. */
uint8_t pci_add_cap(struct pci_device *dev, uint8_t id, const void *body,
		    unsigned len);

/* Places dev in the first free slot and assigns its BARs inside the
 * window. Returns the slot, or -ENOSPC (logged). */
int pci_bus_attach(struct pci_bus *bus, struct pci_device *dev);

/* Restoring a device's configuration space (a snapshot, a live
 * migration), main thread, no vCPU running. pci_cfg_check is pure: 0 when
 * cfg differs from dev's only in bits the guest may write, else -EPROTO
 * with the first such offset in *off. pci_cfg_load takes a checked cfg
 * and reports the BARs' decoding as the guest's own writes would
 * (bar_moved). */
int pci_cfg_check(const struct pci_device *dev, const uint8_t *cfg,
		  unsigned *off);
void pci_cfg_load(struct pci_device *dev, const uint8_t *cfg);

/* Bus-relative handlers; attach them with the bus as opaque:
 * pci_config_port_ops at PCI_CONFIG_PORT for 8 ports, pci_ecam_ops over
 * PCI_ECAM_BUS_SIZE bytes and pci_mmio_ops over the BAR window. */
extern const struct io_ops pci_config_port_ops;
extern const struct io_ops pci_ecam_ops;
extern const struct io_ops pci_mmio_ops;

/* Little-endian field helpers for device code. */
static inline uint32_t pci_cfg_get(const struct pci_device *dev, unsigned off,
				   unsigned len)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)dev->cfg[off + i] << (8 * i);
	return v;
}

static inline void pci_put_le(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void pci_cfg_set(struct pci_device *dev, unsigned off,
			       unsigned len, uint32_t v)
{
	pci_put_le(dev->cfg + off, len, v);
}

/* Which bits of a configuration field the guest may write. */
static inline void pci_wmask_set(struct pci_device *dev, unsigned off,
				 unsigned len, uint32_t v)
{
	pci_put_le(dev->wmask + off, len, v);
}

#endif
