/* Test guest start-up. Everything here runs at CPL0, which KVM-PVM emulates
 * one instruction at a time, so it does the least that reaches CPL3: load a
 * GDT and static identity page tables, enter long mode, load a per-CPU TSS
 * and the IDT, and iretq to user_entry with IOPL=3. The IDT entries and the
 * AP trampoline copy are written later by CPL3 code (memory is user
 * accessible). Boot CPU: from the PVH entry (ebx = hvm_start_info). Other
 * CPUs: from the SIPI trampoline, which jumps to ap32. */
#include "layout.h"

	.pushsection .note.Xen, "a"
	.align 4
	.long 4, 4, 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start32
	.popsection

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	mov $0x502, %dx		/* boot marker: the first guest instruction */
	out %al, %dx
	mov %ebx, start_info
	xor %edi, %edi		/* CPU index 0 */
	jmp common32

	.globl ap32
ap32:
	mov $SEL_DATA, %ax	/* DS still has the real-mode base */
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $1, %edi
	lock xadd %edi, next_cpu

common32:
	lgdt gdt_ptr
	mov $0x20, %eax		/* CR4.PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov $0x80010001, %eax	/* CR0.PG | WP | PE */
	mov %eax, %cr0
	ljmp $SEL_CODE64, $start64

	.code64
start64:
	mov $SEL_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	/* Kernel stack and TSS of CPU edi. */
	mov %edi, %eax
	inc %eax
	shl $12, %rax		/* KSTACK_SIZE */
	lea kstacks(%rax), %rsp
	mov %edi, %eax
	shl $7, %rax		/* TSS_SIZE */
	lea tss(%rax), %rbx
	mov %rsp, 4(%rbx)	/* rsp0 */
	movw $104, 102(%rbx)	/* I/O map base past the limit: no bitmap */
	/* Its GDT descriptor: limit 103, type 0x89 (available 64-bit TSS). */
	mov %edi, %eax
	shl $4, %rax
	lea gdt + SEL_TSS0(%rax), %rsi
	mov %rbx, %rax
	shl $16, %rax
	mov $0xffffff, %rcx
	shl $16, %rcx
	and %rcx, %rax		/* base 23:0 into bits 39:16 */
	or $103, %rax
	mov $0x89, %rcx
	shl $40, %rcx
	or %rcx, %rax
	mov %rbx, %rcx
	shr $24, %rcx
	shl $56, %rcx		/* base 31:24 into bits 63:56 */
	or %rcx, %rax
	mov %rax, (%rsi)
	movq $0, 8(%rsi)	/* base 63:32 = 0 */
	mov %edi, %eax
	shl $4, %eax
	add $SEL_TSS0, %eax
	ltr %ax
	lidt idt_ptr
	/* iretq to CPL3: SS, RSP, RFLAGS (IOPL=3), CS, RIP. */
	mov %edi, %eax
	inc %eax
	shl $14, %rax		/* USTACK_SIZE */
	lea ustacks(%rax), %rax
	pushq $SEL_UDATA
	push %rax
	pushq $0x3002
	pushq $SEL_UCODE64
	lea user_entry(%rip), %rax
	push %rax
	/* user_entry(cpu, start_info) */
	mov start_info(%rip), %esi
	iretq

/* The first CPL3 code: calls guest_main with the ABI's stack alignment. */
	.globl user_entry
user_entry:
	call guest_main
	ud2

/* Exception entry points, 16 bytes apart so CPL3 code can compute their
 * addresses when it fills the IDT: push a dummy error code where the CPU
 * pushes none, then the vector. */
	.align 16
	.globl exception_entries
exception_entries:
	.set vec, 0
	.rept 32
	.align 16
	.if (vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp exception_common
	.set vec, vec + 1
	.endr

exception_common:
	/* Stack: vector, error code, rip, cs, rflags, rsp, ss. Save the
	 * general registers as a struct trap_frame (exit.c) on top. */
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $~15, %rsp
	call exception_handle	/* returns only when the fault was handled */
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp		/* vector and error code */
	iretq

/* External interrupts: slot i is vector IRQ_FIRST_VECTOR + i. A few
 * instructions at CPL0 (emulated, and so slow, on KVM-PVM): count, EOI to
 * the local APIC, return. */
	.align 16
	.globl irq_entries
irq_entries:
	.set slot, 0
	.rept IRQ_SLOTS
	.align 16
	push %rax
	mov $slot, %eax
	jmp irq_common
	.set slot, slot + 1
	.endr

irq_common:
	lock incl irq_counts(,%rax,4)
	movabs $0xfee000b0, %rax	/* local APIC EOI */
	movl $0, (%rax)
	pop %rax
	iretq

/* Called by exception_handle at CPL0: with no IDT a fault is a triple
 * fault, which a PC answers with a reset. */
	.globl triple_fault
triple_fault:
	lidt null_idt_ptr
	ud2
1:	jmp 1b

/* CPL3 asks for a triple fault with a ud2 here (a software interrupt would
 * do, but KVM-PVM turns INT n from user mode into #UD anyway). */
	.globl triple_fault_request
triple_fault_request:
	ud2

/* The SIPI trampoline, copied to TRAMPOLINE_ADDR by CPL3 code. Runs in real
 * mode with CS = TRAMPOLINE_ADDR >> 4. */
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdt_ptr - trampoline_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $ap32
tramp_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
trampoline_end:

	.data
	.align 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 code64 */
	.quad 0x00cf92000000ffff	/* 0x10 data */
	.quad 0x00cf9a000000ffff	/* 0x18 code32 */
	.quad 0x00cff2000000ffff	/* 0x20 user data */
	.quad 0x00affa000000ffff	/* 0x28 user code64 */
	.fill GUEST_MAX_CPUS * 2, 8, 0	/* 0x30 TSS descriptors */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
	.align 8
	.globl idt_ptr
idt_ptr:
	.word 256 * 16 - 1
	.quad idt
null_idt_ptr:
	.word 0
	.quad 0
	.globl start_info, next_cpu
start_info:
	.long 0
next_cpu:
	.long 1

/* Identity map of the first MAPPED_GIB GiB with 2 MiB pages, present,
 * writable and user-accessible: static, so no CPL0 loop builds it. */
	.section .data.pagetables, "aw"
	.align 4096
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.set i, 0
	.rept MAPPED_GIB
	.quad pd + i * 4096 + 0x7
	.set i, i + 1
	.endr
	.fill 512 - MAPPED_GIB, 8, 0
pd:
	.set addr, 0
	.rept MAPPED_GIB * 512
	.quad addr + 0x87
	.set addr, addr + 0x200000
	.endr

	.bss
	.align 4096
	.globl idt
idt:
	.fill 256 * 16, 1, 0
	.align 128
tss:
	.fill GUEST_MAX_CPUS * TSS_SIZE, 1, 0
	.align 4096
kstacks:
	.fill GUEST_MAX_CPUS * KSTACK_SIZE + KSTACK_SIZE, 1, 0
	.globl ustacks
ustacks:
	.fill GUEST_MAX_CPUS * USTACK_SIZE + USTACK_SIZE, 1, 0
	.section .note.GNU-stack, "", @progbits
