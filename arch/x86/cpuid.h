/* The CPUID a vCPU sees: what KVM supports, plus its own APIC id, the
 * topology (one socket of ncpus cores, one thread each) and the
 * hypervisor bit. */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <linux/kvm.h>

/* KVM_GET_SUPPORTED_CPUID into a malloc'd table, or NULL (logged). */
struct kvm_cpuid2 *cpuid_supported(int kvm_fd);

/* Adjusts entries for vCPU apic_id of ncpus. Pure. */
void cpuid_patch(struct kvm_cpuid_entry2 *e, unsigned n, unsigned apic_id,
		 unsigned ncpus);

/* Patches a copy of supported and sets it on vcpu_fd. 0 or -errno. */
int cpuid_set_vcpu(int vcpu_fd, const struct kvm_cpuid2 *supported,
		   unsigned apic_id, unsigned ncpus);

#endif
