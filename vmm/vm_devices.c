/* Main thread at set-up, after the run (stats) and at tear-down. */
#include "vm_devices.h"

#include <errno.h>
#include <stdlib.h>

#include "vm.h"

static unsigned index_of_type(const struct vm_device_config *cfgs, unsigned i)
{
	unsigned n = 0;

	for (unsigned j = 0; j < i; j++)
		n += cfgs[j].type == cfgs[i].type;
	return n;
}

static int attach_one(struct vm *vm, const struct vm_device_config *cfgs,
		      unsigned i, enum sandbox_mode seccomp, bool incoming)
{
	struct vm_device *d = calloc(1, sizeof(*d));
	struct virtio_binding binding = { 0 };
	int r;

	if (!d)
		return -ENOMEM;
	d->type = cfgs[i].type;
	vm->devices.dev[vm->devices.n++] = d;
	if (incoming && d->type->mark_incoming)
		d->type->mark_incoming(cfgs[i].cfg);
	r = d->type->create(cfgs[i].cfg, index_of_type(cfgs, i), &vm->mem,
			    seccomp, &d->dev);
	if (r)
		return r;
	d->type->bind(d->dev, &binding);
	d->on_transport = true;
	return vdev_attach(vm, &d->vdev, &binding);
}

int vm_devices_attach(struct vm *vm, const struct vm_device_config *cfgs,
		      unsigned n, enum sandbox_mode seccomp, bool incoming)
{
	for (unsigned i = 0; i < n; i++) {
		int r = attach_one(vm, cfgs, i, seccomp, incoming);
		if (r)
			return r;
	}
	return 0;
}

int vm_devices_activate(struct vm_devices *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		struct vm_device *v = d->dev[i];
		int r = v->type->activate ? v->type->activate(v->dev) : 0;
		if (r)
			return r;
	}
	return 0;
}

void vm_devices_stats(const struct vm_devices *d, FILE *out)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->dev[i]->dev && d->dev[i]->type->stats)
			d->dev[i]->type->stats(d->dev[i]->dev, out);
}

void vm_devices_destroy(struct vm_devices *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		if (d->dev[i]->dev)
			d->dev[i]->type->destroy(d->dev[i]->dev);
		if (d->dev[i]->on_transport)
			vdev_detach(&d->dev[i]->vdev);
		free(d->dev[i]);
	}
	d->n = 0;
}
