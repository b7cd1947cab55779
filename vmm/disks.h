/* The --disk devices: virtio-blk on the VM's virtio transport (vdev.h),
 * vda first. */
#ifndef VMM_DISKS_H
#define VMM_DISKS_H

#include "devices/virtio/blk.h"
#include "vdev.h"

#define VM_MAX_DISKS VDEV_MAX

struct vm;

struct disk {
	struct vblk blk;
	struct vdev vdev;
};

/* Owned by the VM; set up on the main thread, torn down after the vCPUs
 * are joined. */
struct vm_disks {
	struct disk *disk[VM_MAX_DISKS];
	unsigned n;
};

/* Opens and attaches every configured disk. 0 or -errno (logged). */
int disks_attach(struct vm *vm, const struct vblk_config *cfgs, unsigned n);

/* Stops the iothreads and closes the images. */
void disks_destroy(struct vm_disks *d);

#endif
