/* The --disk devices: virtio-blk over virtio-mmio, one 4 KiB window each
 * at DISKS_MMIO_BASE + i * 4 KiB in the 32-bit hole, GSI 16 + i, described
 * to the guest in the DSDT. Queue notifications reach each queue's
 * iothread through an ioeventfd and interrupts go in through an irqfd, so
 * neither passes through a vCPU thread or the main loop. */
#ifndef VMM_DISKS_H
#define VMM_DISKS_H

#include "../devices/virtio/blk.h"
#include "../devices/virtio/mmio.h"
#include "acpi.h"

#define VM_MAX_DISKS ACPI_MAX_MMIO_DEVS
#define DISKS_MMIO_BASE 0xd0000000ULL
#define DISKS_FIRST_GSI 16

struct vm;

struct disk {
	struct vblk blk;
	struct virtio_mmio mmio;
	int irq_fd;
};

/* Owned by the VM; set up on the main thread, torn down after the vCPUs
 * are joined. */
struct vm_disks {
	struct disk *disk[VM_MAX_DISKS];
	unsigned n;
};

/* Opens and attaches every configured disk. 0 or -errno (logged). */
int disks_attach(struct vm *vm, const struct vblk_config *cfgs, unsigned n);

/* Fills the DSDT entries of the attached disks; returns how many. */
unsigned disks_acpi(const struct vm_disks *d, struct acpi_mmio_dev *out);

/* Stops the iothreads and closes the images. */
void disks_destroy(struct vm_disks *d);

#endif
