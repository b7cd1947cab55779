/* x86-64 context switch for lib/coro.h (System V ABI): the callee-saved
 * registers, MXCSR and the x87 control word are what a call must keep;
 * everything else the compiler already treats as clobbered by the call.
 * Runs on whichever thread switches; no state of its own. */
#include <stdint.h>

#include "lib/coro.h"

/* Frame, from the saved stack pointer up: MXCSR and x87 control word
 * (8 bytes), r15, r14, r13, r12, rbx, rbp, return address. */
__asm__(".text\n"
	".globl coro_arch_switch\n"
	".type coro_arch_switch,@function\n"
	"coro_arch_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size coro_arch_switch, .-coro_arch_switch\n"
	/* A fresh stack's first return lands here with the entry in r12
	 * and its argument in r13; the call keeps the ABI's alignment. */
	".type coro_arch_start,@function\n"
	"coro_arch_start:\n"
	"	movq %r13, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	".size coro_arch_start, .-coro_arch_start\n");

void coro_arch_start(void);

void *coro_arch_prepare(void *top, void (*entry)(void *), void *arg)
{
	/* After the switch pops the frame and returns into coro_arch_start,
	 * rsp is top again, 16-byte aligned, so that its call enters entry
	 * with the ABI's rsp % 16 == 8. */
	uint64_t *sp = (uint64_t *)((uintptr_t)top & ~(uintptr_t)15);

	*--sp = (uint64_t)(uintptr_t)coro_arch_start; /* return address */
	*--sp = 0;				      /* rbp */
	*--sp = 0;				      /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry;	      /* r12 */
	*--sp = (uint64_t)(uintptr_t)arg;	      /* r13 */
	*--sp = 0;				      /* r14 */
	*--sp = 0;				      /* r15 */
	/* The ABI's initial MXCSR (all exceptions masked) and x87 control
	 * word (extended precision, all masked). */
	*--sp = 0x1f80ull | (0x037full << 32);
	return sp;
}
