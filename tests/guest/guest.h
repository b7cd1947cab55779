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

/* console.c: 16550 on COM1, polled. */
void console_putc(char c);
void console_write(const char *s, size_t n);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* string.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
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
/* The value of key=value on the command line, copied into buf; NULL if
 * the key is absent. */
const char *arg(const char *key, char *buf, size_t size);
uint64_t arg_u64(const char *key, uint64_t dflt);

/* timing.c: TSC calibrated against the PIT. */
void timing_init(void);
uint64_t tsc_hz(void); /* 0 when calibration failed */
void delay_us(uint64_t us);

/* smp.c: INIT/SIPI to every other CPU; returns how many came up. */
unsigned smp_start(unsigned expected, void (*ap_main)(unsigned cpu));

/* exit.c */
void guest_exit(uint8_t status) __attribute__((noreturn));
void idt_init(void);

extern const char __image_end[];

#endif
