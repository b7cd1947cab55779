/* ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT (sleep
 * control/status and reset registers, see devices/sysports.h), a DSDT with
 * the \_S5 sleep type so the guest can power off, and a MADT listing every
 * vCPU's local APIC and the IOAPIC. */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_SIZE 0x10000
#define ACPI_MAX_MMIO_DEVS 8

/* A virtio-mmio device for the DSDT (_HID LNRO0005): Linux's virtio_mmio
 * driver binds to it and maps its GSI (edge, active high). */
struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

/* Writes the tables into buf (ACPI_MAX_SIZE bytes) as if placed at
 * guest-physical gpa, RSDP first, describing ncpus vCPUs and ndevs (at
 * most ACPI_MAX_MMIO_DEVS) virtio-mmio devices. Returns the bytes used.
 * Pure. */
size_t acpi_build(uint8_t *buf, uint64_t gpa, unsigned ncpus,
		  const struct acpi_mmio_dev *devs, unsigned ndevs);

#endif
