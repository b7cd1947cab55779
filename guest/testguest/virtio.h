/* The test guest's virtio driver: virtio-mmio (version 2) and modern
 * virtio-pci discovery, feature negotiation, split virtqueues with
 * optional indirect descriptors and event index, completion by polling or
 * by interrupt (IOAPIC line on virtio-mmio, one MSI-X vector per queue on
 * virtio-pci). Single-threaded: one CPU drives a device. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VQ_MAX 8
#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vq_used_elem {
	uint32_t id, len;
};

struct vq {
	uint16_t size, index;
	struct vq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;  /* flags, idx, then elems; avail_event */
	struct vq_desc *indirect; /* a table of 4 per descriptor */
	uint16_t free_head, num_free, avail_idx, last_used, kicked_idx;
	uint64_t notify_addr;
	uint16_t notify_data;
	bool event_idx, use_indirect, interrupts;
	unsigned irq_slot;
};

struct vbuf {
	void *addr;
	uint32_t len;
	bool device_writes;
};

struct vdev {
	bool pci;
	uint64_t mmio; /* virtio-mmio registers */
	unsigned gsi;  /* virtio-mmio interrupt line */
	uint64_t common, isr, device, notify, msix; /* virtio-pci regions */
	uint32_t notify_mult;
	uint64_t features;
	unsigned nqueues;
	struct vq vqs[VQ_MAX];
};

/* Finds a device. mmio: from "4K@0xADDR:GSI" (the virtio_mmio.device=
 * syntax); pci: the first function 1AF4:1040+id, through ecam if
 * non-zero. 0, or -1 with a message. */
int vdev_find_mmio(struct vdev *d, const char *spec, uint32_t device_id);
int vdev_find_pci(struct vdev *d, uint64_t ecam, uint32_t device_id);

/* Resets the device and negotiates VERSION_1 plus wanted & offered.
 * Returns the negotiated features' device-specific low word, or -1. */
int vdev_negotiate(struct vdev *d, uint64_t wanted);
uint32_t vdev_num_queues(struct vdev *d);
/* Sets up queue q with up to size entries; interrupts go to irq_slot
 * (see irq.c) when interrupts is set, except on virtio-mmio, where the
 * device has one line and every queue shares queue 0's slot. 0 or -1. */
int vdev_setup_queue(struct vdev *d, unsigned q, uint16_t size, bool interrupts,
		     unsigned irq_slot);
void vdev_driver_ok(struct vdev *d);
uint8_t vdev_status(struct vdev *d);
uint32_t vdev_config32(struct vdev *d, unsigned off);
/* One byte: reads of a config field whose size is not a multiple of 4
 * (virtio-9p's tag) must not run past the config's end. */
uint8_t vdev_config8(struct vdev *d, unsigned off);

/* Raw register access for the hostile scenarios, which break the driver
 * rules on purpose: any status byte, and the selected queue's registers
 * written in any state. VQ_REG_SIZE is queue_size (PCI) or QueueNum
 * (MMIO; reads give QueueNumMax); VQ_REG_READY is queue_enable or
 * QueueReady; the others are the ring addresses. */
#define VDEV_S_NEEDS_RESET 0x40
enum vq_reg {
	VQ_REG_SIZE,
	VQ_REG_READY,
	VQ_REG_DESC,
	VQ_REG_DRIVER,
	VQ_REG_DEVICE
};
void vdev_set_status(struct vdev *d, uint8_t s);
void vdev_write_features(struct vdev *d, uint64_t features);
void vdev_queue_write(struct vdev *d, unsigned q, enum vq_reg r, uint64_t v);
uint32_t vdev_queue_read(struct vdev *d, unsigned q, enum vq_reg r);
/* Rings the queue's doorbell whatever the ring says. */
void vdev_queue_notify(struct vdev *d, unsigned q);
uint64_t vdev_config64(struct vdev *d, unsigned off);

/* Queues a chain (device-readable buffers first); returns the head, or -1
 * when the ring is full. Call vq_kick to tell the device. */
int vq_add(struct vq *q, const struct vbuf *bufs, unsigned n);
void vq_kick(struct vdev *d, struct vq *q);
/* A used chain's head and written length, or -1 when none is ready. */
int vq_get(struct vdev *d, struct vq *q, uint32_t *len);
/* Waits for the next used chain: spinning on the ring, or with interrupts
 * on, for the queue's interrupt count to move (acknowledging it on
 * virtio-mmio). The head, or -1 after timeout_ms. */
int vq_wait(struct vdev *d, struct vq *q, uint32_t *len, uint64_t timeout_ms);

#endif
