/* The pure checks of x86 state sections (arch/x86/state.h): the MSR
 * table and its selection, the TSC frequency decision, and every way a
 * vCPU or VM-part section can be wrong, plus random payloads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/state.h"

static char why[256];

/* ---- the MSR table ---- */

Test(x86_msrs, table_has_no_duplicates_and_fits_a_section)
{
	cr_assert_leq(x86_msr_table_len, X86_VCPU_MAX_MSRS);
	for (unsigned i = 0; i < x86_msr_table_len; i++)
		for (unsigned j = i + 1; j < x86_msr_table_len; j++)
			cr_assert_neq(x86_msr_table[i].index,
				      x86_msr_table[j].index, "%#x twice",
				      x86_msr_table[i].index);
}

Test(x86_msrs, holds_what_qemu_saves)
{
	static const uint32_t need[] = {
		0x10,	    0x3b,	0x174,	    0x175,	0x176,
		0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102,
		0x277,	    0x1a0,	0xc0000103, 0x48,	0x6e0,
		0x11,	    0x12,	0x4b564d00, 0x4b564d01, 0x4b564d02,
		0x4b564d03, 0x4b564d04, 0x4b564d05, 0x4b564d06, 0x2ff,
	};

	for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		cr_assert_geq(x86_msr_position(need[i]), 0, "%#x missing",
			      need[i]);
	cr_assert_eq(x86_msr_position(0x1b), -1, "APIC base is in sregs");
	cr_assert_eq(x86_msr_position(0xc0000080), -1, "EFER is in sregs");
	cr_assert_eq(x86_msr_position(0xdeadbeef), -1);
}

Test(x86_msrs, restore_order_constraints)
{
	int deadline = x86_msr_position(0x6e0);

	cr_assert_lt(x86_msr_position(0x4b564d06), x86_msr_position(0x4b564d02),
		     "async PF vector before its enable");
	cr_assert_lt(x86_msr_position(0xce), x86_msr_position(0x140),
		     "PLATFORM_INFO before MISC_FEATURES_ENABLES");
	cr_assert_lt(x86_msr_position(0x345), x86_msr_position(0xc1),
		     "PERF_CAPABILITIES before the PMU counters");
	cr_assert_lt(x86_msr_position(0x186), x86_msr_position(0x38f),
		     "event selectors before the global control");
	cr_assert_eq(x86_msr_table[deadline].flags, X86_MSR_AFTER_LAPIC);
	for (unsigned i = 0; i < x86_msr_table_len; i++)
		if (x86_msr_table[i].flags & X86_MSR_AFTER_LAPIC)
			cr_assert_eq(x86_msr_table[i].index, 0x6e0,
				     "only the TSC deadline waits for the "
				     "LAPIC");
	cr_assert_eq(x86_msr_table[x86_msr_position(0x200)].flags,
		     X86_MSR_UNLISTED, "MTRRs are not in KVM's list");
	cr_assert_eq(x86_msr_table[x86_msr_position(0x10)].flags, 0);
}

Test(x86_msrs, select_keeps_table_order_and_unlisted_ones)
{
	/* KVM's order differs from the table's; 0x1b and 0x99 are not in
	 * the table. */
	const uint32_t kvm[] = { 0x6e0, 0x10, 0x1b, 0x174, 0x99, 0x4b564d01 };
	uint32_t out[X86_VCPU_MAX_MSRS];
	unsigned n = x86_msr_select(kvm, 6, out, X86_VCPU_MAX_MSRS);
	unsigned unlisted = 0, last = 0;

	for (unsigned i = 0; i < x86_msr_table_len; i++)
		unlisted += (x86_msr_table[i].flags & X86_MSR_UNLISTED) != 0;
	cr_assert_eq(unlisted, 28, "the MTRRs: 1 + 11 fixed + 16 variable");
	cr_assert_eq(n, 4 + unlisted);
	for (unsigned i = 0; i < n; i++) {
		int pos = x86_msr_position(out[i]);
		cr_assert_geq(pos, 0);
		if (i)
			cr_assert_gt((unsigned)pos, last, "table order");
		last = (unsigned)pos;
		cr_assert_neq(out[i], 0x1b);
		cr_assert_neq(out[i], 0x99);
	}
	cr_assert_eq(out[0], 0x174);
	cr_assert_eq(out[n - 1], 0x6e0);
	cr_assert_eq(out[n - 2], 0x4b564d01);
	cr_assert_eq(out[n - 3], 0x10);
}

Test(x86_msrs, select_stops_at_max)
{
	const uint32_t kvm[] = { 0x174, 0x175, 0x176 };
	uint32_t out[2] = { 0, 0 };

	cr_assert_eq(x86_msr_select(kvm, 3, out, 2), 2);
	cr_assert_eq(out[0], 0x174);
	cr_assert_eq(out[1], 0x175);
	cr_assert_eq(x86_msr_select(NULL, 0, out, 0), 0);
}

/* ---- TSC frequency ---- */

Test(x86_tsc, decisions)
{
	cr_assert_eq(x86_tsc_decide(2000000, 2000000, false), X86_TSC_KEEP);
	cr_assert_eq(x86_tsc_decide(2000000, 2000000, true), X86_TSC_KEEP);
	cr_assert_eq(x86_tsc_decide(2000000, 3000000, true), X86_TSC_SET);
	cr_assert_eq(x86_tsc_decide(3000000, 2000000, false), X86_TSC_REFUSE);
	cr_assert_eq(x86_tsc_decide(2000000, 3000000, false), X86_TSC_REFUSE);
	/* 250 ppm of 2 GHz is 500 kHz. */
	cr_assert_eq(x86_tsc_decide(2000500, 2000000, false), X86_TSC_SET);
	cr_assert_eq(x86_tsc_decide(1999500, 2000000, false), X86_TSC_SET);
	cr_assert_eq(x86_tsc_decide(2000501, 2000000, false), X86_TSC_REFUSE);
	cr_assert_eq(x86_tsc_decide(1999499, 2000000, false), X86_TSC_REFUSE);
	cr_assert_eq(x86_tsc_decide(UINT32_MAX, 1, false), X86_TSC_REFUSE);
}

/* ---- one vCPU ---- */

static struct x86_vcpu_state *good_vcpu(void)
{
	struct x86_vcpu_state *st = calloc(1, sizeof(*st));
	const uint32_t msrs[] = { 0x174, 0x277, 0x10, 0x4b564d01, 0x6e0 };

	cr_assert_not_null(st);
	st->tsc_khz = 2995200;
	st->mp_state = KVM_MP_STATE_HALTED;
	st->regs.rip = 0xffffffff81000000ULL;
	st->sregs.efer = 0xd01;
	st->sregs.flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
	st->xcrs.nr_xcrs = 1;
	st->xcrs.xcrs[0].value = 7;
	st->events.flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
			   KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	st->debugregs.dr6 = 0xffff0ff0;
	st->debugregs.dr7 = 0x400;
	st->nmsrs = 5;
	for (unsigned i = 0; i < 5; i++) {
		st->msrs[i].index = msrs[i];
		st->msrs[i].data = 0x1000 + i;
	}
	return st;
}

static struct stream_section section(uint32_t id, uint32_t instance,
				     uint32_t version, void *p, uint64_t len)
{
	return (struct stream_section){ id, instance, version, len, p };
}

static int check_vcpu(struct x86_vcpu_state *st, unsigned id)
{
	struct stream_section s = section(
		STREAM_SEC_VCPU, id, X86_VCPU_STATE_VERSION, st, sizeof(*st));
	struct x86_vcpu_state *out = malloc(sizeof(*out));
	int r;

	memset(why, 0, sizeof(why));
	r = x86_vcpu_state_check(&s, id, out, why, sizeof(why));
	free(out);
	return r;
}

static void expect_refused(int r, const char *text)
{
	cr_assert_eq(r, -EPROTO, "accepted, expected \"%s\"", text);
	cr_assert_not_null(strstr(why, text), "\"%s\" does not say \"%s\"", why,
			   text);
}

Test(x86_vcpu_state, good_section_is_copied)
{
	struct x86_vcpu_state *st = good_vcpu(), *out = malloc(sizeof(*out));
	struct stream_section s = section(
		STREAM_SEC_VCPU, 3, X86_VCPU_STATE_VERSION, st, sizeof(*st));

	cr_assert_eq(sizeof(*st), 8232);
	cr_assert_eq(x86_vcpu_state_check(&s, 3, out, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(memcmp(out, st, sizeof(*st)), 0);
	cr_assert_eq(out->regs.rip, 0xffffffff81000000ULL);
	cr_assert_eq(out->msrs[4].index, 0x6e0);
	free(out);
	free(st);
}

Test(x86_vcpu_state, envelope)
{
	struct x86_vcpu_state *st = good_vcpu(), *out = malloc(sizeof(*out));
	struct stream_section s;

	s = section(STREAM_SEC_ARCH_VM, 1, 1, st, sizeof(*st));
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "vCPU 1 state: section id 5, expected 4");
	s = section(STREAM_SEC_VCPU, 2, 1, st, sizeof(*st));
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "vCPU 1 state: the section is vCPU 2's");
	s = section(STREAM_SEC_VCPU, 1, 2, st, sizeof(*st));
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "vCPU 1 state: version 2, expected 1");
	s = section(STREAM_SEC_VCPU, 1, 0, st, sizeof(*st));
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "version 0, expected 1");
	s = section(STREAM_SEC_VCPU, 1, 1, st, 1234);
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "vCPU 1 state: length 1234, expected 8232");
	s = section(STREAM_SEC_VCPU, 1, 1, st, sizeof(*st) + 1);
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "length 8233, expected 8232");
	s = section(STREAM_SEC_VCPU, 1, 1, st, 0);
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "length 0, expected 8232");
	s = section(STREAM_SEC_VCPU, 1, 1, NULL, sizeof(*st));
	expect_refused(x86_vcpu_state_check(&s, 1, out, why, sizeof(why)),
		       "no payload");
	free(out);
	free(st);
}

Test(x86_vcpu_state, scalar_fields)
{
	struct x86_vcpu_state *st = good_vcpu();

	/* Any CPUID CRC passes the check: it is compared with the vCPU's
	 * own at restore, against KVM. */
	st->cpuid_crc = 0xdeadbeef;
	cr_assert_eq(check_vcpu(st, 0), 0);
	st->tsc_khz = 0;
	expect_refused(check_vcpu(st, 0), "TSC frequency 0 kHz");
	st->tsc_khz = 1000000;
	st->mp_state = 5; /* KVM_MP_STATE_STOPPED: s390 only */
	expect_refused(check_vcpu(st, 0), "MP state 5 unknown");
	st->mp_state = 0xffffffff;
	expect_refused(check_vcpu(st, 0), "MP state 4294967295 unknown");
	st->mp_state = KVM_MP_STATE_SIPI_RECEIVED;
	cr_assert_eq(check_vcpu(st, 0), 0, "%s", why);
	st->sregs.flags = 2;
	expect_refused(check_vcpu(st, 0), "special register flags 0x2");
	st->sregs.flags = 0;
	st->xcrs.nr_xcrs = 17;
	expect_refused(check_vcpu(st, 0), "17 XCRs, at most 16");
	st->xcrs.nr_xcrs = 16;
	cr_assert_eq(check_vcpu(st, 0), 0, "%s", why);
	st->xcrs.flags = 1;
	expect_refused(check_vcpu(st, 0), "XCR flags 0x1");
	st->xcrs.flags = 0;
	st->events.flags = 0x40;
	expect_refused(check_vcpu(st, 0), "event flags 0x40 unknown");
	st->events.flags = 0x3f;
	cr_assert_eq(check_vcpu(st, 0), 0, "%s", why);
	st->debugregs.flags = 1;
	expect_refused(check_vcpu(st, 0), "debug register flags 0x1");
	st->debugregs.flags = 0;
	st->debugregs.dr7 = 1ULL << 32;
	expect_refused(check_vcpu(st, 0), "above 32 bits");
	st->debugregs.dr7 = 0;
	st->debugregs.dr6 = 1ULL << 63;
	expect_refused(check_vcpu(st, 0), "above 32 bits");
	free(st);
}

Test(x86_vcpu_state, msr_list)
{
	struct x86_vcpu_state *st = good_vcpu();

	st->nmsrs = X86_VCPU_MAX_MSRS + 1;
	expect_refused(check_vcpu(st, 2),
		       "vCPU 2 state: 129 MSRs, at most 128");
	st->nmsrs = 0xffffffff;
	expect_refused(check_vcpu(st, 2), "4294967295 MSRs, at most 128");
	st->nmsrs = 5;
	st->msrs[1].index = 0xc0000080; /* EFER: not one restored by MSR */
	expect_refused(check_vcpu(st, 2), "MSR 0xc0000080 is not one");
	st->msrs[1].index = 0x174; /* repeated */
	expect_refused(check_vcpu(st, 2), "MSR 0x174 repeated or out of order");
	st->msrs[1].index = 0x6e0; /* the deadline before the TSC */
	expect_refused(check_vcpu(st, 2), "MSR 0x10 repeated or out of order");
	st->msrs[1].index = 0x277;
	st->msrs[3].reserved = 9;
	expect_refused(check_vcpu(st, 2),
		       "MSR 0x4b564d01: reserved word 0x9, not 0");
	st->msrs[3].reserved = 0;
	st->msrs[5].data = 1; /* past the count */
	expect_refused(check_vcpu(st, 2), "MSR slot 5 past the count 5");
	st->msrs[5].data = 0;
	cr_assert_eq(check_vcpu(st, 2), 0, "%s", why);
	/* A full table, every MSR once in order, is accepted. */
	st->nmsrs = x86_msr_table_len;
	for (unsigned i = 0; i < x86_msr_table_len; i++)
		st->msrs[i] =
			(struct x86_msr_value){ x86_msr_table[i].index, 0, i };
	cr_assert_eq(check_vcpu(st, 2), 0, "%s", why);
	st->nmsrs = 0;
	memset(st->msrs, 0, sizeof(st->msrs));
	cr_assert_eq(check_vcpu(st, 2), 0, "%s", why);
	free(st);
}

/* ---- the VM's parts ---- */

static int check_part(unsigned part, void *p, uint64_t len,
		      union x86_vm_part_state *out)
{
	struct stream_section s = section(STREAM_SEC_ARCH_VM, part,
					  x86_vm_part_version(part), p, len);

	memset(why, 0, sizeof(why));
	return x86_vm_part_check(&s, out, why, sizeof(why));
}

Test(x86_vm_part, names_and_sizes)
{
	cr_assert_eq(X86_NR_PARTS, 7);
	cr_assert_str_eq(x86_vm_part_name(X86_PART_PIC_MASTER), "PIC master");
	cr_assert_str_eq(x86_vm_part_name(X86_PART_COM1), "COM1");
	cr_assert_str_eq(x86_vm_part_name(X86_PART_CLOCK), "KVM clock");
	cr_assert_null(x86_vm_part_name(X86_NR_PARTS));
	cr_assert_eq(x86_vm_part_size(X86_PART_PIC_SLAVE), 16);
	cr_assert_eq(x86_vm_part_size(X86_PART_IOAPIC), 216);
	cr_assert_eq(x86_vm_part_size(X86_PART_PIT), 112);
	cr_assert_eq(x86_vm_part_size(X86_PART_COM1), 32);
	cr_assert_eq(x86_vm_part_size(X86_PART_RTC), 136);
	cr_assert_eq(x86_vm_part_size(X86_PART_CLOCK), 48);
	cr_assert_eq(x86_vm_part_size(99), 0);
	cr_assert_eq(x86_vm_part_version(X86_PART_IOAPIC), 1);
	cr_assert_eq(x86_vm_part_version(X86_PART_COM1), UART_STATE_VERSION);
	cr_assert_eq(x86_vm_part_version(X86_PART_RTC), RTC_STATE_VERSION);
	cr_assert_eq(x86_vm_part_version(99), 0);
}

Test(x86_vm_part, envelope)
{
	union x86_vm_part_state in, out;
	struct stream_section s;

	memset(&in, 0, sizeof(in));
	in.ioapic.base_address = 0xfec00000;
	cr_assert_eq(check_part(X86_PART_IOAPIC, &in, 216, &out), 0, "%s", why);
	cr_assert_eq(out.ioapic.base_address, 0xfec00000);
	expect_refused(check_part(7, &in, 16, &out),
		       "arch VM state: part 7 unknown (this vmm has 7)");
	expect_refused(check_part(0xffffffff, &in, 16, &out),
		       "part 4294967295 unknown");
	expect_refused(check_part(X86_PART_IOAPIC, &in, 215, &out),
		       "IOAPIC state: length 215, expected 216");
	expect_refused(check_part(X86_PART_PIC_MASTER, &in, 216, &out),
		       "PIC master state: length 216, expected 16");
	s = section(STREAM_SEC_ARCH_VM, X86_PART_RTC, 2, &in, 136);
	expect_refused(x86_vm_part_check(&s, &out, why, sizeof(why)),
		       "RTC state: version 2, expected 1");
	s = section(STREAM_SEC_DEVICE, X86_PART_RTC, 1, &in, 136);
	expect_refused(x86_vm_part_check(&s, &out, why, sizeof(why)),
		       "RTC state: section id 6, expected 5");
}

Test(x86_vm_part, pic_fields)
{
	struct kvm_pic_state p = { .irq_base = 0x20,
				   .imr = 0xfb,
				   .init_state = 3,
				   .priority_add = 7,
				   .elcr_mask = 0xf8 };
	union x86_vm_part_state out;

	cr_assert_eq(check_part(X86_PART_PIC_MASTER, &p, 16, &out), 0, "%s",
		     why);
	cr_assert_eq(out.pic.imr, 0xfb);
	p.priority_add = 8;
	expect_refused(check_part(X86_PART_PIC_MASTER, &p, 16, &out),
		       "PIC master state: priority_add 8, at most 7");
	p.priority_add = 0;
	p.init_state = 4;
	expect_refused(check_part(X86_PART_PIC_SLAVE, &p, 16, &out),
		       "PIC slave state: init_state 4, at most 3");
	p.init_state = 0;
	p.auto_eoi = 2;
	expect_refused(check_part(X86_PART_PIC_SLAVE, &p, 16, &out),
		       "auto_eoi 2, at most 1");
	p.auto_eoi = 0;
	p.init4 = 0xff;
	expect_refused(check_part(X86_PART_PIC_SLAVE, &p, 16, &out),
		       "init4 255, at most 1");
}

Test(x86_vm_part, ioapic_fields)
{
	struct kvm_ioapic_state a = { .base_address = 0xfec00000,
				      .ioregsel = 0x3f,
				      .id = 15,
				      .irr = 0xffffff };
	union x86_vm_part_state out;

	cr_assert_eq(check_part(X86_PART_IOAPIC, &a, 216, &out), 0, "%s", why);
	a.base_address = 0xfee00000;
	expect_refused(check_part(X86_PART_IOAPIC, &a, 216, &out),
		       "IOAPIC state: base address 0xfee00000, expected "
		       "0xfec00000");
	a.base_address = 0xfec00000;
	a.ioregsel = 0x100;
	expect_refused(check_part(X86_PART_IOAPIC, &a, 216, &out),
		       "register select 0x100, at most 0xff");
	a.ioregsel = 0;
	a.id = 16;
	expect_refused(check_part(X86_PART_IOAPIC, &a, 216, &out),
		       "id 16, at most 15");
	a.id = 0;
	a.irr = 1u << 24;
	expect_refused(check_part(X86_PART_IOAPIC, &a, 216, &out),
		       "IRR 0x1000000 has bits above pin 23");
}

Test(x86_vm_part, pit_fields)
{
	struct kvm_pit_state2 p;
	union x86_vm_part_state out;

	memset(&p, 0, sizeof(p));
	p.channels[0].count = 0x10000;
	p.channels[0].mode = 0xff; /* never programmed: KVM's reset value */
	p.flags = KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	cr_assert_eq(check_part(X86_PART_PIT, &p, 112, &out), 0, "%s", why);
	cr_assert_eq(out.pit.channels[0].count, 0x10000);
	p.flags = 4;
	expect_refused(check_part(X86_PART_PIT, &p, 112, &out),
		       "PIT state: flags 0x4 unknown");
	p.flags = 0;
	p.channels[2].count = 0x10001;
	expect_refused(check_part(X86_PART_PIT, &p, 112, &out),
		       "channel 2 count 65537, at most 65536");
	p.channels[2].count = 0;
	p.reserved[8] = 1;
	expect_refused(check_part(X86_PART_PIT, &p, 112, &out),
		       "reserved word 8 is 0x1, not 0");
}

Test(x86_vm_part, devices_and_clock)
{
	struct uart_state u;
	struct rtc_state r;
	struct kvm_clock_data c;
	union x86_vm_part_state out;

	memset(&u, 0, sizeof(u));
	u.rx_head = 15;
	u.rx_count = 16;
	cr_assert_eq(check_part(X86_PART_COM1, &u, 32, &out), 0, "%s", why);
	cr_assert_eq(out.uart.rx_head, 15);
	u.rx_head = 16;
	expect_refused(check_part(X86_PART_COM1, &u, 32, &out),
		       "COM1 state: rx_head 16, at most 15");
	u.rx_head = 0;
	u.rx_count = 17;
	expect_refused(check_part(X86_PART_COM1, &u, 32, &out),
		       "COM1 state: rx_count 17, at most 16");

	memset(&r, 0, sizeof(r));
	r.index = 0x7f;
	r.nvram[0x7f] = 0xaa;
	cr_assert_eq(check_part(X86_PART_RTC, &r, 136, &out), 0, "%s", why);
	cr_assert_eq(out.rtc.nvram[0x7f], 0xaa);
	r.index = 0x80;
	expect_refused(check_part(X86_PART_RTC, &r, 136, &out),
		       "RTC state: index 128, at most 127");

	memset(&c, 0, sizeof(c));
	c.clock = 123456789;
	c.flags =
		KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
	cr_assert_eq(check_part(X86_PART_CLOCK, &c, 48, &out), 0, "%s", why);
	cr_assert_eq(out.clock.clock, 123456789);
	c.flags = 1;
	expect_refused(check_part(X86_PART_CLOCK, &c, 48, &out),
		       "KVM clock state: flags 0x1 unknown");
}

/* Random payloads of the right length: each is accepted or refused with
 * -EPROTO and a message, and what is accepted keeps the invariants the
 * restore code relies on. */
Test(x86_state, random_payloads)
{
	struct x86_vcpu_state *st = malloc(sizeof(*st)),
			      *out = malloc(sizeof(*out));
	union x86_vm_part_state part, pout;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned accepted = 0;

	for (unsigned round = 0; round < 3000; round++) {
		uint8_t *b = (uint8_t *)st;
		struct stream_section s;
		int r;

		for (size_t i = 0; i < sizeof(*st); i++) {
			seed = seed * 6364136223846793005ULL +
			       1442695040888963407ULL;
			b[i] = (uint8_t)(seed >> 56);
		}
		/* Half the rounds start from a good state with a few bytes
		 * changed, so the later checks are reached too. */
		if (round & 1) {
			struct x86_vcpu_state *g = good_vcpu();
			for (unsigned k = 0; k < 4; k++)
				((uint8_t *)g)[(b[k * 2] << 8 | b[k * 2 + 1]) %
					       sizeof(*g)] ^= b[100 + k];
			memcpy(st, g, sizeof(*st));
			free(g);
		}
		s = section(STREAM_SEC_VCPU, 0, 1, st, sizeof(*st));
		why[0] = 0;
		r = x86_vcpu_state_check(&s, 0, out, why, sizeof(why));
		cr_assert(r == 0 || (r == -EPROTO && why[0]));
		if (!r) {
			accepted++;
			cr_assert_leq(out->nmsrs, X86_VCPU_MAX_MSRS);
			for (unsigned i = 0; i < out->nmsrs; i++)
				cr_assert_geq(
					x86_msr_position(out->msrs[i].index),
					0);
		}

		memcpy(&part, st, sizeof(part));
		for (unsigned p = 0; p <= X86_NR_PARTS; p++) {
			s = section(STREAM_SEC_ARCH_VM, p,
				    x86_vm_part_version(p), &part,
				    x86_vm_part_size(p));
			why[0] = 0;
			r = x86_vm_part_check(&s, &pout, why, sizeof(why));
			cr_assert(r == 0 || (r == -EPROTO && why[0]));
			if (!r && p == X86_PART_COM1) {
				cr_assert_lt(pout.uart.rx_head, UART_FIFO_SIZE);
				cr_assert_leq(pout.uart.rx_count,
					      UART_FIFO_SIZE);
			}
			if (!r && p == X86_PART_RTC)
				cr_assert_lt(pout.rtc.index, RTC_NVRAM_SIZE);
		}
	}
	cr_assert_gt(accepted, 0, "some mutated good states pass");
	free(st);
	free(out);
}
