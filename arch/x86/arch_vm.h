/* x86's part of struct vm and the guest-physical windows generic code
 * places devices in (see arch/arch.h). */
#ifndef ARCH_X86_ARCH_VM_H
#define ARCH_X86_ARCH_VM_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "arch/x86/pit.h"
#include "arch/x86/rtc.h"
#include "arch/x86/sysports.h"
#include "devices/iobus.h"
#include "devices/uart.h"

#define ARCH_PCI_MMIO LAYOUT_PCI_MMIO
#define ARCH_PCI_MMIO_SIZE LAYOUT_PCI_MMIO_SIZE
#define ARCH_PCI_ECAM LAYOUT_PCI_ECAM
#define ARCH_VDEV_MMIO_BASE LAYOUT_VDEV_MMIO
#define ARCH_VDEV_MMIO_FIRST_IRQ 16 /* IOAPIC pins above the ISA ones */

/* The board's options (vmm run --pit; arch_options in arch/arch.h). */
struct arch_config {
	bool pit; /* the i8254 PIT (arch/x86/pit.h) */
};

/* Owned by the VM; written on the main thread before the vCPUs start. */
struct arch_vm {
	struct io_bus pio;	  /* port I/O space */
	struct kvm_cpuid2 *cpuid; /* supported CPUID, patched per vCPU */
	struct uart com1;
	struct rtc rtc;
	struct sysports sysports; /* exit, reset and power ports */
	int console_out;	  /* fd guest serial output goes to */
	struct boot_entry entry;  /* the boot vCPU's, from the loader */
	unsigned restored_parts;  /* bit per STREAM_SEC_ARCH_VM part restored */
	bool pit;		  /* the board has the PIT (--pit) */
	bool pit_made;		  /* i8254 and pit_timer_fd are set up */
	struct pit i8254;
	int pit_timer_fd; /* channel 0's timer (a timerfd) */
};

#endif
