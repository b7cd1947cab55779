/* A virtio device's state for snapshots and live migration, whatever its
 * type and transport: quiescing and resuming its queues, and one
 * STREAM_SEC_DEVICE section holding the device core (features, status,
 * every queue's registers and its worker's ring indices) followed by the
 * transport's state (struct virtio_transport_state_ops: virtio-mmio's
 * registers, or virtio-pci's configuration space, selectors, vectors, ISR
 * and MSI-X table and PBA). A device type (virtio-blk, virtio-9p next)
 * writes its own sections first and this one last: restoring it starts
 * the device.
 *
 * Protocol, around the moment the state is read (vCPUs parked):
 *   virtio_quiesce: every queue worker stops at a safe point (nothing more
 *   popped, every request in flight completed and pushed, the driver
 *   interrupted for them as it asked) and keeps its ring indices; the
 *   guest RAM those completions wrote is then final (dirty-marked).
 *   virtio_state_save: the section, from the quiesced state.
 *   virtio_resume: the workers serve again from where they stopped (the
 *   snapshot is written, or the migration failed and the source runs on).
 * On the restoring side, on a device created as usual from the same
 * command line: virtio_state_restore checks every field (values a live
 * guest can program, such as ring addresses of a disabled queue, are
 * accepted as the live device accepts them; anything else is -EPROTO with
 * one log line), loads the registers, lets the transport wire what its
 * state implies, and if the driver had started the device, activates it
 * and starts each serving queue's worker from its saved indices.
 *
 * Threads: quiesce, save and resume on the thread saving the VM (the
 * migration worker) with every vCPU parked, under vd->lock; restore on the
 * main thread before any vCPU runs. */
#ifndef DEVICES_VIRTIO_VIRTIO_STATE_H
#define DEVICES_VIRTIO_VIRTIO_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/stream.h"
#include "virtio.h"

#define VIRTIO_STATE_VERSION 1
#define VIRTIO_STATE_MAGIC 0x54524956u /* "VIRT" */

/* One queue: the driver's registers and, when its worker was serving,
 * the worker's indices. */
struct virtio_queue_state {
	uint64_t desc, avail, used;
	uint16_t size;
	uint8_t ready, serving;				      /* 0 or 1 */
	uint8_t broken, event_idx, indirect, signalled_valid; /* 0 or 1 */
	uint16_t last_avail, used_idx, signalled_used;
	uint16_t reserved; /* 0 */
};

/* The payload's start; the transport's state_size bytes follow. */
struct virtio_core_state {
	uint32_t magic;		/* VIRTIO_STATE_MAGIC */
	uint32_t transport;	/* VIRTIO_TRANSPORT_* */
	uint32_t transport_len; /* the transport's state_size */
	uint32_t num_queues;
	uint64_t guest_features;
	uint32_t config_generation;
	uint8_t status;
	uint8_t active; /* 0 or 1: started at DRIVER_OK, not reset since */
	uint8_t reserved[2];
	struct virtio_queue_state q[VIRTIO_MAX_QUEUES]; /* unused ones 0 */
};

/* The largest transport state (virtio-pci's), for buffers. */
#define VIRTIO_TRANSPORT_STATE_MAX 1536

void virtio_quiesce(struct virtio_dev *vd);
void virtio_resume(struct virtio_dev *vd);

/* The section of instance `index`, from a quiesced device. 0 or -errno
 * (the writer's). */
int virtio_state_save(struct virtio_dev *vd, struct stream_writer *w,
		      unsigned index);

/* True when s is a virtio state section (by its magic), for a device
 * type's restore to tell it from its own sections. */
bool virtio_state_is(const struct stream_section *s);

/* Pure: whether the payload fits vd (its queues, features, transport and
 * guest RAM). 0, or -EPROTO with why filled in. */
int virtio_state_check(const struct virtio_dev *vd, const void *payload,
		       uint64_t len, uint32_t version, char *why,
		       size_t why_len);

/* virtio_state_check, then the device continues from the state. 0, or
 * -EPROTO / -errno after one log line naming the device. */
int virtio_state_restore(struct virtio_dev *vd, const struct stream_section *s);

#endif
