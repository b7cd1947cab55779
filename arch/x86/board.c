/* The fixed PC platform around the vCPUs: COM1, the RTC, the i8042 reset
 * line, ACPI power ports and the exit/boot-marker ports, plus the firmware
 * tables (ACPI, MP table) that describe vCPUs and interrupt routing.
 *
 * Main thread at start-up and teardown (which also quiets KVM's PIT
 * before the VM fd is closed). The serial callbacks run on vCPU
 * threads under the UART's lock. */
#include "arch/arch.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "acpi.h"
#include "devices/pci/pci.h"
#include "layout.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "mptable.h"
#include "sysports.h"
#include "vmm/vm.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4

/* Guest output is written synchronously, in order, under the UART lock, so
 * nothing is dropped or reordered; a full pipe blocks the sending vCPU
 * (a non-blocking one is waited for in poll, not spun on). Once a stop is
 * requested, output not yet written is dropped: the stop's kick (repeated
 * by vcpu_join) interrupts a blocked write, so a console nobody reads
 * cannot hold the VM's end up. */
static void com1_tx(void *opaque, uint8_t byte)
{
	struct vm *vm = opaque;
	struct pollfd out = { vm->arch.console_out, POLLOUT, 0 };

	while (!lifecycle_stopping(&vm->life)) {
		ssize_t n = write(vm->arch.console_out, &byte, 1);
		if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return;
		if (n < 0 && errno == EAGAIN)
			poll(&out, 1, 100);
	}
}

static void com1_irq(void *opaque, bool level)
{
	vm_irq_line(opaque, COM1_IRQ, level);
}

int arch_board_attach(struct vm *vm, int console_out)
{
	struct arch_vm *b = &vm->arch;
	struct uart_backend com1 = { com1_tx, com1_irq, vm };
	const struct {
		uint64_t port, len;
		const struct io_ops *ops;
		void *opaque;
	} devices[] = {
		{ COM1_PORT, 8, &uart_io_ops, &b->com1 },
		{ RTC_PORT, RTC_PORT_LEN, &rtc_io_ops, &b->rtc },
		{ I8042_DATA_PORT, 5, &i8042_ops, &b->sysports },
		{ ACPI_SLEEP_CONTROL_PORT, ACPI_PORTS_LEN, &acpi_ports_ops,
		  &b->sysports },
		{ EXIT_PORT, EXIT_PORT_LEN, &exit_port_ops, &b->sysports },
	};

	b->console_out = console_out;
	b->sysports = (struct sysports){ x86_sysport_stop, &vm->life };
	vm->console = &b->com1;
	uart_init(&b->com1, &com1);
	rtc_init(&b->rtc);
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		int r = iobus_attach(&vm->arch.pio, devices[i].port,
				     devices[i].len, devices[i].ops,
				     devices[i].opaque);
		if (r)
			return r;
	}
	return 0;
}

/* There is no BIOS. A guest that jumps to the reset vector wants a reset:
 * Linux does on an ACPI hardware-reduced platform, where its default
 * reboot method becomes EFI and then BIOS (a real-mode jump to F000:FFF0).
 * So the vector holds: mov al, 0xfe; out 0x64, al; hlt; jmp $-1. */
static int write_reset_vector_code(struct vm *vm)
{
	static const uint8_t code[] = {
		0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd
	};

	return mem_write(&vm->mem, LAYOUT_RESET_VECTOR, code, sizeof(code));
}

int arch_pci_attach(struct vm *vm, struct pci_bus *bus)
{
	return iobus_attach(&vm->arch.pio, PCI_CONFIG_PORT, 8,
			    &pci_config_port_ops, bus);
}

_Static_assert(ACPI_MAX_MMIO_DEVS >= VDEV_MAX,
	       "the DSDT must describe every virtio-mmio device");

static void mmio_devices(const struct vm *vm, struct acpi_mmio_dev *out)
{
	for (unsigned i = 0; i < vm->vdevs.nr_mmio; i++)
		out[i] = (struct acpi_mmio_dev){ vm->vdevs.mmio[i].base,
						 vm->vdevs.mmio[i].size,
						 vm->vdevs.mmio[i].irq };
}

int arch_write_tables(struct vm *vm)
{
	size_t mp_len = mptable_size(vm->nr_vcpus), acpi_len;
	bool pci = vm->vdevs.transport == VM_TRANSPORT_PCI;
	struct acpi_mmio_dev mmio[ACPI_MAX_MMIO_DEVS];
	const struct acpi_platform platform = {
		.ncpus = vm->nr_vcpus,
		.mmio_devs = mmio,
		.nr_mmio_devs = vm->vdevs.nr_mmio,
		.pci = pci,
		.pci_ecam = LAYOUT_PCI_ECAM,
		.pci_ecam_size = PCI_ECAM_BUS_SIZE,
		.pci_mmio = (uint32_t)LAYOUT_PCI_MMIO,
		.pci_mmio_size = LAYOUT_PCI_MMIO_SIZE,
	};
	uint8_t *buf = malloc(ACPI_MAX_SIZE);
	int r;

	if (!buf)
		return -ENOMEM;
	mmio_devices(vm, mmio);
	acpi_len = acpi_build(buf, LAYOUT_ACPI, &platform);
	r = mem_write(&vm->mem, LAYOUT_ACPI, buf, acpi_len);
	if (!r && mp_len <= ACPI_MAX_SIZE) {
		mptable_build(buf, LAYOUT_MPTABLE, vm->nr_vcpus);
		r = mem_write(&vm->mem, LAYOUT_MPTABLE, buf, mp_len);
	}
	free(buf);
	if (!r)
		r = write_reset_vector_code(vm);
	if (r)
		log_error("writing the firmware tables: %s", strerror(-r));
	return r;
}

/* Turning KVM's PIT tick reinjection off unregisters the PIT's
 * notifiers from the VM's interrupt SRCU, each waiting for a grace
 * period; the VM's destruction does it when reinjection is still on.
 * SRCU expedites a synchronous grace period only when it looks idle,
 * and at the close of the VM fd these waits were often normal grace
 * periods of several ticks: that close took 0.7 to 20 ms with the PIT
 * against 0.4 to 0.7 ms without on this project's KVM-PVM host, and in
 * the lab a minimal VM's close took 47 ms against 24 ms without the PIT,
 * but 22 ms when reinjection was turned off just before it (the ioctl
 * itself 0.6 ms; medians). So it is done here, once no vCPU runs: the
 * guest sees no change. A failure only costs that time again: said, and
 * teardown goes on. */
static void pit_unhook_reinjection(struct vm *vm)
{
	struct kvm_reinject_control off = { .pit_reinject = 0 };

	/* arch.pit is set only once KVM made the PIT, on an open VM fd. */
	if (vm->arch.pit && ioctl(vm->vm_fd, KVM_REINJECT_CONTROL, &off) < 0)
		log_error("teardown: turning the PIT's reinjection off: %s",
			  strerror(errno));
}

int arch_main_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = { KVM_REINJECT_CONTROL };

	return sandbox_allow_ioctls(ctx, ioctls, 1);
}

void arch_vm_destroy(struct vm *vm)
{
	pit_unhook_reinjection(vm);
	uart_destroy(&vm->arch.com1);
	pthread_mutex_destroy(&vm->arch.rtc.lock);
	free(vm->arch.cpuid);
	vm->arch.cpuid = NULL;
}
