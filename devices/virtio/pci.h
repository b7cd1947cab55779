/* virtio-pci transport, modern only (virtio 1.x 4.1): a PCI function
 * 1AF4:1040+id with revision 1, whose vendor capabilities point into one
 * 32-bit memory BAR holding the common configuration, the ISR, the device
 * configuration, one notification address per queue and the MSI-X table
 * and PBA. Each queue and the configuration change get their own MSI-X
 * vector; there is no INTx, as in Cloud Hypervisor and Firecracker.
 *
 * Threads: BAR and configuration accesses on vCPU threads (common and
 * device configuration under vd->lock); notifications from device threads
 * through the MSI-X state, which has its own lock. */
#ifndef DEVICES_VIRTIO_PCI_H
#define DEVICES_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "virtio.h"

/* BAR 0 layout. */
#define VPCI_COMMON_OFF 0x0000
#define VPCI_ISR_OFF 0x1000
#define VPCI_DEVICE_OFF 0x2000
#define VPCI_NOTIFY_OFF 0x3000
#define VPCI_NOTIFY_MULTIPLIER 4 /* queue q notifies at NOTIFY_OFF + 4q */
#define VPCI_MSIX_TABLE_OFF 0x4000
#define VPCI_MSIX_PBA_OFF 0x5000
#define VPCI_BAR_SIZE 0x8000
#define VPCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)

/* What the VMM wires: MSI routes and irqfds, ioeventfds. */
struct virtio_pci_hooks {
	struct msix_irq_ops
		irq; /* per MSI-X table entry, as the driver chose */
	/* A notification write the VMM's ioeventfd did not catch (e.g.
	 * through the PCI configuration access capability). */
	void (*notify)(void *opaque, unsigned queue);
	/* BAR 0 decodes at gpa now, or (mapped false) nowhere. */
	void (*bar_moved)(void *opaque, uint64_t gpa, bool mapped);
};

struct virtio_pci {
	struct virtio_dev *vd;
	struct pci_device pci;
	struct msix msix;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint16_t queue_sel;
	uint16_t config_vector;			  /* atomic */
	uint16_t queue_vector[VIRTIO_MAX_QUEUES]; /* atomic */
	uint8_t isr;				  /* atomic */
	uint8_t cfg_cap; /* offset of the PCI configuration access cap */
	const struct virtio_pci_hooks *hooks;
	void *opaque;
};

/* Builds the PCI function for vd (to be attached to a bus by the caller)
 * with num_queues + 1 MSI-X vectors. 0 or -errno. */
int virtio_pci_init(struct virtio_pci *p, struct virtio_dev *vd,
		    const struct virtio_pci_hooks *hooks, void *opaque);
void virtio_pci_destroy(struct virtio_pci *p);

#endif
