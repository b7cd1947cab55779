/* The start-up floor of bench/boot: only what any VMM must do to run a
 * guest instruction and stop. Open /dev/kvm, create the VM and its
 * in-kernel irqchip, back RAM_MIB of guest RAM with anonymous memory
 * (vmm's default backend) mapped in one slot, create one vCPU, run three
 * real-mode instructions that write an I/O port, tear everything down.
 * vmm's exec-to-exit for a guest that exits at once is measured against
 * this program's, run alternately by bench/boot direct.
 *   kvm-floor [RAM_MIB [pit]]      (default 256, no PIT)
 * With "pit" it also creates KVM's in-kernel PIT as vmm (and Firecracker,
 * kvmtool, QEMU) does: KVM registers the PIT's tick-reinjection notifiers
 * with it, and unregistering them when the VM is destroyed waits for two
 * SRCU grace periods, the second often a slow one (several timer ticks).
 * bench/boot reports vmm against both floors.
 * Exits 0 when the vCPU stopped at the port write, 1 on any error.
 * Single-threaded: one process, one vCPU, no shared state. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CODE_GPA 0x1000
#define EXIT_PORT 0x502

static int fail(const char *what)
{
	fprintf(stderr, "kvm-floor: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	/* mov dx, 0x502; mov al, 0; out dx, al; hlt */
	static const unsigned char code[] = {
		0xba, EXIT_PORT & 0xff, EXIT_PORT >> 8, 0xb0, 0x00, 0xee, 0xf4
	};
	size_t ram = (size_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int with_pit = argc > 2 && !strcmp(argv[2], "pit");
	struct kvm_userspace_memory_region slot = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	struct kvm_run *run;
	int kvm, vm, vcpu, run_size;
	void *mem;

	if (ram == 0 || (argc > 2 && !with_pit) || argc > 3)
		return fprintf(stderr, "usage: kvm-floor [RAM_MIB [pit]]\n"), 1;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0 ||
	    ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("KVM_CREATE_IRQCHIP");
	if (with_pit && ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
		return fail("KVM_CREATE_PIT2");
	mem = mmap(NULL, ram, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	memcpy((char *)mem + CODE_GPA, code, sizeof(code));
	slot.memory_size = ram;
	slot.userspace_addr = (unsigned long)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size < 0)
		return fail("KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != EXIT_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT) {
		fprintf(stderr,
			"kvm-floor: the vCPU stopped with exit reason %u, "
			"not at its write to port 0x%x\n",
			run->exit_reason, EXIT_PORT);
		return 1;
	}
	munmap(run, (size_t)run_size);
	close(vcpu);
	munmap(mem, ram);
	close(vm);
	close(kvm);
	return 0;
}
