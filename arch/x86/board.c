/* The fixed PC platform around the vCPUs: COM1, the RTC, the i8254 PIT,
 * the i8042 reset line, ACPI power ports and the exit/boot-marker ports,
 * plus the firmware tables (ACPI, MP table) that describe vCPUs and
 * interrupt routing.
 *
 * Main thread at start-up and teardown, and in its poll loop for the
 * PIT's timer (arch_event_ready). The serial callbacks run on vCPU
 * threads under the UART's lock; the PIT's backend runs under the PIT's
 * lock, its arm on vCPU threads too. */
#include "arch/arch.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
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

#define PIT_IRQ 0

static uint64_t pit_now(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct timespec timespec_of(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000ULL),
				  (long)(ns % 1000000000ULL) };
}

/* timerfd_settime cannot fail on this fd with these values; if it did,
 * the guest's timer would not tick, so each failure is logged. */
static void pit_arm(void *opaque, uint64_t first_ns, uint64_t period_ns)
{
	struct vm *vm = opaque;
	struct itimerspec its = { timespec_of(period_ns),
				  timespec_of(first_ns) };

	if (timerfd_settime(vm->arch.pit_timer_fd, 0, &its, NULL) < 0)
		log_error("PIT timer: %s", strerror(errno));
}

static uint64_t pit_expirations(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t n;

	return read(vm->arch.pit_timer_fd, &n, sizeof(n)) == sizeof(n) ? n : 0;
}

static void pit_irq0(void *opaque)
{
	vm_irq_line(opaque, PIT_IRQ, true);
	vm_irq_line(opaque, PIT_IRQ, false);
}

static int pit_attach(struct vm *vm)
{
	const struct pit_backend be = { pit_now, pit_arm, pit_expirations,
					pit_irq0, vm };
	struct arch_vm *b = &vm->arch;
	int r;

	if (!b->pit)
		return iobus_attach(&b->pio, PIT_SPEAKER_PORT, 1,
				    &zero_port_ops, NULL);
	b->pit_timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->pit_timer_fd < 0)
		return log_error("PIT timer: %s", strerror(errno)), -errno;
	pit_init(&b->i8254, &be);
	b->pit_made = true;
	r = iobus_attach(&b->pio, PIT_PORT, PIT_PORT_LEN, &pit_io_ops,
			 &b->i8254);
	return r ? r
		 : iobus_attach(&b->pio, PIT_SPEAKER_PORT, 1, &pit_speaker_ops,
				&b->i8254);
}

int arch_event_fd(const struct vm *vm)
{
	return vm->arch.pit_made ? vm->arch.pit_timer_fd : -1;
}

void arch_event_ready(struct vm *vm)
{
	if (vm->arch.pit_made)
		pit_timer_expired(&vm->arch.i8254);
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
		{ I8042_DATA_PORT, 1, &zero_port_ops, NULL },
		{ I8042_CMD_PORT, 1, &i8042_cmd_ops, &b->sysports },
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
	return pit_attach(vm);
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

void arch_vm_destroy(struct vm *vm)
{
	if (vm->arch.pit_made) {
		pit_destroy(&vm->arch.i8254);
		close(vm->arch.pit_timer_fd);
		vm->arch.pit_made = false;
	}
	uart_destroy(&vm->arch.com1);
	pthread_mutex_destroy(&vm->arch.rtc.lock);
	free(vm->arch.cpuid);
	vm->arch.cpuid = NULL;
}
