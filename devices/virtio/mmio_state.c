/* virtio-mmio's transport state (mmio_state.h). Save on the thread saving
 * the VM with the vCPUs parked, check and restore on the main thread
 * before any vCPU runs; the caller holds vd->lock, interrupt_status is
 * atomic as everywhere. */
#include "mmio_state.h"

#include <errno.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <string.h>

#include "mmio.h"

_Static_assert(sizeof(struct virtio_mmio_state) == 16, "stream layout");

void virtio_mmio_save(void *transport, void *state)
{
	const struct virtio_mmio *m = transport;
	struct virtio_mmio_state s = {
		.device_features_sel = m->device_features_sel,
		.driver_features_sel = m->driver_features_sel,
		.queue_sel = m->queue_sel,
		.interrupt_status =
			__atomic_load_n(&m->interrupt_status, __ATOMIC_SEQ_CST),
	};

	memcpy(state, &s, sizeof(s));
}

/* The selectors take any value (reads through a selector out of range
 * give 0, as on a live device); the status only the two bits the device
 * sets. */
int virtio_mmio_check(void *transport, const void *state, char *why,
		      size_t why_len)
{
	struct virtio_mmio_state s;

	(void)transport;
	memcpy(&s, state, sizeof(s));
	if (s.interrupt_status &
	    ~(uint32_t)(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)) {
		snprintf(why, why_len, "virtio-mmio interrupt status %#x",
			 s.interrupt_status);
		return -EPROTO;
	}
	return 0;
}

void virtio_mmio_restore(void *transport, const void *state)
{
	struct virtio_mmio *m = transport;
	struct virtio_mmio_state s;

	memcpy(&s, state, sizeof(s));
	m->device_features_sel = s.device_features_sel;
	m->driver_features_sel = s.driver_features_sel;
	m->queue_sel = s.queue_sel;
	__atomic_store_n(&m->interrupt_status, s.interrupt_status,
			 __ATOMIC_SEQ_CST);
	if (s.interrupt_status)
		m->irq(m->opaque);
}
