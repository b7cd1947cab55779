/* The x86 sections of the VM state stream (lib/stream.h) and their pure
 * checks: what one vCPU's state is (STREAM_SEC_VCPU, instance = vCPU id)
 * and what each VM-level part is (STREAM_SEC_ARCH_VM, instance = enum
 * x86_vm_part). Every struct here is the section's payload byte for byte:
 * fixed-width fields, little-endian (x86), no implicit padding; the KVM
 * structs inside are the kernel's ABI, whose layout never changes.
 *
 * The checks are pure (no KVM, no locks, any thread) so that the unit
 * tests can hand them hostile sections: each returns 0, or -EPROTO with
 * why naming the section and what is wrong, the caller's one log line. */
#ifndef ARCH_X86_STATE_H
#define ARCH_X86_STATE_H

#include <linux/kvm.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/rtc.h"
#include "devices/uart.h"
#include "lib/stream.h"

/* ---- MSRs (arch/x86/msr_list.c) ---- */

/* The most MSRs one vCPU section holds: room for the whole table. */
#define X86_VCPU_MAX_MSRS 128

/* Not in KVM_GET_MSR_INDEX_LIST but always handled by KVM (the MTRRs):
 * read anyway, and left out when KVM refuses the read. */
#define X86_MSR_UNLISTED 0x1
/* Written after KVM_SET_LAPIC (the TSC deadline needs the LAPIC timer in
 * TSC-deadline mode, or KVM drops the write). */
#define X86_MSR_AFTER_LAPIC 0x2

struct x86_msr_desc {
	uint32_t index;
	uint32_t flags; /* X86_MSR_* */
};

/* The MSRs a vCPU's state may hold, in the order they are restored. */
extern const struct x86_msr_desc x86_msr_table[];
extern const unsigned x86_msr_table_len;

/* index's position in x86_msr_table, or -1 when it is not there. */
int x86_msr_position(uint32_t index);

/* The table's MSRs this host can save, in table order: those in KVM's
 * list (KVM_GET_MSR_INDEX_LIST, n entries) and the unlisted ones. Writes
 * at most max indices to out; returns how many. Pure. */
unsigned x86_msr_select(const uint32_t *kvm_list, unsigned n, uint32_t *out,
			unsigned max);

/* ---- TSC frequency ---- */

enum x86_tsc_action {
	X86_TSC_KEEP,	/* the same frequency: nothing to set */
	X86_TSC_SET,	/* KVM_SET_TSC_KHZ to the saved frequency */
	X86_TSC_REFUSE, /* this host cannot run the guest's TSC at its rate */
};

/* KVM's tolerance (its tsc_tolerance_ppm default): a rate this close to
 * the host's needs no scaling. */
#define X86_TSC_TOLERANCE_PPM 250

/* What to do for a guest whose TSC ran at saved_khz, on a host whose
 * vCPU runs at host_khz, with or without TSC scaling
 * (KVM_CAP_TSC_CONTROL). Pure. */
enum x86_tsc_action x86_tsc_decide(uint32_t saved_khz, uint32_t host_khz,
				   bool can_scale);

/* ---- one vCPU: STREAM_SEC_VCPU ---- */

#define X86_VCPU_STATE_VERSION 1
#define X86_XSAVE_SIZE 4096 /* struct kvm_xsave's region: all we hold */

struct x86_msr_value { /* struct kvm_msr_entry's layout */
	uint32_t index;
	uint32_t reserved; /* 0 */
	uint64_t data;
};

struct x86_vcpu_state {
	uint32_t tsc_khz;  /* KVM_GET_TSC_KHZ, not 0 */
	uint32_t nmsrs;	   /* msrs[] used, in x86_msr_table order */
	uint32_t mp_state; /* KVM_MP_STATE_* */
	/* CRC32 of the vCPU's CPUID entries as KVM holds them: the CPU the
	 * guest saw must be the one it finds on the destination. */
	uint32_t cpuid_crc;
	struct kvm_regs regs;
	struct kvm_sregs2 sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	uint8_t xsave[X86_XSAVE_SIZE];
	struct x86_msr_value msrs[X86_VCPU_MAX_MSRS];
};

#define X86_VCPU_STATE_SIZE 8232
_Static_assert(sizeof(struct x86_vcpu_state) == X86_VCPU_STATE_SIZE,
	       "the vCPU section's layout is part of the stream format");

/* Checks a vCPU section meant for vCPU vcpu_id (id, instance, version,
 * exact length, then the fields: reserved words, MSR count and indices
 * in table order, MP state, flags KVM would refuse) and copies it into
 * *out. */
int x86_vcpu_state_check(const struct stream_section *s, unsigned vcpu_id,
			 struct x86_vcpu_state *out, char *why, size_t why_len);

/* The ioctls arch_vcpu_save makes (arch/x86/vcpu_state.c), for
 * arch_save_rules. */
int x86_vcpu_save_rules(scmp_filter_ctx ctx);

/* ---- the VM's parts: STREAM_SEC_ARCH_VM ---- */

/* Saved and restored in this order; the clock last. */
enum x86_vm_part {
	X86_PART_PIC_MASTER, /* struct kvm_pic_state */
	X86_PART_PIC_SLAVE,  /* struct kvm_pic_state */
	X86_PART_IOAPIC,     /* struct kvm_ioapic_state */
	X86_PART_PIT,	     /* struct kvm_pit_state2 */
	X86_PART_COM1,	     /* struct uart_state */
	X86_PART_RTC,	     /* struct rtc_state */
	X86_PART_CLOCK,	     /* struct kvm_clock_data */
	X86_NR_PARTS,
};

/* The version of the parts that are KVM structs; COM1's is
 * UART_STATE_VERSION, the RTC's RTC_STATE_VERSION. */
#define X86_KVM_PART_VERSION 1

union x86_vm_part_state {
	struct kvm_pic_state pic;
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
	struct uart_state uart;
	struct rtc_state rtc;
	struct kvm_clock_data clock;
};

/* The part's name in messages ("PIC master", ...); NULL past the end. */
const char *x86_vm_part_name(unsigned part);
/* Its payload's length and its version; 0 past the end. */
size_t x86_vm_part_size(unsigned part);
uint32_t x86_vm_part_version(unsigned part);

/* Checks a VM-part section (id, instance a known part, version, exact
 * length, then the part's fields) and copies it into *out. */
int x86_vm_part_check(const struct stream_section *s,
		      union x86_vm_part_state *out, char *why, size_t why_len);

#endif
