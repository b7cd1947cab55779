/* The checks of x86 state sections before anything reaches KVM or a
 * device model (state.h): a section from a file or a socket is hostile
 * until it has passed them. Pure functions: no KVM, no locks, no state;
 * run by the main thread restoring a VM, and by the unit tests.
 *
 * What is checked: the section's id, instance, version and exact length;
 * every reserved field; every value this code or a device model uses as
 * an index (the MSR count, the UART's FIFO head and count, the RTC's
 * index); and the flags and values KVM would refuse anyway, so that the
 * user reads which field was wrong rather than KVM's EINVAL. KVM checks
 * the rest of its own state itself (segment and control registers, the
 * LAPIC's mode, MSR values). */
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"

/* why = "<what> state: <fmt ...>"; returns -EPROTO. */
__attribute__((format(printf, 4, 5))) static int
refuse(char *why, size_t why_len, const char *what, const char *fmt, ...)
{
	int n = snprintf(why, why_len, "%s state: ", what);
	va_list ap;

	if (n < 0 || (size_t)n >= why_len)
		return -EPROTO;
	va_start(ap, fmt);
	vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

/* The section's envelope: id, version, exact length. */
static int check_envelope(const struct stream_section *s, uint32_t id,
			  uint32_t version, size_t len, const char *what,
			  char *why, size_t why_len)
{
	if (s->id != id)
		return refuse(why, why_len, what, "section id %u, expected %u",
			      s->id, id);
	if (s->version != version)
		return refuse(why, why_len, what, "version %u, expected %u",
			      s->version, version);
	if (s->len != len)
		return refuse(why, why_len, what, "length %llu, expected %zu",
			      (unsigned long long)s->len, len);
	if (!s->payload)
		return refuse(why, why_len, what, "no payload");
	return 0;
}

/* ---- TSC frequency ---- */

enum x86_tsc_action x86_tsc_decide(uint32_t saved_khz, uint32_t host_khz,
				   bool can_scale)
{
	uint64_t diff = saved_khz > host_khz ? saved_khz - host_khz
					     : host_khz - saved_khz;

	if (diff == 0)
		return X86_TSC_KEEP;
	if (can_scale)
		return X86_TSC_SET;
	/* Without scaling KVM runs the guest at the host's rate, which is
	 * only right within its tolerance. */
	if (diff * 1000000 <= (uint64_t)host_khz * X86_TSC_TOLERANCE_PPM)
		return X86_TSC_SET;
	return X86_TSC_REFUSE;
}

/* ---- one vCPU ---- */

static bool mp_state_known(uint32_t mp)
{
	switch (mp) {
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
	case KVM_MP_STATE_HALTED:
	case KVM_MP_STATE_SIPI_RECEIVED:
	case KVM_MP_STATE_AP_RESET_HOLD:
	case KVM_MP_STATE_SUSPENDED: return true;
	default: return false;
	}
}

#define EVENT_FLAGS                                                            \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |   \
	 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |                \
	 KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT)

/* The MSRs: a known index each, in table order (so none twice), their
 * reserved words 0. */
static int check_msrs(const struct x86_vcpu_state *st, const char *what,
		      char *why, size_t why_len)
{
	int last = -1;

	if (st->nmsrs > X86_VCPU_MAX_MSRS)
		return refuse(why, why_len, what, "%u MSRs, at most %u",
			      st->nmsrs, X86_VCPU_MAX_MSRS);
	for (uint32_t i = 0; i < st->nmsrs; i++) {
		const struct x86_msr_value *m = &st->msrs[i];
		int pos = x86_msr_position(m->index);

		if (pos < 0)
			return refuse(why, why_len, what,
				      "MSR %#x is not one vmm restores",
				      m->index);
		if (pos <= last)
			return refuse(why, why_len, what,
				      "MSR %#x repeated or out of order",
				      m->index);
		if (m->reserved)
			return refuse(why, why_len, what,
				      "MSR %#x: reserved word %#x, not 0",
				      m->index, m->reserved);
		last = pos;
	}
	for (uint32_t i = st->nmsrs; i < X86_VCPU_MAX_MSRS; i++)
		if (st->msrs[i].index || st->msrs[i].reserved ||
		    st->msrs[i].data)
			return refuse(why, why_len, what,
				      "MSR slot %u past the count %u is not 0",
				      i, st->nmsrs);
	return 0;
}

static int check_vcpu_fields(const struct x86_vcpu_state *st, const char *what,
			     char *why, size_t why_len)
{
	if (!st->tsc_khz)
		return refuse(why, why_len, what, "TSC frequency 0 kHz");
	if (!mp_state_known(st->mp_state))
		return refuse(why, why_len, what, "MP state %u unknown",
			      st->mp_state);
	if (st->sregs.flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID)
		return refuse(why, why_len, what,
			      "special register flags %#llx unknown",
			      (unsigned long long)st->sregs.flags);
	if (st->xcrs.nr_xcrs > KVM_MAX_XCRS)
		return refuse(why, why_len, what, "%u XCRs, at most %u",
			      st->xcrs.nr_xcrs, KVM_MAX_XCRS);
	if (st->xcrs.flags)
		return refuse(why, why_len, what, "XCR flags %#x, not 0",
			      st->xcrs.flags);
	if (st->events.flags & ~(uint32_t)EVENT_FLAGS)
		return refuse(why, why_len, what, "event flags %#x unknown",
			      st->events.flags);
	if (st->debugregs.flags)
		return refuse(why, why_len, what,
			      "debug register flags %#llx, not 0",
			      (unsigned long long)st->debugregs.flags);
	if (st->debugregs.dr6 >> 32 || st->debugregs.dr7 >> 32)
		return refuse(why, why_len, what,
			      "DR6 %#llx or DR7 %#llx above 32 bits",
			      (unsigned long long)st->debugregs.dr6,
			      (unsigned long long)st->debugregs.dr7);
	return check_msrs(st, what, why, why_len);
}

int x86_vcpu_state_check(const struct stream_section *s, unsigned vcpu_id,
			 struct x86_vcpu_state *out, char *why, size_t why_len)
{
	char what[32];
	int r;

	snprintf(what, sizeof(what), "vCPU %u", vcpu_id);
	r = check_envelope(s, STREAM_SEC_VCPU, X86_VCPU_STATE_VERSION,
			   sizeof(*out), what, why, why_len);
	if (r)
		return r;
	if (s->instance != vcpu_id)
		return refuse(why, why_len, what, "the section is vCPU %u's",
			      s->instance);
	memcpy(out, s->payload, sizeof(*out));
	return check_vcpu_fields(out, what, why, why_len);
}

/* ---- the VM's parts ---- */

static const struct {
	const char *name;
	size_t size;
	uint32_t version;
} parts[X86_NR_PARTS] = {
	[X86_PART_PIC_MASTER] = { "PIC master", sizeof(struct kvm_pic_state),
				  X86_KVM_PART_VERSION },
	[X86_PART_PIC_SLAVE] = { "PIC slave", sizeof(struct kvm_pic_state),
				 X86_KVM_PART_VERSION },
	[X86_PART_IOAPIC] = { "IOAPIC", sizeof(struct kvm_ioapic_state),
			      X86_KVM_PART_VERSION },
	[X86_PART_PIT] = { "PIT", sizeof(struct kvm_pit_state2),
			   X86_KVM_PART_VERSION },
	[X86_PART_COM1] = { "COM1", sizeof(struct uart_state),
			    UART_STATE_VERSION },
	[X86_PART_RTC] = { "RTC", sizeof(struct rtc_state), RTC_STATE_VERSION },
	[X86_PART_CLOCK] = { "KVM clock", sizeof(struct kvm_clock_data),
			     X86_KVM_PART_VERSION },
};

const char *x86_vm_part_name(unsigned part)
{
	return part < X86_NR_PARTS ? parts[part].name : NULL;
}

size_t x86_vm_part_size(unsigned part)
{
	return part < X86_NR_PARTS ? parts[part].size : 0;
}

uint32_t x86_vm_part_version(unsigned part)
{
	return part < X86_NR_PARTS ? parts[part].version : 0;
}

/* What KVM's i8259 ever stores: flags are 0 or 1, the rotation below 8,
 * the initialization word state 0 to 3. */
static int check_pic(const struct kvm_pic_state *p, const char *what, char *why,
		     size_t why_len)
{
	const struct {
		const char *name;
		uint8_t v, max;
	} f[] = {
		{ "priority_add", p->priority_add, 7 },
		{ "init_state", p->init_state, 3 },
		{ "read_reg_select", p->read_reg_select, 1 },
		{ "poll", p->poll, 1 },
		{ "special_mask", p->special_mask, 1 },
		{ "auto_eoi", p->auto_eoi, 1 },
		{ "rotate_on_auto_eoi", p->rotate_on_auto_eoi, 1 },
		{ "special_fully_nested_mode", p->special_fully_nested_mode,
		  1 },
		{ "init4", p->init4, 1 },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v > f[i].max)
			return refuse(why, why_len, what, "%s %u, at most %u",
				      f[i].name, f[i].v, f[i].max);
	return 0;
}

static int check_ioapic(const struct kvm_ioapic_state *a, const char *what,
			char *why, size_t why_len)
{
	/* KVM would move the IOAPIC's MMIO window to the saved base. */
	if (a->base_address != LAYOUT_IOAPIC)
		return refuse(why, why_len, what,
			      "base address %#llx, expected %#llx",
			      (unsigned long long)a->base_address,
			      (unsigned long long)LAYOUT_IOAPIC);
	if (a->ioregsel > 0xff)
		return refuse(why, why_len, what,
			      "register select %#x, at most 0xff", a->ioregsel);
	if (a->id > 0xf)
		return refuse(why, why_len, what, "id %u, at most 15", a->id);
	if (a->irr >> KVM_IOAPIC_NUM_PINS)
		return refuse(why, why_len, what,
			      "IRR %#x has bits above pin %u", a->irr,
			      KVM_IOAPIC_NUM_PINS - 1);
	return 0;
}

static int check_pit(const struct kvm_pit_state2 *p, const char *what,
		     char *why, size_t why_len)
{
	const uint32_t flags =
		KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON;

	if (p->flags & ~flags)
		return refuse(why, why_len, what, "flags %#x unknown",
			      p->flags);
	for (unsigned i = 0; i < 3; i++)
		if (p->channels[i].count > 0x10000)
			return refuse(why, why_len, what,
				      "channel %u count %u, at most 65536", i,
				      p->channels[i].count);
	for (unsigned i = 0; i < sizeof(p->reserved) / 4; i++)
		if (p->reserved[i])
			return refuse(why, why_len, what,
				      "reserved word %u is %#x, not 0", i,
				      p->reserved[i]);
	return 0;
}

static int check_clock(const struct kvm_clock_data *c, const char *what,
		       char *why, size_t why_len)
{
	const uint32_t flags =
		KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;

	if (c->flags & ~flags)
		return refuse(why, why_len, what, "flags %#x unknown",
			      c->flags);
	return 0;
}

/* A device model's own check, its message after the part's name. */
static int device_refused(int r, const char *inner, const char *what, char *why,
			  size_t why_len)
{
	return r ? refuse(why, why_len, what, "%s", inner) : 0;
}

int x86_vm_part_check(const struct stream_section *s,
		      union x86_vm_part_state *out, char *why, size_t why_len)
{
	const char *what = x86_vm_part_name(s->instance);
	char inner[128];
	int r;

	if (!what)
		return refuse(why, why_len, "arch VM",
			      "part %u unknown (this vmm has %u)", s->instance,
			      X86_NR_PARTS);
	r = check_envelope(s, STREAM_SEC_ARCH_VM, parts[s->instance].version,
			   parts[s->instance].size, what, why, why_len);
	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	memcpy(out, s->payload, parts[s->instance].size);
	switch (s->instance) {
	case X86_PART_PIC_MASTER:
	case X86_PART_PIC_SLAVE:
		return check_pic(&out->pic, what, why, why_len);
	case X86_PART_IOAPIC:
		return check_ioapic(&out->ioapic, what, why, why_len);
	case X86_PART_PIT: return check_pit(&out->pit, what, why, why_len);
	case X86_PART_COM1:
		r = uart_state_check(&out->uart, inner, sizeof(inner));
		return device_refused(r, inner, what, why, why_len);
	case X86_PART_RTC:
		r = rtc_state_check(&out->rtc, inner, sizeof(inner));
		return device_refused(r, inner, what, why, why_len);
	default: return check_clock(&out->clock, what, why, why_len);
	}
}
