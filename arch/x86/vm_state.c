/* The x86 VM's own state to and from its stream sections (arch/arch.h,
 * state.h), one section per part: KVM's PIC pair and IOAPIC, the
 * board's PIT, COM1 UART and RTC, and the KVM clock last. The board's other
 * ports (arch/x86/sysports.c) keep no state.
 *
 * arch_vm_save runs on the thread writing the stream while every vCPU is
 * parked; arch_vm_restore and arch_restore_done on the main thread before
 * any vCPU runs. KVM serializes its VM ioctls; the PIT, the UART and the
 * RTC are copied under their own locks. No state of this file's own. */
#include "arch/arch.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/stream.h"
#include "state.h"
#include "vmm/vm.h"

static int vm_ioctl(struct vm *vm, unsigned long req, void *arg,
		    const char *part, const char *name)
{
	int e;

	if (ioctl(vm->vm_fd, req, arg) >= 0)
		return 0;
	e = errno;
	log_error("%s state: %s: %s", part, name, strerror(e));
	return -e;
}

#define VM_IOCTL(vm, req, arg, part) vm_ioctl(vm, req, arg, part, #req)

static const uint32_t irqchip_of[] = {
	[X86_PART_PIC_MASTER] = KVM_IRQCHIP_PIC_MASTER,
	[X86_PART_PIC_SLAVE] = KVM_IRQCHIP_PIC_SLAVE,
	[X86_PART_IOAPIC] = KVM_IRQCHIP_IOAPIC,
};

static int save_part(struct vm *vm, unsigned part, union x86_vm_part_state *st)
{
	const char *name = x86_vm_part_name(part);
	struct kvm_irqchip chip = { 0 };
	int r;

	switch (part) {
	case X86_PART_PIC_MASTER:
	case X86_PART_PIC_SLAVE:
	case X86_PART_IOAPIC:
		chip.chip_id = irqchip_of[part];
		r = VM_IOCTL(vm, KVM_GET_IRQCHIP, &chip, name);
		if (!r)
			memcpy(st, &chip.chip, x86_vm_part_size(part));
		return r;
	case X86_PART_PIT: pit_save(&vm->arch.i8254, &st->pit); return 0;
	case X86_PART_COM1: uart_save(&vm->arch.com1, &st->uart); return 0;
	case X86_PART_RTC: rtc_save(&vm->arch.rtc, &st->rtc); return 0;
	default: return VM_IOCTL(vm, KVM_GET_CLOCK, &st->clock, name);
	}
}

int arch_vm_save(struct vm *vm, struct stream_writer *w)
{
	union x86_vm_part_state st;

	for (unsigned part = 0; part < X86_NR_PARTS; part++) {
		int r;

		if (part == X86_PART_PIT && !vm->arch.pit)
			continue; /* --pit off: the stream has no PIT part */
		memset(&st, 0, sizeof(st));
		r = save_part(vm, part, &st);
		if (!r)
			r = stream_put_section(w, STREAM_SEC_ARCH_VM, part,
					       x86_vm_part_version(part), &st,
					       x86_vm_part_size(part));
		if (r)
			return r;
	}
	return 0;
}

int arch_save_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = {
		KVM_GET_IRQCHIP,
		KVM_GET_CLOCK,
	};
	int r = x86_vcpu_save_rules(ctx);

	return r ? r
		 : sandbox_allow_ioctls(ctx, ioctls,
					sizeof(ioctls) / sizeof(ioctls[0]));
}

/* The clock continues from the value it had when it was saved: no time
 * passes for the guest while it was not running (QEMU's kvmclock does
 * the same). KVM_CLOCK_REALTIME would make KVM add the wall-clock time
 * since the save, days for an old snapshot; TSC_STABLE and HOST_TSC are
 * what KVM reports, not requests. */
static int restore_clock(struct vm *vm, struct kvm_clock_data *c,
			 const char *name)
{
	c->flags = 0;
	c->realtime = 0;
	c->host_tsc = 0;
	return VM_IOCTL(vm, KVM_SET_CLOCK, c, name);
}

int arch_vm_restore(struct vm *vm, const struct stream_section *s)
{
	union x86_vm_part_state st;
	struct kvm_irqchip chip = { 0 };
	const char *name;
	char why[192], inner[128];
	int r = x86_vm_part_check(s, &st, why, sizeof(why));

	if (r) {
		log_error("%s", why);
		return r;
	}
	name = x86_vm_part_name(s->instance);
	if (vm->arch.restored_parts & (1u << s->instance)) {
		log_error("%s state: given twice", name);
		return -EPROTO;
	}
	vm->arch.restored_parts |= 1u << s->instance;
	switch (s->instance) {
	case X86_PART_PIC_MASTER:
	case X86_PART_PIC_SLAVE:
	case X86_PART_IOAPIC:
		chip.chip_id = irqchip_of[s->instance];
		memcpy(&chip.chip, &st, x86_vm_part_size(s->instance));
		return VM_IOCTL(vm, KVM_SET_IRQCHIP, &chip, name);
	case X86_PART_PIT:
		if (!vm->arch.pit) {
			log_error("PIT state: the saved VM had a PIT; this one "
				  "runs with --pit off");
			return -EPROTO;
		}
		r = pit_restore(&vm->arch.i8254, &st.pit, inner, sizeof(inner));
		break;
	case X86_PART_COM1:
		r = uart_restore(&vm->arch.com1, &st.uart, inner,
				 sizeof(inner));
		break;
	case X86_PART_RTC:
		r = rtc_restore(&vm->arch.rtc, &st.rtc, inner, sizeof(inner));
		break;
	default: return restore_clock(vm, &st.clock, name);
	}
	if (r)
		log_error("%s state: %s", name, inner);
	return r;
}

/* Every part must have come. Nothing else is left to do once the last
 * part is in, because the stream's order already is the order KVM needs:
 * - every vCPU (its LAPIC) before the IOAPIC and PICs, whose restore
 *   delivers the interrupts their saved IRR holds to those LAPICs;
 * - every vCPU's TSC before the KVM clock, which KVM recomputes for all
 *   vCPUs when it is set;
 * - the UART's interrupt line is not driven again: the level it had is in
 *   the PIC's last_irr and the IOAPIC's IRR, restored with them, and the
 *   UART's saved level is what it reports changes against. */
int arch_restore_done(struct vm *vm)
{
	for (unsigned i = 0; i < X86_NR_PARTS; i++) {
		if (i == X86_PART_PIT && !vm->arch.pit)
			continue;
		if (vm->arch.restored_parts & (1u << i))
			continue;
		if (i == X86_PART_PIT)
			log_error("incoming state: no PIT state: the saved VM "
				  "ran with --pit off; so must this one");
		else
			log_error("incoming state: no %s state",
				  x86_vm_part_name(i));
		return -EPROTO;
	}
	return 0;
}
