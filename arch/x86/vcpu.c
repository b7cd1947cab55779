/* The x86 side of each vCPU: set-up on the main thread (CPUID, MSRs, FPU,
 * LAPIC pins, the boot vCPU's entry registers) and the exits only x86
 * has, handled on the vCPU's own thread. Port I/O devices take their own
 * locks. */
#include "arch/arch.h"

#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "arch/x86/cpuid.h"
#include "lib/sandbox.h"
#include "vmm/vcpu.h"

int arch_vcpu_init(struct vcpu *v)
{
	struct vm *vm = v->vm;
	int r = cpuid_set_vcpu(v->fd, vm->arch.cpuid, v->id, vm->nr_vcpus);

	if (!r)
		r = x86_init_vcpu(v->fd);
	/* Secondary vCPUs wait for INIT/SIPI from the boot vCPU. */
	if (!r && v->id == 0)
		r = x86_set_entry_state(v->fd, &vm->arch.entry);
	return r;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* A rep-prefixed string instruction hands over `count` items. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		iobus_access(&v->vm->arch.pio, run->io.port, is_write, data,
			     run->io.size);
}

int arch_vcpu_rules(scmp_filter_ctx ctx)
{
	/* report_triple_fault */
	static const unsigned long ioctls[] = { KVM_GET_REGS, KVM_GET_SREGS };
	int r = sandbox_allow_ioctls(ctx, ioctls, 2);

	/* The PIT's channel 0 timer, set by port writes (board.c). */
	return r ? r : sandbox_allow(ctx, SCMP_SYS(timerfd_settime));
}

/* A triple fault leaves nothing on the guest's console, so the vCPU and
 * the state it died in are the only clues: one line, as QEMU prints on
 * -d cpu_reset. On AMD, KVM has already INITed the vCPU when it reports
 * the shutdown (the VMCB is undefined after one), so the registers read
 * are the reset state: said so rather than printed as if they meant
 * something. */
static void report_triple_fault(const struct vcpu *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		fprintf(stderr,
			"vmm: vcpu %u: triple fault (registers unreadable: %m)\n",
			v->id);
		return;
	}
	if (regs.rip == 0xfff0 && sregs.cs.base == 0xffff0000 &&
	    !(sregs.cr0 & 1)) {
		fprintf(stderr,
			"vmm: vcpu %u: triple fault (its registers were "
			"reset by KVM)\n",
			v->id);
		return;
	}
	fprintf(stderr,
		"vmm: vcpu %u: triple fault at rip=%#llx rsp=%#llx cr0=%#llx "
		"cr2=%#llx cr3=%#llx cr4=%#llx efer=%#llx\n",
		v->id, regs.rip, regs.rsp, sregs.cr0, sregs.cr2, sregs.cr3,
		sregs.cr4, sregs.efer);
}

int arch_handle_exit(struct vcpu *v)
{
	switch (v->run->exit_reason) {
	case KVM_EXIT_IO: handle_io(v); return 1;
	case KVM_EXIT_SHUTDOWN: /* triple fault: the PC resets */
		report_triple_fault(v);
		lifecycle_stop_by(&v->vm->life, STOP_BY_TRIPLE_FAULT, 0);
		return 0;
	case KVM_EXIT_HLT: /* only without an in-kernel LAPIC */
		lifecycle_stop(&v->vm->life, STOP_POWEROFF, 0);
		return 0;
	default: return -ENOENT;
	}
}
