/* Ending the run and reporting unexpected exceptions. */
#include "guest.h"

#define EXIT_PORT 0x501
#define STATUS_EXCEPTION 3

void guest_exit(uint8_t status)
{
	outb(EXIT_PORT, status);
	for (;;)
		cpu_relax(); /* the VMM has stopped this vCPU */
}

extern const char exception_entries[], triple_fault_request[];
extern void triple_fault(void) __attribute__((noreturn));
extern uint8_t idt[];

void idt_set_gate(unsigned vector, uint64_t handler)
{
	uint64_t low = (handler & 0xffff) | (uint64_t)SEL_CODE64 << 16 |
		       (uint64_t)0x8e << 40 | ((handler >> 16) & 0xffff) << 48;
	uint64_t high = handler >> 32;

	memcpy(idt + vector * 16, &low, 8);
	memcpy(idt + vector * 16 + 8, &high, 8);
}

/* Runs at CPL3 (the IDT is ordinary user-accessible memory) before
 * anything can fault. */
void idt_init(void)
{
	for (unsigned v = 0; v < 32; v++)
		idt_set_gate(v, (uint64_t)exception_entries + 16 * v);
}

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

static void report(const struct trap_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	printf("guest: exception %lu error %lx at rip %lx cr2 %lx rflags %lx\n",
	       f->vector, f->error, f->rip, cr2, f->rflags);
	guest_exit(STATUS_EXCEPTION);
}

static uint32_t port_in(uint16_t port, unsigned size)
{
	uint32_t v = 0;

	if (size == 1)
		__asm__ volatile("inb %1, %b0" : "=a"(v) : "Nd"(port));
	else if (size == 2)
		__asm__ volatile("inw %1, %w0" : "=a"(v) : "Nd"(port));
	else
		__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void port_out(uint16_t port, uint32_t v, unsigned size)
{
	if (size == 1)
		__asm__ volatile("outb %b0, %1" : : "a"(v), "Nd"(port));
	else if (size == 2)
		__asm__ volatile("outw %w0, %1" : : "a"(v), "Nd"(port));
	else
		__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static void merge_rax(struct trap_frame *f, uint32_t v, unsigned size)
{
	if (size == 4)
		f->rax = v;
	else if (size == 2)
		f->rax = (f->rax & ~0xffffULL) | (v & 0xffff);
	else
		f->rax = (f->rax & ~0xffULL) | (v & 0xff);
}

/* rep outs / rep ins: the CPU does the string I/O itself at CPL0. */
static void string_io(struct trap_frame *f, bool out, bool rep, unsigned size)
{
	uint64_t n = rep ? f->rcx : 1;
	uint16_t port = (uint16_t)f->rdx;

	for (; n; n--) {
		if (out)
			port_out(port,
				 size == 1   ? *(uint8_t *)f->rsi
				 : size == 2 ? *(uint16_t *)f->rsi
					     : *(uint32_t *)f->rsi,
				 size);
		else if (size == 1)
			*(uint8_t *)f->rdi = (uint8_t)port_in(port, 1);
		else if (size == 2)
			*(uint16_t *)f->rdi = (uint16_t)port_in(port, 2);
		else
			*(uint32_t *)f->rdi = port_in(port, 4);
		if (out)
			f->rsi += size;
		else
			f->rdi += size;
	}
	if (rep)
		f->rcx = 0;
}

/* Where CPL3 may not do port I/O (KVM-PVM runs guest user code with
 * IOPL 0 whatever the guest sets), in/out/ins/outs raise #GP: perform the
 * access here and resume after the instruction. Returns false when the
 * instruction is not port I/O. */
static bool emulate_port_io(struct trap_frame *f)
{
	const uint8_t *ip = (const uint8_t *)f->rip;
	unsigned size = 4, len = 0;
	bool rep = false;
	uint8_t op;

	for (;; len++) {
		if (ip[len] == 0x66)
			size = 2;
		else if (ip[len] == 0xf3)
			rep = true;
		else if ((ip[len] & 0xf0) != 0x40) /* REX is ignored */
			break;
	}
	op = ip[len++];
	if (!(op & 1))
		size = 1;
	switch (op) {
	case 0xe4:
	case 0xe5: merge_rax(f, port_in(ip[len++], size), size); break;
	case 0xe6:
	case 0xe7: port_out(ip[len++], (uint32_t)f->rax, size); break;
	case 0xec:
	case 0xed: merge_rax(f, port_in((uint16_t)f->rdx, size), size); break;
	case 0xee:
	case 0xef: port_out((uint16_t)f->rdx, (uint32_t)f->rax, size); break;
	case 0x6c:
	case 0x6d: string_io(f, false, rep, size); break;
	case 0x6e:
	case 0x6f: string_io(f, true, rep, size); break;
	default: return false;
	}
	f->rip += len;
	return true;
}

/* sti/cli at CPL3 fault the same way when IOPL is 0. */
static bool emulate_sti_cli(struct trap_frame *f)
{
	uint8_t op = *(const uint8_t *)f->rip;

	if (op != 0xfb && op != 0xfa)
		return false;
	if (op == 0xfb)
		f->rflags |= 0x200;
	else
		f->rflags &= ~0x200ULL;
	f->rip++;
	return true;
}

/* Runs at CPL0 on the exception's stack. Returns to resume the
 * interrupted code; anything unexpected ends the VM with status 3. */
void exception_handle(struct trap_frame *f)
{
	if (f->vector == 13 && (f->cs & 3) == 3 &&
	    (emulate_port_io(f) || emulate_sti_cli(f)))
		return;
	if (f->vector == 6 && f->rip == (uint64_t)triple_fault_request)
		triple_fault();
	report(f);
}
