/* virtio-pci's transport state (pci_state.h). Save on the thread saving
 * the VM with the vCPUs parked, check and restore on the main thread
 * before any vCPU runs; the caller holds vd->lock, the MSI-X state is
 * taken under its own lock, the vectors and the ISR are atomics as
 * everywhere. No vCPU runs, so no configuration access races with the
 * copy of the configuration space. */
#include "pci_state.h"

#include <errno.h>
#include <linux/virtio_pci.h>
#include <stdio.h>
#include <string.h>

#include "pci.h"

_Static_assert(sizeof(struct virtio_pci_state) ==
		       PCI_CFG_SIZE + 12 + 2 * VIRTIO_MAX_QUEUES + 4 + 16 +
			       MSIX_ENTRY_SIZE * MSIX_MAX_VECTORS,
	       "stream layout");
_Static_assert(sizeof(struct virtio_pci_state) <= 1536,
	       "VIRTIO_TRANSPORT_STATE_MAX");

void virtio_pci_save(void *transport, void *state)
{
	struct virtio_pci *p = transport;
	struct virtio_pci_state s;

	memset(&s, 0, sizeof(s));
	memcpy(s.cfg, p->pci.cfg, PCI_CFG_SIZE);
	s.device_features_sel = p->device_features_sel;
	s.driver_features_sel = p->driver_features_sel;
	s.queue_sel = p->queue_sel;
	s.config_vector = __atomic_load_n(&p->config_vector, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		s.queue_vector[i] =
			__atomic_load_n(&p->queue_vector[i], __ATOMIC_ACQUIRE);
	s.isr = __atomic_load_n(&p->isr, __ATOMIC_SEQ_CST);
	msix_save(&p->msix, &s.msix);
	memcpy(state, &s, sizeof(s));
}

static bool vector_ok(const struct virtio_pci *p, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < p->msix.nvec;
}

int virtio_pci_check(void *transport, const void *state, char *why,
		     size_t why_len)
{
	const struct virtio_pci *p = transport;
	struct virtio_pci_state s;
	unsigned off;

	memcpy(&s, state, sizeof(s));
	if (pci_cfg_check(&p->pci, s.cfg, &off)) {
		snprintf(why, why_len,
			 "PCI configuration byte %#x is %#x, this device's "
			 "%#x",
			 off, s.cfg[off], p->pci.cfg[off]);
		return -EPROTO;
	}
	if (!vector_ok(p, s.config_vector)) {
		snprintf(why, why_len, "configuration MSI-X vector %u",
			 s.config_vector);
		return -EPROTO;
	}
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		/* Queues the device does not have keep NO_VECTOR. */
		bool ok = i < p->vd->num_queues
				  ? vector_ok(p, s.queue_vector[i])
				  : s.queue_vector[i] == VIRTIO_MSI_NO_VECTOR;
		if (!ok) {
			snprintf(why, why_len, "queue %u: MSI-X vector %u", i,
				 s.queue_vector[i]);
			return -EPROTO;
		}
	}
	if (s.isr & ~(uint8_t)(1 | VIRTIO_PCI_ISR_CONFIG) || s.reserved[0] ||
	    s.reserved[1] || s.reserved[2]) {
		snprintf(why, why_len, "ISR %#x", s.isr);
		return -EPROTO;
	}
	return msix_state_check(&p->msix, &s.msix, s.cfg, why, why_len);
}

void virtio_pci_restore(void *transport, const void *state)
{
	struct virtio_pci *p = transport;
	struct virtio_pci_state s;

	memcpy(&s, state, sizeof(s));
	p->device_features_sel = s.device_features_sel;
	p->driver_features_sel = s.driver_features_sel;
	p->queue_sel = s.queue_sel;
	__atomic_store_n(&p->config_vector, s.config_vector, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		__atomic_store_n(&p->queue_vector[i], s.queue_vector[i],
				 __ATOMIC_RELEASE);
	__atomic_store_n(&p->isr, s.isr, __ATOMIC_SEQ_CST);
	pci_cfg_load(&p->pci, s.cfg);
	msix_restore(&p->msix, &s.msix);
}
