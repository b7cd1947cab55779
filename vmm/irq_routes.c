/* Main thread (allocation) and vCPU threads (MSI routes), under r->lock. */
#include "irq_routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "lib/log.h"

void irq_routes_add_irqchip(struct irq_routes *r, unsigned gsi, unsigned chip,
			    unsigned pin)
{
	r->entries[r->nr++] = (struct kvm_irq_routing_entry){
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
}

void irq_routes_init(struct irq_routes *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = vm_fd;
	r->next_gsi = arch_irq_routes_init(r);
}

void irq_routes_destroy(struct irq_routes *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_routes_alloc_gsi(struct irq_routes *r)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (r->nr < IRQ_ROUTES_MAX)
		gsi = (int)r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

static int commit(struct irq_routes *r)
{
	struct kvm_irq_routing *table;
	int ret = 0;

	table = calloc(1, sizeof(*table) + r->nr * sizeof(r->entries[0]));
	if (!table)
		return -ENOMEM;
	table->nr = r->nr;
	memcpy(table->entries, r->entries, r->nr * sizeof(r->entries[0]));
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, table) < 0) {
		ret = -errno;
		log_guest(&r->log, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
	}
	free(table);
	return ret;
}

int irq_routes_set_msi(struct irq_routes *r, unsigned gsi, uint64_t addr,
		       uint32_t data)
{
	struct kvm_irq_routing_entry *e = NULL;
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr && !e; i++)
		if (r->entries[i].gsi == gsi &&
		    r->entries[i].type == KVM_IRQ_ROUTING_MSI)
			e = &r->entries[i];
	if (!e && r->nr < IRQ_ROUTES_MAX)
		e = &r->entries[r->nr++];
	if (e) {
		*e = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)addr,
				   .address_hi = (uint32_t)(addr >> 32),
				   .data = data },
		};
		ret = commit(r);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
