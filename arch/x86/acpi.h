/* ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT (sleep
 * control/status and reset registers, see devices/sysports.h), a DSDT with
 * the \_S5 sleep type so the guest can power off and the devices Linux
 * must find there (COM1, RTC, virtio-mmio, the PCI host bridge), a MADT
 * listing every vCPU's local APIC and the IOAPIC, and with PCI an MCFG. */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stdbool.h>
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

/* What the tables describe. */
struct acpi_platform {
	unsigned ncpus;
	const struct acpi_mmio_dev *mmio_devs; /* at most ACPI_MAX_MMIO_DEVS */
	unsigned nr_mmio_devs;
	/* A PCI host bridge for bus 0 (PNP0A08 with an MCFG table), with its
	 * ECAM window and the window its BARs live in. */
	bool pci;
	uint64_t pci_ecam;
	uint32_t pci_ecam_size;
	uint32_t pci_mmio;
	uint32_t pci_mmio_size;
};

/* Writes the tables into buf (ACPI_MAX_SIZE bytes) as if placed at
 * guest-physical gpa, RSDP first. Returns the bytes used. Pure. */
size_t acpi_build(uint8_t *buf, uint64_t gpa, const struct acpi_platform *p);

#endif
