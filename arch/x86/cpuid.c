/* Main thread at start-up; no state. */
#include "cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/log.h"

#define CPUID_MAX_ENTRIES 512
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_HTT (1u << 28)

struct kvm_cpuid2 *cpuid_supported(int kvm_fd)
{
	size_t sz = sizeof(struct kvm_cpuid2) +
		    CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);

	if (!c)
		return NULL;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return NULL;
	}
	return c;
}

static unsigned order_of(unsigned n)
{
	unsigned bits = 0;
	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void patch_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned apic_id,
				unsigned ncpus)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0, e->ebx = 1, e->ecx = 1u << 8;
		break;
	case 1: /* core level: every vCPU in one package */
		e->eax = order_of(ncpus), e->ebx = ncpus;
		e->ecx = 2u << 8 | 1;
		break;
	default: e->eax = 0, e->ebx = 0, e->ecx = e->index; break;
	}
}

void cpuid_patch(struct kvm_cpuid_entry2 *e, unsigned n, unsigned apic_id,
		 unsigned ncpus)
{
	for (unsigned i = 0; i < n; i++) {
		switch (e[i].function) {
		case 1:
			e[i].ebx = (e[i].ebx & 0xffff) | apic_id << 24 |
				   (ncpus & 0xff) << 16;
			e[i].ecx |= LEAF1_ECX_HYPERVISOR;
			if (ncpus > 1)
				e[i].edx |= LEAF1_EDX_HTT;
			else
				e[i].edx &= ~LEAF1_EDX_HTT;
			break;
		case 4:
			e[i].eax = (e[i].eax & 0x3ffffff) | (ncpus - 1) << 26;
			break;
		case 0xb:
		case 0x1f: patch_topology_leaf(&e[i], apic_id, ncpus); break;
		case 0x80000008:
			e[i].ecx = (e[i].ecx & ~0xf0ffu) | (ncpus - 1);
			break;
		default: break;
		}
	}
}

int cpuid_set_vcpu(int vcpu_fd, const struct kvm_cpuid2 *supported,
		   unsigned apic_id, unsigned ncpus)
{
	size_t sz = sizeof(*supported) +
		    supported->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	int r = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, supported, sz);
	cpuid_patch(c->entries, c->nent, apic_id, ncpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0) {
		r = -errno;
		log_error("KVM_SET_CPUID2 on vCPU %u: %s", apic_id,
			  strerror(errno));
	}
	free(c);
	return r;
}
