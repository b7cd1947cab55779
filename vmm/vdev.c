/* Main thread at set-up and teardown; the hooks below say where they run. */
#include "vdev.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "vm.h"

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd far from its maximum */
	}
}

static int bind_irqfd(struct vm *vm, int *fd, unsigned gsi)
{
	struct kvm_irqfd irqfd = { .gsi = gsi };

	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0)
		return -errno;
	irqfd.fd = (uint32_t)*fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return log_error("KVM_IRQFD for GSI %u: %s", gsi,
				 strerror(errno)),
		       -errno;
	return 0;
}

static int ioeventfd(struct vdev *v, uint64_t addr, unsigned q, bool assign)
{
	bool pci = v->transport == VM_TRANSPORT_PCI;
	struct kvm_ioeventfd ioe = {
		.datamatch = pci ? 0 : q,
		.addr = addr + (pci ? VPCI_NOTIFY_MULTIPLIER * q : 0),
		.len = pci ? 0 : 4,
		.fd = v->desc.kick_fds[q],
		.flags = (pci ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0 ? -errno : 0;
}

static void unbind_ioeventfds(struct vdev *v, uint64_t addr, unsigned n)
{
	for (unsigned q = 0; q < n; q++)
		ioeventfd(v, addr, q, false);
}

/* One ioeventfd per queue at addr + stride * q. PCI notifications match
 * any write length (KVM's fast MMIO path); virtio-mmio shares one
 * register, so there the queue index is the datamatch. All or none: a
 * failure (the guest moved this BAR onto another device's, EEXIST)
 * unbinds those already bound, so no queue is left half-wired; the
 * notifications then reach the VMM through the BAR's MMIO handler. */
static int bind_ioeventfds(struct vdev *v, uint64_t addr)
{
	for (unsigned q = 0; q < v->desc.vd->num_queues; q++) {
		int r = ioeventfd(v, addr, q, true);
		if (r) {
			unbind_ioeventfds(v, addr, q);
			log_guest(&v->log, "KVM_IOEVENTFD at %#llx: %s",
				  (unsigned long long)addr, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Device threads: an interrupt on the device's one line. */
static void mmio_irq(void *opaque)
{
	struct vdev *v = opaque;

	signal_fd(v->mmio_irq_fd);
}

static void notify_missed(void *opaque, unsigned queue)
{
	struct vdev *v = opaque;

	v->desc.kick(v->desc.opaque, queue);
}

static int attach_mmio(struct vm *vm, struct vdev *v)
{
	struct vm_vdevs *vs = &vm->vdevs;
	uint64_t base =
		ARCH_VDEV_MMIO_BASE + (uint64_t)vs->nr * VIRTIO_MMIO_WINDOW;
	unsigned gsi = ARCH_VDEV_MMIO_FIRST_IRQ + vs->nr;
	int r;

	virtio_mmio_init(&v->mmio, v->desc.vd, mmio_irq, notify_missed, v);
	r = iobus_attach(&vm->mmio, base, VIRTIO_MMIO_WINDOW, &virtio_mmio_ops,
			 &v->mmio);
	if (!r)
		r = bind_irqfd(vm, &v->mmio_irq_fd, gsi);
	if (!r)
		r = bind_ioeventfds(v, base + VIRTIO_MMIO_QUEUE_NOTIFY);
	if (!r)
		vs->mmio[vs->nr_mmio++] =
			(struct vdev_mmio_window){ base, VIRTIO_MMIO_WINDOW,
						   gsi };
	return r;
}

/* vCPU threads, from MSI-X table writes. */
static int pci_route(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
	struct vdev *v = opaque;

	return irq_routes_set_msi(&v->vm->vdevs.routes, v->vec_gsi[vec], addr,
				  data);
}

/* Device threads. */
static void pci_fire(void *opaque, unsigned vec)
{
	struct vdev *v = opaque;

	signal_fd(v->vec_fd[vec]);
}

/* vCPU threads, under the PCI bus lock: the guest moved or unmapped BAR
 * 0, so the notification ioeventfds follow it. */
static void pci_bar_moved(void *opaque, uint64_t gpa, bool mapped)
{
	struct vdev *v = opaque;

	if (v->notify_gpa)
		unbind_ioeventfds(v, v->notify_gpa, v->desc.vd->num_queues);
	v->notify_gpa = 0;
	if (mapped && !bind_ioeventfds(v, gpa + VPCI_NOTIFY_OFF))
		v->notify_gpa = gpa + VPCI_NOTIFY_OFF;
}

static const struct virtio_pci_hooks pci_hooks = {
	.irq = { .route = pci_route, .fire = pci_fire },
	.notify = notify_missed,
	.bar_moved = pci_bar_moved,
};

static int attach_pci(struct vm *vm, struct vdev *v)
{
	unsigned nvec = v->desc.vd->num_queues + 1;
	int r = virtio_pci_init(&v->pci, v->desc.vd, &pci_hooks, v);

	for (unsigned i = 0; !r && i < nvec; i++) {
		int gsi = irq_routes_alloc_gsi(&vm->vdevs.routes);
		if (gsi < 0)
			return gsi;
		v->vec_gsi[i] = (unsigned)gsi;
		r = bind_irqfd(vm, &v->vec_fd[i], (unsigned)gsi);
	}
	if (r)
		return r;
	return pci_bus_attach(&vm->vdevs.pci, &v->pci.pci) < 0 ? -ENOSPC : 0;
}

int vdev_attach(struct vm *vm, struct vdev *v,
		const struct virtio_binding *desc)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->desc = *desc;
	v->transport = vm->vdevs.transport;
	v->mmio_irq_fd = -1;
	for (unsigned i = 0; i < VPCI_MAX_VECTORS; i++)
		v->vec_fd[i] = -1;
	if (vm->vdevs.nr == VDEV_MAX) {
		log_error("at most %u virtio devices", VDEV_MAX);
		return -ENOSPC;
	}
	r = v->transport == VM_TRANSPORT_PCI ? attach_pci(vm, v)
					     : attach_mmio(vm, v);
	if (!r)
		vm->vdevs.nr++;
	return r;
}

void vdev_detach(struct vdev *v)
{
	if (v->mmio_irq_fd >= 0)
		close(v->mmio_irq_fd);
	for (unsigned i = 0; i < VPCI_MAX_VECTORS; i++)
		if (v->vec_fd[i] >= 0)
			close(v->vec_fd[i]);
	if (v->transport == VM_TRANSPORT_PCI && v->pci.vd)
		virtio_pci_destroy(&v->pci);
}

int vdevs_init(struct vm *vm, enum vm_transport transport)
{
	struct vm_vdevs *vs = &vm->vdevs;
	int r;

	vs->transport = transport;
	irq_routes_init(&vs->routes, vm->vm_fd);
	if (transport != VM_TRANSPORT_PCI)
		return 0;
	pci_bus_init(&vs->pci, ARCH_PCI_MMIO, ARCH_PCI_MMIO_SIZE);
	r = arch_pci_attach(vm, &vs->pci);
	if (!r)
		r = iobus_attach(&vm->mmio, ARCH_PCI_ECAM, PCI_ECAM_BUS_SIZE,
				 &pci_ecam_ops, &vs->pci);
	if (!r)
		r = iobus_attach(&vm->mmio, ARCH_PCI_MMIO, ARCH_PCI_MMIO_SIZE,
				 &pci_mmio_ops, &vs->pci);
	return r;
}

void vdevs_destroy(struct vm_vdevs *vs)
{
	if (vs->transport == VM_TRANSPORT_PCI)
		pci_bus_destroy(&vs->pci);
	irq_routes_destroy(&vs->routes);
}
