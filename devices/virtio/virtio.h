/* The virtio device core shared by the transports (virtio-mmio; virtio-pci
 * next) and the device types (virtio-blk next; 9p later). A device type
 * supplies a const struct virtio_device_ops; a transport supplies a const
 * struct virtio_transport_ops and turns its registers into the calls
 * below. Neither writes into the other's table.
 *
 * Threads: the transport calls in from vCPU threads, under vd->lock. Each
 * queue with a worker (queue_worker.h) is served by that worker from its
 * own copy of the queue's configuration; every state change that affects
 * a running queue (DRIVER_OK, reset, QueueReady=0) is serialised with it
 * here: the vCPU asks, the worker stops or starts at a safe point and
 * answers, and only then does the change happen. The layout registers
 * cannot change while a queue is ready. Workers signal through
 * virtio_queue_interrupt and virtio_mark_broken, which take no lock. */
#ifndef DEVICES_VIRTIO_VIRTIO_H
#define DEVICES_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/log.h"
#include "memory/memory.h"
#include "virtqueue.h"

#define VIRTIO_MAX_QUEUES 16
#define VIRTIO_QUEUE_SIZE 256 /* default QueueNumMax of every queue */

struct vq_worker;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id; /* VIRTIO_ID_* */
	/* Device-type feature bits; the core adds VERSION_1, INDIRECT_DESC
	 * and EVENT_IDX. */
	uint64_t (*features)(void *opaque);
	/* Device configuration space; off + len is within config_size. */
	void (*config_read)(void *opaque, uint32_t off, uint8_t *data,
			    unsigned len);
	void (*config_write)(void *opaque, uint32_t off, const uint8_t *data,
			     unsigned len);
	uint32_t config_size;
	/* QueueNumMax of every queue, 0 for VIRTIO_QUEUE_SIZE: the core
	 * refuses a larger queue, so a device may index arrays of this size
	 * by descriptor head. */
	uint16_t queue_max;
	/* DRIVER_OK: the device starts; its queues' workers are started by
	 * the core right after. 0 or -errno (the device is then marked
	 * DEVICE_NEEDS_RESET). */
	int (*activate)(void *opaque);
	/* Reset of an active device, after its workers stopped. */
	void (*deactivate)(void *opaque);
};

struct virtio_transport_ops {
	void (*notify_queue)(void *transport, unsigned queue);
	void (*notify_config)(void *transport);
};

/* Saving and restoring a transport (virtio_state.h): its kind
 * (VIRTIO_TRANSPORT_*), its state's size, a copy of it (vCPUs parked), a
 * pure check of a copy from a stream (0 or -EPROTO with why filled in)
 * and the restore of a checked copy, which also wires what the state
 * implies (BAR decoding, MSI routes, a pending interrupt raised again);
 * main thread, before any vCPU runs. Set by the transport beside its
 * struct virtio_transport_ops (virtio_dev_attach_transport_state). */
struct virtio_transport_state_ops {
	uint32_t kind;
	uint32_t state_size;
	void (*save)(void *transport, void *state);
	int (*check)(void *transport, const void *state, char *why,
		     size_t why_len);
	void (*restore)(void *transport, const void *state);
};

enum { VIRTIO_TRANSPORT_MMIO = 1, VIRTIO_TRANSPORT_PCI = 2 };

/* Common state of one device: a plain struct (saved by virtio_state.h). */
struct virtio_dev {
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *opaque;
	const struct virtio_transport_ops *tops;
	const struct virtio_transport_state_ops *tstate; /* NULL: unsaveable */
	void *transport;
	const struct guest_mem *mem;
	uint64_t host_features;
	uint64_t guest_features;
	uint8_t status;
	bool active;
	uint32_t config_generation;
	unsigned num_queues;
	uint16_t queue_max;
	/* The driver's queue registers; served from workers' copies. */
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
	/* Set by the device before the transport is live, then fixed. */
	struct vq_worker *workers[VIRTIO_MAX_QUEUES];
	/* Between virtio_quiesce and virtio_resume (virtio_state.h): each
	 * worker's queue copy and whether it was serving. */
	bool quiesced;
	bool paused_serving[VIRTIO_MAX_QUEUES];
	struct virtqueue paused[VIRTIO_MAX_QUEUES];
	struct log_limit log; /* guest-triggerable lines of this device */
};

/* Refuses (-EINVAL, logged) a table missing a required op, or a queue
 * count of 0 or above VIRTIO_MAX_QUEUES. */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_device_ops *ops,
		    void *opaque, unsigned num_queues,
		    const struct guest_mem *mem);
void virtio_dev_attach_transport(struct virtio_dev *vd,
				 const struct virtio_transport_ops *tops,
				 void *transport);
void virtio_dev_attach_transport_state(
	struct virtio_dev *vd, const struct virtio_transport_state_ops *ops);
/* Queue q is served by w from DRIVER_OK to reset (main thread, before the
 * transport is live). */
void virtio_dev_set_worker(struct virtio_dev *vd, unsigned q,
			   struct vq_worker *w);

/* Transport-side entry points; the caller holds vd->lock. */
uint32_t virtio_features_word(const struct virtio_dev *vd, unsigned sel);
void virtio_set_guest_features_word(struct virtio_dev *vd, unsigned sel,
				    uint32_t value);
void virtio_set_status(struct virtio_dev *vd, uint8_t status);
/* QueueReady: 1 validates and enables queue q (a bad ring marks the
 * device DEVICE_NEEDS_RESET), 0 stops its worker and disables it. */
void virtio_set_queue_ready(struct virtio_dev *vd, unsigned q, bool ready);
/* QueueNum: a size above queue_max reads back as 0 and cannot be
 * enabled. Ignored while the queue is ready. */
void virtio_set_queue_num(struct virtio_dev *vd, unsigned q, uint32_t num);
enum virtio_ring { VIRTIO_RING_DESC, VIRTIO_RING_AVAIL, VIRTIO_RING_USED };
/* Ring address bits under mask (a 32-bit half or all 64) become those of
 * value. Ignored while the queue is ready. */
void virtio_set_queue_addr(struct virtio_dev *vd, unsigned q,
			   enum virtio_ring ring, uint64_t value,
			   uint64_t mask);
void virtio_config_access(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			  unsigned len, bool is_write);

/* Device side, any thread: used buffers were pushed on queue q (the
 * core's own copy decides whether the driver wants an interrupt). */
void virtio_notify_queue(struct virtio_dev *vd, unsigned q);
/* A worker decided (on its copy) that queue q interrupts the driver. */
void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q);
/* Device side: the driver broke a queue; sets DEVICE_NEEDS_RESET and
 * tells the driver through a configuration interrupt. */
void virtio_mark_broken(struct virtio_dev *vd);

#endif
