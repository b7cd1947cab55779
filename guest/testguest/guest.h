/* The test guest's little library: port and MMIO access, console, string
 * and formatting, PVH start info and arguments, timing, SMP bring-up,
 * exit. All of it runs at CPL3 (IOPL=3) except exception_report. */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void mmio_write16(uint64_t addr, uint16_t v)
{
	*(volatile uint16_t *)addr = v;
}

static inline uint16_t mmio_read16(uint64_t addr)
{
	return *(volatile uint16_t *)addr;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)addr = v;
}

static inline uint8_t mmio_read8(uint64_t addr)
{
	return *(volatile uint8_t *)addr;
}

/* console.c: 16550 on COM1, polled. */
void console_putc(char c);
void console_write(const char *s, size_t n);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* string.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
uint64_t parse_u64(const char *s, const char **end);

/* pvh.c: hvm_start_info from the PVH entry. */
struct memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};
void pvh_init(uint32_t start_info);
const char *pvh_cmdline(void);
unsigned pvh_memmap(const struct memmap_entry **entries);
uint64_t pvh_rsdp(void); /* the ACPI RSDP's address, 0 if not given */
/* The value of key=value on the command line, copied into buf; NULL if
 * the key is absent. */
const char *arg(const char *key, char *buf, size_t size);
uint64_t arg_u64(const char *key, uint64_t dflt);

/* timing.c: TSC calibrated against the PIT. */
void timing_init(void);
int pit_present(void); /* the i8254's channel 0 reads other than 0xff */
uint64_t tsc_hz(void); /* 0 when calibration failed */
uint64_t tsc_hz_error_ppm(void); /* the bound of its error */
void delay_us(uint64_t us);

/* smp.c: INIT/SIPI to every other CPU; returns how many came up. */
unsigned smp_start(unsigned expected, void (*ap_main)(unsigned cpu));
/* The CPUs the ACPI MADT lists as enabled (at most GUEST_MAX_CPUS), 0
 * when there is no MADT. */
unsigned smp_cpus(void);

/* exit.c */
void guest_exit(uint8_t status) __attribute__((noreturn));
void idt_init(void);
void idt_set_gate(unsigned vector, uint64_t handler);

/* irq.c: external interrupts counted per vector slot, at CPL0 by a
 * handler of a few instructions; CPL3 code waits on the counts. */
#define IRQ_FIRST_VECTOR 0x40
extern volatile uint32_t irq_counts[IRQ_SLOTS];
void irq_init(void); /* IDT gates, local APIC on, interrupts enabled */
void ioapic_route(unsigned gsi, unsigned slot); /* edge, to CPU 0 */

/* alloc.c: bump allocation of RAM above the image, never freed. */
void *page_alloc(uint64_t bytes); /* 4 KiB aligned, zeroed; NULL if none */
/* All the RAM not handed out yet, below the identity map's end, as up to
 * max page-aligned ranges in memmap order, not zeroed; it is the caller's
 * from then on (page_alloc returns NULL). Returns the number of ranges. */
unsigned page_alloc_rest(struct memmap_entry *out, unsigned max);

/* pci.c: bus 0 configuration space through 0xCF8/0xCFC or an ECAM
 * window (ecam 0: the ports). */
uint32_t pci_read(uint64_t ecam, unsigned dev, unsigned off);
void pci_write(uint64_t ecam, unsigned dev, unsigned off, uint32_t v);
/* The slot of the first function with these IDs, or -1. */
int pci_find(uint64_t ecam, uint16_t vendor, uint16_t device);
/* Offset of the first capability with id at or after from's next, 0 if
 * none (from 0: start of the list). */
unsigned pci_next_cap(uint64_t ecam, unsigned dev, unsigned from, uint8_t id);
/* A memory BAR's address (32- or 64-bit). */
uint64_t pci_bar(uint64_t ecam, unsigned dev, unsigned bar);

extern const char __image_end[];

#endif
