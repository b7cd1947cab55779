/* Main thread at set-up and tear-down; the irq callback runs on iothreads
 * and only writes an eventfd. */
#include "disks.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

static void disk_irq(void *opaque)
{
	struct disk *d = opaque;
	uint64_t one = 1;

	if (write(d->irq_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd far from its maximum */
	}
}

static void disk_notify(void *opaque, unsigned queue)
{
	struct disk *d = opaque;

	vblk_kick(&d->blk, queue);
}

static int wire_kvm(struct vm *vm, struct disk *d, uint64_t base, unsigned gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irq_fd, .gsi = gsi };

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return log_error("KVM_IRQFD for GSI %u: %s", gsi,
				 strerror(errno)), -errno;
	for (unsigned q = 0; q < d->blk.cfg.queues; q++) {
		struct kvm_ioeventfd ioe = {
			.datamatch = q,
			.addr = base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = d->blk.queues[q].kick_fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0)
			return log_error("KVM_IOEVENTFD: %s", strerror(errno)),
			       -errno;
	}
	return 0;
}

static int attach_one(struct vm *vm, const struct vblk_config *cfg,
		      unsigned i)
{
	uint64_t base = DISKS_MMIO_BASE + (uint64_t)i * VIRTIO_MMIO_WINDOW;
	struct disk *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	vm->disks.disk[vm->disks.n++] = d;
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return -errno;
	r = vblk_init(&d->blk, cfg, i, &vm->mem);
	if (r)
		return r;
	virtio_mmio_init(&d->mmio, &d->blk.vdev, disk_irq, disk_notify, d);
	r = iobus_attach(&vm->mmio, base, VIRTIO_MMIO_WINDOW, &virtio_mmio_ops,
			 &d->mmio);
	return r ? r : wire_kvm(vm, d, base, DISKS_FIRST_GSI + i);
}

int disks_attach(struct vm *vm, const struct vblk_config *cfgs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int r = attach_one(vm, &cfgs[i], i);
		if (r)
			return r;
	}
	return 0;
}

unsigned disks_acpi(const struct vm_disks *d, struct acpi_mmio_dev *out)
{
	for (unsigned i = 0; i < d->n; i++)
		out[i] = (struct acpi_mmio_dev){
			DISKS_MMIO_BASE + (uint64_t)i * VIRTIO_MMIO_WINDOW,
			VIRTIO_MMIO_WINDOW, DISKS_FIRST_GSI + i };
	return d->n;
}

void disks_destroy(struct vm_disks *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		if (d->disk[i]->blk.vdev.ops)
			vblk_destroy(&d->disk[i]->blk);
		if (d->disk[i]->irq_fd >= 0)
			close(d->disk[i]->irq_fd);
		free(d->disk[i]);
	}
	d->n = 0;
}
