/* Main thread at set-up and tear-down. */
#include "disks.h"

#include <errno.h>
#include <stdlib.h>

#include "vm.h"

static void disk_kick(void *opaque, unsigned queue)
{
	vblk_kick(opaque, queue);
}

static int attach_one(struct vm *vm, const struct vblk_config *cfg,
		      unsigned i)
{
	struct disk *d = calloc(1, sizeof(*d));
	struct vdev_desc desc = { .kick = disk_kick };
	int r;

	if (!d)
		return -ENOMEM;
	vm->disks.disk[vm->disks.n++] = d;
	r = vblk_init(&d->blk, cfg, i, &vm->mem);
	if (r)
		return r;
	desc.vd = &d->blk.vdev;
	desc.opaque = &d->blk;
	for (unsigned q = 0; q < cfg->queues; q++)
		desc.kick_fds[q] = d->blk.queues[q].kick_fd;
	return vdev_attach(vm, &d->vdev, &desc);
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

void disks_destroy(struct vm_disks *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		if (d->disk[i]->blk.vdev.ops)
			vblk_destroy(&d->disk[i]->blk);
		vdev_detach(&d->disk[i]->vdev);
		free(d->disk[i]);
	}
	d->n = 0;
}
