/* virtio-pci's transport state for snapshots and live migration
 * (virtio_state.h): the function's configuration space (BARs, command
 * register, capabilities, the MSI-X enable and function-mask bits), the
 * common configuration's selectors, the configuration and queue MSI-X
 * vectors, the ISR and the MSI-X table and PBA: a plain struct saved byte
 * for byte after the device core's state.
 *
 * Threads: save on the thread saving the VM (vCPUs parked), check and
 * restore on the main thread before any vCPU runs; the caller holds
 * vd->lock, the MSI-X state is copied under its own lock. */
#ifndef DEVICES_VIRTIO_PCI_STATE_H
#define DEVICES_VIRTIO_PCI_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "virtio.h"

struct virtio_pci_state {
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t device_features_sel, driver_features_sel;
	uint16_t queue_sel;
	uint16_t config_vector; /* below the vector count, or NO_VECTOR */
	uint16_t queue_vector[VIRTIO_MAX_QUEUES]; /* the same */
	uint8_t isr;				  /* bits 0 and 1 only */
	uint8_t reserved[3];			  /* 0 */
	struct msix_state msix;
};

/* struct virtio_transport_state_ops members; transport is a struct virtio_pci.
 * Restoring loads the configuration space (the notification ioeventfds
 * follow BAR 0 when memory decoding is on), then the MSI-X state (routes
 * installed for every deliverable vector, pending ones fired). */
void virtio_pci_save(void *transport, void *state);
int virtio_pci_check(void *transport, const void *state, char *why,
		     size_t why_len);
void virtio_pci_restore(void *transport, const void *state);

#endif
