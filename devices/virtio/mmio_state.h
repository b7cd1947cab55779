/* virtio-mmio's transport state for snapshots and live migration
 * (virtio_state.h): the driver's selectors and the interrupt status, a
 * plain struct saved byte for byte after the device core's state.
 *
 * Threads: save on the thread saving the VM (vCPUs parked), check and
 * restore on the main thread before any vCPU runs; the caller holds
 * vd->lock. */
#ifndef DEVICES_VIRTIO_MMIO_STATE_H
#define DEVICES_VIRTIO_MMIO_STATE_H

#include <stddef.h>
#include <stdint.h>

struct virtio_mmio_state {
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status; /* VIRTIO_MMIO_INT_* bits only */
};

/* struct virtio_transport_state_ops members; transport is a struct virtio_mmio.
 * Restoring a set interrupt status raises the device's interrupt again:
 * the edge may not have reached the interrupt controller before it was
 * saved, and a driver finding nothing new takes it as spurious. */
void virtio_mmio_save(void *transport, void *state);
int virtio_mmio_check(void *transport, const void *state, char *why,
		      size_t why_len);
void virtio_mmio_restore(void *transport, const void *state);

#endif
