/* Main thread only (see devices/device.h; activate: a migration's
 * destination taking the disk over after the END of the stream), but
 * for quiesce, resume and save: the thread saving the VM, vCPUs
 * parked. */
#include "blk_type.h"

#include <errno.h>
#include <stdlib.h>

#include "blk.h"
#include "blk_opts.h"
#include "blk_state.h"

static int blk_type_parse(char *arg, void *cfg, const char **why)
{
	return vblk_parse_opt(arg, cfg, why);
}

static int blk_type_create(const void *cfg, unsigned index,
			   const struct guest_mem *mem,
			   enum sandbox_mode seccomp, void **dev)
{
	struct vblk_config c = *(const struct vblk_config *)cfg;
	struct vblk *b = calloc(1, sizeof(*b));

	*dev = b;
	if (!b)
		return -ENOMEM;
	c.seccomp = seccomp;
	return vblk_init(b, &c, index, mem);
}

static void blk_type_kick(void *opaque, unsigned queue)
{
	vblk_kick(opaque, queue);
}

static void blk_type_bind(void *dev, struct virtio_binding *out)
{
	struct vblk *b = dev;

	out->vd = &b->vdev;
	out->kick = blk_type_kick;
	out->opaque = b;
	for (unsigned q = 0; q < b->cfg.queues; q++)
		out->kick_fds[q] = b->queues[q].kick_fd;
}

static void blk_type_destroy(void *dev)
{
	struct vblk *b = dev;

	/* vblk_init leaves ops unset when it failed before the device core
	 * was initialised; it has then released what it opened. */
	if (b->vdev.ops)
		vblk_destroy(b);
	free(b);
}

static void blk_type_stats(void *dev, FILE *out)
{
	struct vblk *b = dev;

	fprintf(out,
		"vmm: stats: vd%c: %llu I/O errors, %llu requests "
		"merged\n",
		'a' + b->index,
		(unsigned long long)__atomic_load_n(&b->node.errors,
						    __ATOMIC_RELAXED),
		(unsigned long long)vblk_merged(b));
	/* How the queue's thread found its work: rounds found while polling
	 * (no VM exit, no wake-up) against sleeps in poll(2). */
	for (unsigned i = 0; i < b->cfg.queues; i++)
		fprintf(out,
			"vmm: stats: vd%c-q%u: %llu rounds found by polling, "
			"%llu sleeps\n",
			'a' + b->index, i,
			(unsigned long long)__atomic_load_n(
				&b->queues[i].worker.poll_hits,
				__ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(
				&b->queues[i].worker.sleeps, __ATOMIC_RELAXED));
}

static int blk_type_quiesce(void *dev)
{
	return vblk_quiesce(dev);
}

static void blk_type_resume(void *dev)
{
	vblk_resume(dev);
}

static int blk_type_save(void *dev, struct stream_writer *w, unsigned index)
{
	return vblk_save(dev, w, index);
}

static int blk_type_restore(void *dev, const struct stream_section *s)
{
	return vblk_restore(dev, s);
}

static void blk_type_mark_incoming(void *cfg)
{
	((struct vblk_config *)cfg)->incoming = true;
}

static int blk_type_activate(void *dev)
{
	return vblk_take_over(dev);
}

const struct device_type vblk_device_type = {
	.name = "disk",
	.arg = VBLK_OPT_HELP,
	.help = "a virtio-blk disk (vda, vdb, ...) from a raw file or block "
		"device; repeatable",
	.max = 8,
	.config_size = sizeof(struct vblk_config),
	.parse = blk_type_parse,
	.create = blk_type_create,
	.bind = blk_type_bind,
	.destroy = blk_type_destroy,
	.stats = blk_type_stats,
	.quiesce = blk_type_quiesce,
	.resume = blk_type_resume,
	.save = blk_type_save,
	.restore = blk_type_restore,
	.mark_incoming = blk_type_mark_incoming,
	.activate = blk_type_activate,
};
