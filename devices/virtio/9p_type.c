/* Main thread only (see devices/device.h), but for quiesce, resume and
 * save: the thread saving the VM, vCPUs parked (9p_state.h). */
#include "9p_type.h"

#include <errno.h>
#include <stdlib.h>

#include "9p.h"
#include "9p_opts.h"
#include "9p_state.h"

static int v9p_type_parse(char *arg, void *cfg, const char **why)
{
	return v9p_parse_opt(arg, cfg, why);
}

static int v9p_type_create(const void *cfg, unsigned index,
			   const struct guest_mem *mem,
			   enum sandbox_mode seccomp, void **dev)
{
	struct v9p_config c = *(const struct v9p_config *)cfg;
	struct v9p *p = calloc(1, sizeof(*p));

	*dev = p;
	if (!p)
		return -ENOMEM;
	c.seccomp = seccomp;
	return v9p_init(p, &c, index, mem);
}

static void v9p_type_kick(void *opaque, unsigned queue)
{
	v9p_kick(opaque, queue);
}

static void v9p_type_bind(void *dev, struct virtio_binding *out)
{
	struct v9p *p = dev;

	out->vd = &p->vdev;
	out->kick = v9p_type_kick;
	out->opaque = p;
	out->kick_fds[0] = p->kick_fd;
}

static void v9p_type_destroy(void *dev)
{
	v9p_destroy(dev);
	free(dev);
}

static void v9p_type_stats(void *dev, FILE *out)
{
	struct v9p *p = dev;
	struct v9p_counts c;

	v9p_counts(p, &c);
	fprintf(out,
		"vmm: stats: 9p %s: %llu requests, %llu errors, at most %u "
		"in flight\n",
		p->cfg.tag, (unsigned long long)c.requests,
		(unsigned long long)c.errors, c.peak_inflight);
}

static int v9p_type_quiesce(void *dev)
{
	return v9p_quiesce(dev);
}

static void v9p_type_resume(void *dev)
{
	v9p_resume(dev);
}

static int v9p_type_save(void *dev, struct stream_writer *w, unsigned index)
{
	return v9p_save(dev, w, index);
}

static int v9p_type_restore(void *dev, const struct stream_section *s)
{
	return v9p_restore(dev, s);
}

const struct device_type v9p_device_type = {
	.name = "9p",
	.arg = V9P_OPT_HELP,
	.help = "share a host directory over virtio-9p (mount -t 9p -o "
		"trans=virtio NAME DIR in the guest); repeatable",
	.max = 8,
	.config_size = sizeof(struct v9p_config),
	.parse = v9p_type_parse,
	.create = v9p_type_create,
	.bind = v9p_type_bind,
	.destroy = v9p_type_destroy,
	.stats = v9p_type_stats,
	.quiesce = v9p_type_quiesce,
	.resume = v9p_type_resume,
	.save = v9p_type_save,
	.restore = v9p_type_restore,
};
