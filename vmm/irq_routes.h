/* The VM's KVM GSI routing table. KVM_SET_GSI_ROUTING replaces the whole
 * table, so this keeps the irqchip routes KVM starts with (the
 * architecture's, arch_irq_routes_init) and adds one MSI route per GSI
 * handed out for an MSI-X vector.
 *
 * Threads: allocation on the main thread at set-up; irq_routes_set_msi on
 * vCPU threads (MSI-X table writes); all under the table's lock. */
#ifndef VMM_IRQ_ROUTES_H
#define VMM_IRQ_ROUTES_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "lib/log.h"

#define IRQ_ROUTES_MAX 256

struct irq_routes {
	pthread_mutex_t lock;
	int vm_fd;
	unsigned next_gsi;
	unsigned nr;
	struct kvm_irq_routing_entry entries[IRQ_ROUTES_MAX];
	struct log_limit log; /* failures follow the guest's MSI-X writes */
};

void irq_routes_init(struct irq_routes *r, int vm_fd);
void irq_routes_destroy(struct irq_routes *r);

/* For arch_irq_routes_init: a route from gsi to an in-kernel irqchip pin
 * (KVM_IRQCHIP_*). Main thread, before any MSI route. */
void irq_routes_add_irqchip(struct irq_routes *r, unsigned gsi, unsigned chip,
			    unsigned pin);

/* A GSI of its own for an MSI source, or -ENOSPC. */
int irq_routes_alloc_gsi(struct irq_routes *r);

/* Routes gsi (from irq_routes_alloc_gsi) to the MSI message (addr, data)
 * and installs the table. 0 or -errno (logged). */
int irq_routes_set_msi(struct irq_routes *r, unsigned gsi, uint64_t addr,
		       uint32_t data);

#endif
