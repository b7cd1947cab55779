/* Puts virtio devices on the VM's transport, virtio-mmio or virtio-pci,
 * and wires their fast paths into KVM so that neither a vCPU thread nor
 * the main loop sees them: one ioeventfd per queue (the device's own kick
 * eventfds) and interrupts through irqfds: one per device on virtio-mmio
 * (an IOAPIC pin, described in the DSDT), one per MSI-X vector on
 * virtio-pci (a GSI of its own with an MSI route).
 *
 * Threads: set-up and teardown on the main thread; the PCI hooks run on
 * vCPU threads (MSI routes, BAR moves, under the PCI bus lock) and device
 * threads (interrupts: eventfd writes only). */
#ifndef VMM_VDEV_H
#define VMM_VDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "irq_routes.h"
#include "lib/log.h"

#define VDEV_MAX 8 /* virtio devices of a VM */

enum vm_transport { VM_TRANSPORT_MMIO, VM_TRANSPORT_PCI };

struct vm;

struct vdev {
	struct vm *vm;
	struct virtio_binding desc;
	enum vm_transport transport;
	struct virtio_mmio mmio;
	int mmio_irq_fd;
	struct virtio_pci pci;
	int vec_fd[VPCI_MAX_VECTORS];
	unsigned vec_gsi[VPCI_MAX_VECTORS];
	uint64_t notify_gpa;  /* where the ioeventfds are bound; 0: nowhere */
	struct log_limit log; /* guest-triggerable lines (BAR moves) */
};

/* Where a virtio-mmio device lies, for the firmware tables. */
struct vdev_mmio_window {
	uint64_t base;
	uint32_t size;
	uint32_t irq; /* GSI */
};

/* The VM's transport state: the PCI bus (when the transport is PCI), the
 * GSI routing table and the virtio-mmio windows for the firmware. */
struct vm_vdevs {
	enum vm_transport transport;
	struct pci_bus pci;
	struct irq_routes routes;
	struct vdev_mmio_window mmio[VDEV_MAX];
	unsigned nr_mmio;
	unsigned nr;
};

/* Sets up the transport (for PCI: the bus, its config ports, ECAM and BAR
 * window). 0 or -errno (logged). */
int vdevs_init(struct vm *vm, enum vm_transport transport);
void vdevs_destroy(struct vm_vdevs *vs);

/* Attaches one device. v must stay put while the VM runs. 0 or -errno
 * (logged); vdev_detach undoes a partial attach. */
int vdev_attach(struct vm *vm, struct vdev *v,
		const struct virtio_binding *desc);
void vdev_detach(struct vdev *v);

#endif
