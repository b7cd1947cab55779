/* Main thread: creation before vCPUs start, destruction after they are
 * joined. vm_irq_line is called from device code on any thread (the ioctl
 * is thread-safe). */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/log.h"

/* What the generic VMM relies on; arch_kvm_init checks the rest. */
static int check_caps(int kvm_fd)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_IOEVENTFD_ANY_LENGTH,
		  "KVM_CAP_IOEVENTFD_ANY_LENGTH" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	};
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		log_error("/dev/kvm: API version %d, need %d", v,
			  KVM_API_VERSION);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			log_error("/dev/kvm: missing %s", need[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int check_cpus(int kvm_fd, unsigned cpus)
{
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && cpus > (unsigned)max) {
		log_error("--cpus: %u vCPUs requested, KVM allows %d", cpus,
			  max);
		return -EINVAL;
	}
	return 0;
}

static int open_kvm(struct vm *vm, const struct vm_config *cfg)
{
	int r;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = -errno;
		log_error("/dev/kvm: %s", strerror(errno));
		return r;
	}
	r = check_caps(vm->kvm_fd);
	if (!r)
		r = check_cpus(vm->kvm_fd, cfg->cpus);
	if (r)
		return r;
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	return arch_kvm_init(vm);
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	struct mem_region regions[MEM_MAX_REGIONS];
	int r;

	vm->kvm_fd = vm->vm_fd = -1;
	vm->mmio.name = "mmio";
	r = open_kvm(vm, cfg);
	if (r)
		return r;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		log_error("KVM_CREATE_VM: %s", strerror(errno));
		return r;
	}
	r = arch_vm_init(vm, &cfg->arch);
	if (!r)
		r = mem_create(&vm->mem, &cfg->mem, regions,
			       arch_mem_layout(cfg->mem.size, regions));
	/* Before any vCPU: the dirty ring is enabled on the VM first. */
	if (!r)
		r = mem_dirty_init(&vm->dirty, vm->vm_fd, &vm->mem, cfg->cpus,
				   cfg->dirty_tracking);
	return r;
}

void vm_destroy(struct vm *vm)
{
	mem_dirty_destroy(&vm->dirty);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	mem_destroy(&vm->mem);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->kvm_fd = vm->vm_fd = -1;
}

void vm_irq_line(struct vm *vm, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_error("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}
