/* External interrupts for the virtio driver's interrupt mode: IDT gates to
 * the counting entry points in entry.S, the local APIC enabled, IOAPIC
 * routes for virtio-mmio lines (MSI-X needs none). */
#include "guest.h"

#define LAPIC 0xfee00000ULL
#define LAPIC_SVR 0xf0
#define IOAPIC 0xfec00000ULL
#define IOAPIC_REDTBL 0x10

volatile uint32_t irq_counts[IRQ_SLOTS];
extern const char irq_entries[];

void irq_init(void)
{
	for (unsigned i = 0; i < IRQ_SLOTS; i++)
		idt_set_gate(IRQ_FIRST_VECTOR + i,
			     (uint64_t)irq_entries + 16 * i);
	/* Firmware (SeaBIOS under QEMU q35) may have left the 8259s
	 * programmed with the timer on vector 8; only the APICs are used. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	mmio_write32(LAPIC + LAPIC_SVR, mmio_read32(LAPIC + LAPIC_SVR) | 0x1ff);
	/* Faults into the #GP handler where IOPL does not reach CPL3. */
	__asm__ volatile("sti" ::: "memory");
}

static void ioapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(IOAPIC, reg);
	mmio_write32(IOAPIC + 0x10, v);
}

void ioapic_route(unsigned gsi, unsigned slot)
{
	ioapic_write(IOAPIC_REDTBL + 2 * gsi + 1, 0); /* destination APIC 0 */
	ioapic_write(IOAPIC_REDTBL + 2 * gsi, IRQ_FIRST_VECTOR + slot);
}
