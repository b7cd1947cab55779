/* MSI-X for a PCI device: the capability, the vector table and the pending
 * bit array, with per-vector and function masking. The wiring code gives
 * each vector a route (address and data, installed as a KVM MSI route) and
 * a way to fire it (an irqfd write); a masked vector's interrupt is held
 * pending and fired when it is unmasked.
 *
 * Threads: table accesses and configuration writes on vCPU threads, fires
 * on device threads; all under msix->lock, held only briefly. Routes are
 * installed only on vCPU threads (the table or capability write that
 * makes a changed vector deliverable); a device thread never routes. */
#ifndef DEVICES_PCI_MSIX_H
#define DEVICES_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16
#define MSIX_NO_VECTOR 0xffff

struct msix_irq_ops {
	/* Vector vec now delivers as this MSI message. 0 or -errno. */
	int (*route)(void *opaque, unsigned vec, uint64_t addr, uint32_t data);
	/* Deliver vec (its route is current). */
	void (*fire)(void *opaque, unsigned vec);
};

struct msix_entry {
	uint64_t addr;
	uint32_t data;
	uint32_t ctrl; /* bit 0: masked */
};

/* Plain state (msix_save/msix_restore) plus the lock. */
struct msix {
	pthread_mutex_t lock;
	struct pci_device *dev;
	uint8_t cap; /* capability offset in config space */
	unsigned nvec;
	bool enabled, function_masked;
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pending;     /* the PBA */
	uint64_t route_stale; /* vectors whose message changed since routed */
	const struct msix_irq_ops *ops;
	void *opaque;
};

/* Adds the capability to dev: nvec vectors, the table at table_off and
 * the PBA at pba_off of BAR bar (the device routes those accesses to
 * msix_table_access). Returns 0, or -ENOSPC when config space is full. */
int msix_init(struct msix *m, struct pci_device *dev, unsigned nvec,
	      unsigned bar, uint32_t table_off, uint32_t pba_off,
	      const struct msix_irq_ops *ops, void *opaque);
void msix_destroy(struct msix *m);

/* Bytes of the table and of the PBA, for laying out the BAR. */
uint32_t msix_table_size(unsigned nvec);
uint32_t msix_pba_size(unsigned nvec);

/* From the device's config_written hook: picks up enable and function
 * mask changes. */
void msix_config_written(struct msix *m, unsigned off, unsigned len);

/* Table (off relative to the table) and PBA (relative to the PBA)
 * accesses; anything but an aligned 4- or 8-byte access is ignored, and
 * reads of it return 0. */
void msix_table_access(struct msix *m, uint64_t off, uint8_t *data,
		       unsigned size, bool is_write);
void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned size);

/* Saving and restoring (a snapshot, a live migration): the table and the
 * PBA as a plain struct; enable and function mask are the capability's
 * bits in the restored configuration space. msix_state_check is pure (0
 * or -EPROTO with why filled in): at most nvec vectors, control and
 * address bits only as a table write leaves them, nothing pending while
 * MSI-X is disabled in cfg (the configuration space to be restored).
 * msix_restore loads a checked state after the configuration space, marks
 * every route stale and routes every deliverable vector (firing those
 * pending), as the guest's own writes would: main thread, no vCPU
 * running. */
struct msix_state {
	uint32_t nvec, reserved; /* nvec: the device's; reserved 0 */
	uint64_t pending;
	struct msix_entry table[MSIX_MAX_VECTORS]; /* unused entries 0 */
};

void msix_save(struct msix *m, struct msix_state *s);
int msix_state_check(const struct msix *m, const struct msix_state *s,
		     const uint8_t *cfg, char *why, size_t why_len);
void msix_restore(struct msix *m, const struct msix_state *s);

/* Signals vector vec: fired now, held pending while masked, dropped when
 * MSI-X is disabled or vec is MSIX_NO_VECTOR or out of range. */
void msix_notify(struct msix *m, unsigned vec);

#endif
