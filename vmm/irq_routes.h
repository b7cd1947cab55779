/* The VM's KVM GSI routing table. KVM_SET_GSI_ROUTING replaces the whole
 * table, so this keeps the irqchip routes KVM starts with (GSI 0-15 to the
 * PICs and the IOAPIC, 16-23 to the IOAPIC) and adds one MSI route per
 * GSI handed out for an MSI-X vector.
 *
 * Threads: allocation on the main thread at set-up; irq_routes_set_msi on
 * vCPU threads (MSI-X table writes); all under the table's lock. */
#ifndef VMM_IRQ_ROUTES_H
#define VMM_IRQ_ROUTES_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#define IRQ_ROUTES_MAX 256
#define IRQ_ROUTES_FIRST_MSI_GSI 24

struct irq_routes {
	pthread_mutex_t lock;
	int vm_fd;
	unsigned next_gsi;
	unsigned nr;
	struct kvm_irq_routing_entry entries[IRQ_ROUTES_MAX];
};

void irq_routes_init(struct irq_routes *r, int vm_fd);
void irq_routes_destroy(struct irq_routes *r);

/* A GSI of its own for an MSI source, or -ENOSPC. */
int irq_routes_alloc_gsi(struct irq_routes *r);

/* Routes gsi (from irq_routes_alloc_gsi) to the MSI message (addr, data)
 * and installs the table. 0 or -errno (logged). */
int irq_routes_set_msi(struct irq_routes *r, unsigned gsi, uint64_t addr,
		       uint32_t data);

#endif
