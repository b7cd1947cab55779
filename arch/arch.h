/* The interface between the generic VMM (vmm/) and one architecture
 * (arch/x86/ today; arch/arm64/ is planned as a sibling folder). The
 * Makefile builds exactly one arch/$(ARCH)/ and puts it on the include
 * path, so "arch_vm.h" below is that architecture's header: it defines
 * struct arch_vm (the architecture's part of struct vm) and the
 * guest-physical windows generic code places devices in:
 *   ARCH_PCI_MMIO, ARCH_PCI_MMIO_SIZE  where PCI BARs are assigned
 *   ARCH_PCI_ECAM                      PCI bus 0 configuration space
 *   ARCH_VDEV_MMIO_BASE                virtio-mmio windows, one per device
 *   ARCH_VDEV_MMIO_FIRST_IRQ           their interrupt lines (GSIs)
 *
 * Every function runs on the main thread, before the vCPU threads start
 * or after they are joined, except arch_handle_exit (the vCPU's own
 * thread). Each returns 0 or -errno after logging one line. */
#ifndef ARCH_ARCH_H
#define ARCH_ARCH_H

#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch_vm.h"
#include "memory/memory.h"

struct vm;
struct vm_config;
struct vcpu;
struct pci_bus;
struct irq_routes;

/* Splits `ram` bytes of guest RAM into guest-physical regions around the
 * architecture's holes. Pure; returns the number of regions. */
unsigned arch_mem_layout(uint64_t ram,
			 struct mem_region regions[MEM_MAX_REGIONS]);

/* Checks the KVM capabilities this architecture needs (kvm_fd is
 * /dev/kvm) and reads what it needs from the host (supported CPUID). */
int arch_kvm_init(struct vm *vm);

/* The board's own options of vmm run (--NAME ARG), a table ending with a
 * NULL name; parse returns 0 or -EINVAL after one log line. They fill
 * struct arch_config (arch_vm.h), which struct vm_config carries. */
struct arch_option {
	const char *name;
	const char *arg;
	const char *help;
	int (*parse)(struct arch_config *c, const char *arg);
};
extern const struct arch_option arch_options[];
void arch_config_defaults(struct arch_config *c);

/* After KVM_CREATE_VM, before RAM and devices: interrupt controller,
 * timers and whatever else the board (as configured) needs inside KVM. */
int arch_vm_init(struct vm *vm, const struct arch_config *c);

/* The fixed board devices (console UART, RTC, PIT, power and reset) on the
 * VM's buses. Guest serial output goes to console_out; vm->console is
 * set to the UART that takes console input. */
int arch_board_attach(struct vm *vm, int console_out);

/* Adds the interrupt routes KVM starts the VM with (its irqchip's pins)
 * to r, which replaces KVM's table as a whole; returns the first GSI free
 * for MSI routes. */
unsigned arch_irq_routes_init(struct irq_routes *r);

/* Extra access paths to PCI bus 0 besides ECAM (x86: ports 0xCF8). */
int arch_pci_attach(struct vm *vm, struct pci_bus *bus);

/* Once every device is attached: the firmware tables (ACPI, MP table;
 * a device tree on arm64) that describe vCPUs, devices and interrupts. */
int arch_write_tables(struct vm *vm);

/* Loads the kernel, initrd and command line into guest RAM and prepares
 * the boot vCPU's entry state (kept in vm->arch). Every failure is the
 * user's input: the caller exits with a usage status. */
int arch_load_kernel(struct vm *vm, const struct vm_config *cfg);

/* Sets a new vCPU's identity, features and registers; the boot vCPU
 * (id 0) gets the entry state arch_load_kernel prepared. */
int arch_vcpu_init(struct vcpu *v);

/* An exit the generic loop does not handle (x86: port I/O, triple
 * fault). Returns 1 to keep running, 0 when the loop must end (having
 * told the lifecycle why), -ENOENT for an exit it does not know. */
int arch_handle_exit(struct vcpu *v);

/* The vCPU thread's system calls in this architecture's exit handlers
 * (for the vCPU sandbox role, vmm/vcpu.c). */
int arch_vcpu_rules(scmp_filter_ctx ctx);

/* Saving and restoring a VM (snapshot, live migration; lib/stream.h).
 * Save runs with every vCPU parked (vmm/pause.h) on the thread writing
 * the stream; restore on the main thread after arch_vcpu_init, before any
 * vCPU runs. The stream's order is the save order: every vCPU's section
 * (STREAM_SEC_VCPU, instance = vCPU id), then the VM's parts
 * (STREAM_SEC_ARCH_VM: in-kernel interrupt controllers, timers, board
 * devices, the clock last), and the restore functions are called in that
 * order. A section that does not fit (length, version, values) is
 * refused with -EPROTO after one log line; the VM must then not run. */
struct stream_writer;
struct stream_section;
int arch_vcpu_save(struct vcpu *v, struct stream_writer *w);
int arch_vcpu_restore(struct vcpu *v, const struct stream_section *s);
int arch_vm_save(struct vm *vm, struct stream_writer *w);
int arch_vm_restore(struct vm *vm, const struct stream_section *s);
/* After the last section: what needs every part in place (0 or -errno). */
int arch_restore_done(struct vm *vm);
/* The vCPU-state ioctls a saving thread's sandbox role needs. */
int arch_save_rules(scmp_filter_ctx ctx);

/* Undoes arch_board_attach and arch_kvm_init; main thread, once no vCPU
 * runs again. */
void arch_vm_destroy(struct vm *vm);

/* A board timer the main thread's poll loop serves while the guest runs
 * (x86: the PIT's channel 0): its fd, or -1 when the board has none;
 * arch_event_ready when it is readable. The loop's sandbox role already
 * allows what that does: read, and KVM_IRQ_LINE. */
int arch_event_fd(const struct vm *vm);
void arch_event_ready(struct vm *vm);

#endif
