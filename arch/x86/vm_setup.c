/* Main thread, before the vCPUs start: the x86 parts of creating a VM
 * (capabilities, supported CPUID, in-kernel irqchip, the TSS and
 * identity-map pages VMX needs) and the RAM layout around the 32-bit
 * hole. */
#include "arch/arch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpuid.h"
#include "lib/log.h"
#include "vmm/irq_routes.h"
#include "vmm/vm.h"

unsigned arch_mem_layout(uint64_t ram,
			 struct mem_region regions[MEM_MAX_REGIONS])
{
	uint64_t low = ram < LAYOUT_RAM_LOW_LIMIT ? ram : LAYOUT_RAM_LOW_LIMIT;

	memset(regions, 0, sizeof(*regions) * MEM_MAX_REGIONS);
	regions[0].gpa = 0;
	regions[0].size = low;
	if (ram == low)
		return 1;
	regions[1].gpa = LAYOUT_RAM_HIGH_BASE;
	regions[1].size = ram - low;
	return 2;
}

int arch_kvm_init(struct vm *vm)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			log_error("/dev/kvm: missing %s", need[i].name);
			return -ENOTSUP;
		}
	}
	vm->arch.cpuid = cpuid_supported(vm->kvm_fd);
	return vm->arch.cpuid ? 0 : -EIO;
}

int arch_vm_init(struct vm *vm, const struct arch_config *c)
{
	uint64_t idmap = LAYOUT_IDENTITY_MAP;

	vm->arch.pio.name = "port";
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_TSS) < 0)
		return log_error("KVM_SET_TSS_ADDR: %s", strerror(errno)),
		       -errno;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return log_error("KVM_SET_IDENTITY_MAP_ADDR: %s",
				 strerror(errno)),
		       -errno;
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return log_error("KVM_CREATE_IRQCHIP: %s", strerror(errno)),
		       -errno;
	vm->arch.pit = c->pit; /* made by arch_board_attach */
	return 0;
}

#define IOAPIC_PINS 24
#define PIC_PINS 16

/* KVM's default x86 table (kvm_setup_default_irq_routing): GSI 0-15 to
 * the PICs and the IOAPIC, 16-23 to the IOAPIC. */
unsigned arch_irq_routes_init(struct irq_routes *r)
{
	for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		irq_routes_add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, gsi);
		if (gsi < PIC_PINS)
			irq_routes_add_irqchip(r, gsi,
					       gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						       : KVM_IRQCHIP_PIC_SLAVE,
					       gsi % 8);
	}
	return IOAPIC_PINS;
}
