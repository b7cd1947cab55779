/* virtio-mmio transport, version 2 (virtio 1.x 4.2): a 4 KiB register
 * window per device, found by Linux through the DSDT (LNRO0005) or a
 * virtio_mmio.device= kernel parameter. Interrupts are edge-triggered: the transport sets
 * InterruptStatus and calls irq(); queue notifications (QueueNotify
 * writes) go to notify(), or straight to an ioeventfd bound by the VMM. */
#ifndef DEVICES_VIRTIO_MMIO_H
#define DEVICES_VIRTIO_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "devices/iobus.h"
#include "virtio.h"

#define VIRTIO_MMIO_WINDOW 0x1000
#define VIRTIO_MMIO_VENDOR 0x00564d4d /* "MMV\0", read as "VMM" */

struct virtio_mmio {
	struct virtio_dev *vd;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t interrupt_status; /* atomic: set by device threads */
	void (*irq)(void *opaque);
	void (*notify)(void *opaque, unsigned queue);
	void *opaque;
};

/* Binds the transport to vd; irq and notify receive opaque. */
void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vd,
		      void (*irq)(void *opaque),
		      void (*notify)(void *opaque, unsigned queue),
		      void *opaque);

/* Attach with the struct virtio_mmio as opaque, VIRTIO_MMIO_WINDOW long. */
extern const struct io_ops virtio_mmio_ops;

#endif
