/* The virtio device core shared by the transports (virtio-mmio; virtio-pci
 * next) and the device types (virtio-blk next; 9p later). A device type
 * supplies a const struct virtio_device_ops; a transport supplies a const
 * struct virtio_transport_ops and turns its registers into the calls
 * below. Neither writes into the other's table.
 *
 * Threads: the transport calls in from vCPU threads, under vd->lock; the
 * device's own threads (iothreads) use the queues between activate and
 * reset and signal through virtio_notify_queue, which takes no lock. */
#ifndef DEVICES_VIRTIO_VIRTIO_H
#define DEVICES_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"
#include "virtqueue.h"

#define VIRTIO_MAX_QUEUES 16
#define VIRTIO_QUEUE_SIZE 256 /* QueueNumMax offered for every queue */

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
	/* DRIVER_OK: start serving the ready queues. 0 or -errno (the device
	 * is then marked DEVICE_NEEDS_RESET). */
	int (*activate)(void *opaque);
	/* Stop serving queues; called with the device active, before reset. */
	void (*deactivate)(void *opaque);
};

struct virtio_transport_ops {
	void (*notify_queue)(void *transport, unsigned queue);
	void (*notify_config)(void *transport);
};

/* Common state of one device: a plain struct (save/restore later). */
struct virtio_dev {
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *opaque;
	const struct virtio_transport_ops *tops;
	void *transport;
	const struct guest_mem *mem;
	uint64_t host_features;
	uint64_t guest_features;
	uint8_t status;
	bool active;
	uint32_t config_generation;
	unsigned num_queues;
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
};

/* Refuses (-EINVAL, logged) a table missing a required op, or a queue
 * count of 0 or above VIRTIO_MAX_QUEUES. */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_device_ops *ops,
		    void *opaque, unsigned num_queues,
		    const struct guest_mem *mem);
void virtio_dev_attach_transport(struct virtio_dev *vd,
				 const struct virtio_transport_ops *tops,
				 void *transport);

/* Transport-side entry points; the caller holds vd->lock. */
uint32_t virtio_features_word(const struct virtio_dev *vd, unsigned sel);
void virtio_set_guest_features_word(struct virtio_dev *vd, unsigned sel,
				    uint32_t value);
void virtio_set_status(struct virtio_dev *vd, uint8_t status);
/* QueueReady: 1 validates and enables queue q (a bad ring marks the
 * device DEVICE_NEEDS_RESET), 0 disables it. */
void virtio_set_queue_ready(struct virtio_dev *vd, unsigned q, bool ready);
void virtio_config_access(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			  unsigned len, bool is_write);

/* Device side, any thread: used buffers were pushed on queue q. */
void virtio_notify_queue(struct virtio_dev *vd, unsigned q);
/* Device side: the driver broke a queue; sets DEVICE_NEEDS_RESET and
 * tells the driver through a configuration interrupt. */
void virtio_mark_broken(struct virtio_dev *vd);

#endif
