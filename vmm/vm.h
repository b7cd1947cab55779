/* The per-VM struct: every piece of state a VM owns hangs off it, in
 * parts owned by their modules (memory, port/MMIO buses, platform
 * devices, vCPUs, lifecycle, pause, control socket). Nothing VM-related
 * is global. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "arch/arch.h"
#include "devices/iobus.h"
#include "devices/uart.h"
#include "lib/sandbox.h"
#include "memory/dirty.h"
#include "memory/memory.h"
#include "api_server.h"
#include "lifecycle.h"
#include "migrate.h"
#include "pause.h"
#include "vdev.h"
#include "vm_devices.h"

#define VM_MAX_CPUS 254

/* What to do with a bzImage (vmm/kernel_cache.h): boot the PVH ELF inside
 * it, unpacked once on the host, or the bzImage itself. */
enum vm_unpack {
	VM_UNPACK_DEFAULT, /* resolved by the CLI: TRY with -- CMD, else OFF */
	VM_UNPACK_OFF,
	VM_UNPACK_TRY, /* when it cannot, say why and boot the bzImage */
	VM_UNPACK_ON,  /* when it cannot, fail */
};

struct vm_config {
	const char *kernel;
	enum vm_unpack unpack_kernel;
	const char *initrd; /* NULL: none */
	/* An initrd in memory (--9p-root and the test rig build one), used
	 * instead of the file; the CLI's rig state owns it. */
	const uint8_t *initrd_data;
	size_t initrd_size;
	struct cli_rig *rig; /* --9p-root / test-rig state; cli_free */
	const char *cmdline;
	unsigned cpus;
	struct mem_config mem;
	enum mem_dirty_mode dirty_tracking; /* --dirty-tracking */
	struct arch_config arch;	    /* the board's options */
	bool boot_time; /* print the boot marker time on exit */
	bool stats;	/* print peak RSS and resident guest RAM on exit */
	bool expect_exit_code; /* an end without the exit port is a failure */
	struct vm_device_config devices[VM_MAX_DEVICES];
	unsigned nr_devices;
	enum vm_transport transport;
	enum sandbox_mode seccomp;
	const char *api_path; /* --api: the control socket, NULL: none */
	/* --restore FILE / --incoming URI: the guest's state comes from a
	 * snapshot or a migration stream instead of a kernel (NULL: none). */
	const char *restore;
	const char *incoming;
};

struct vcpu;

struct vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size; /* of each vCPU's kvm_run mapping */
	struct arch_vm arch;
	struct guest_mem mem;
	struct mem_dirty dirty; /* for migration: what was written */
	struct io_bus mmio;
	struct uart
		*console; /* takes console input; set by arch_board_attach */
	struct vm_vdevs vdevs;
	struct vm_devices devices;
	struct lifecycle life;
	struct vm_pause pause;
	struct api_server api;	  /* --api only */
	struct migrator migrator; /* --api only: snapshot and migrate jobs */
	struct vcpu *vcpus;
	unsigned nr_vcpus;
	struct sandbox_filter vcpu_sandbox, main_sandbox;
	const char *kernel_note; /* how the kernel was booted, for --stats */
};

/* Opens /dev/kvm, checks the capabilities the VMM relies on, creates the
 * VM with the architecture's in-kernel devices, and maps guest RAM (registered with
 * KVM later by the caller, once the boot data is written: first touches of
 * RAM that is already a KVM slot cost an MMU notification each), then
 * sets up dirty tracking in cfg->dirty_tracking's mode (memory/dirty.h).
 * Logs one line and returns -errno on failure; vm_destroy cleans up. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);

/* Raises or lowers an ISA interrupt line (GSI) of the in-kernel irqchip. */
void vm_irq_line(struct vm *vm, unsigned gsi, bool level);

#endif
