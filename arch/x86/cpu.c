/* Main thread at start-up, before vCPU threads run; no state. */
#include "cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "lib/log.h"

#define GDT_CODE 2 /* selector 0x10, the boot protocol's __BOOT_CS */
#define GDT_DATA 3 /* selector 0x18, __BOOT_DS */
#define GDT_TSS 4
#define GDT_ENTRIES 5

#define CR0_PE 0x1ULL
#define CR0_MP 0x2ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_WP 0x10000ULL
#define CR0_AM 0x40000ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define PTE_PRESENT 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) |
	       ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) |
	       ((uint64_t)(base & 0x00ffffff) << 16) | (limit & 0xffff);
}

static int write_page_tables(const struct guest_mem *mem)
{
	uint64_t pml4 = LAYOUT_PML4 | 0, pdpt = pml4 + 0x1000,
		 pd = pdpt + 0x1000;
	uint64_t entry;
	int r = 0;

	entry = pdpt | PTE_PRESENT | PTE_RW;
	r |= mem_write(mem, pml4, &entry, 8);
	for (uint64_t i = 0; i < 4; i++) {
		entry = (pd + i * 0x1000) | PTE_PRESENT | PTE_RW;
		r |= mem_write(mem, pdpt + i * 8, &entry, 8);
	}
	for (uint64_t i = 0; i < 4 * 512; i++) {
		entry = (i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
		r |= mem_write(mem, pd + i * 8, &entry, 8);
	}
	return r ? -EFAULT : 0;
}

int x86_write_boot_tables(const struct guest_mem *mem, enum boot_mode mode)
{
	uint64_t gdt[GDT_ENTRIES] = { 0 };

	gdt[GDT_CODE] = mode == BOOT_LINUX64 ? gdt_entry(0xa09b, 0, 0xfffff)
					     : gdt_entry(0xc09b, 0, 0xfffff);
	gdt[GDT_DATA] = gdt_entry(0xc093, 0, 0xfffff);
	gdt[GDT_TSS] = gdt_entry(0x008b, 0, 0x67);
	if (mem_write(mem, LAYOUT_GDT, gdt, sizeof(gdt)))
		return -EFAULT;
	return mode == BOOT_LINUX64 ? write_page_tables(mem) : 0;
}

static int set_msrs(int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{ 0x174, 0 },		/* SYSENTER_CS */
		{ 0x175, 0 },		/* SYSENTER_ESP */
		{ 0x176, 0 },		/* SYSENTER_EIP */
		{ 0xc0000081, 0 },	/* STAR */
		{ 0xc0000082, 0 },	/* LSTAR */
		{ 0xc0000083, 0 },	/* CSTAR */
		{ 0xc0000084, 0 },	/* SYSCALL_MASK */
		{ 0xc0000102, 0 },	/* KERNEL_GS_BASE */
		{ 0x1a0, 1 },		/* MISC_ENABLE: fast strings */
		{ 0x2ff, 1 << 11 | 6 }, /* MTRR default type: enabled, WB */
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct kvm_msrs *msrs =
		calloc(1, sizeof(*msrs) + N * sizeof(msrs->entries[0]));
	int r;

	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = N;
	for (unsigned i = 0; i < N; i++) {
		msrs->entries[i].index = boot_msrs[i].index;
		msrs->entries[i].data = boot_msrs[i].data;
	}
	r = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	free(msrs);
	if (r == N)
		return 0;
	log_error("KVM_SET_MSRS: %s",
		  r < 0 ? strerror(errno) : "an MSR was refused");
	return r < 0 ? -errno : -EINVAL;
}

static int set_lint(int vcpu_fd)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt0, lvt1;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	memcpy(&lvt0, lapic.regs + 0x350, 4);
	memcpy(&lvt1, lapic.regs + 0x360, 4);
	/* LINT0 carries the 8259's ExtINT, LINT1 the NMI. */
	lvt0 = (lvt0 & ~0x700u) | 7u << 8;
	lvt1 = (lvt1 & ~0x700u) | 4u << 8;
	memcpy(lapic.regs + 0x350, &lvt0, 4);
	memcpy(lapic.regs + 0x360, &lvt1, 4);
	return ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int x86_init_vcpu(int vcpu_fd)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int r;

	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0) {
		log_error("KVM_SET_FPU: %s", strerror(errno));
		return -errno;
	}
	r = set_msrs(vcpu_fd);
	if (r)
		return r;
	r = set_lint(vcpu_fd);
	if (r)
		log_error("setting the LAPIC LINT pins: %s", strerror(-r));
	return r;
}

static void flat_segment(struct kvm_segment *s, unsigned index, uint8_t type,
			 bool long_mode)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = (uint16_t)(index * 8),
		.type = type,
		.present = 1,
		.s = 1,
		.g = 1,
		.l = long_mode,
		.db = !long_mode,
	};
}

static void set_segments(struct kvm_sregs *s, bool long_mode)
{
	flat_segment(&s->cs, GDT_CODE, 0xb, long_mode);
	flat_segment(&s->ds, GDT_DATA, 0x3, false);
	s->es = s->fs = s->gs = s->ss = s->ds;
	s->tr = (struct kvm_segment){ .selector = GDT_TSS * 8,
				      .limit = 0x67,
				      .type = 0xb,
				      .present = 1 };
	s->ldt = (struct kvm_segment){ .limit = 0xffff,
				       .type = 2,
				       .present = 1 };
	s->gdt.base = LAYOUT_GDT;
	s->gdt.limit = GDT_ENTRIES * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
}

int x86_set_entry_state(int vcpu_fd, const struct boot_entry *entry)
{
	bool lm = entry->mode == BOOT_LINUX64;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 2, .rip = entry->rip };

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	set_segments(&sregs, lm);
	if (lm) {
		sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP |
			    CR0_AM | CR0_PG;
		sregs.cr3 = LAYOUT_PML4;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
		regs.rsi = entry->arg;
		regs.rsp = regs.rbp = LAYOUT_BOOT_STACK;
	} else {
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr3 = sregs.cr4 = sregs.efer = 0;
		regs.rbx = entry->arg;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	log_error("setting the boot vCPU's registers: %s", strerror(errno));
	return -errno;
}
