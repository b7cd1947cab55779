/* The devices a VM was given on the command line: the configurations the
 * CLI parsed (struct vm_device_config, in vm_config) and the instances
 * created from them, each on the VM's virtio transport. Numbering is per
 * type, in command-line order (the first --disk is vda). */
#ifndef VMM_VM_DEVICES_H
#define VMM_VM_DEVICES_H

#include <stdbool.h>
#include <stdio.h>

#include "devices/device.h"
#include "vdev.h"

#define VM_MAX_DEVICES VDEV_MAX

struct vm;

struct vm_device_config {
	const struct device_type *type;
	void *cfg; /* type->config_size bytes, filled by type->parse */
};

struct vm_device {
	const struct device_type *type;
	void *dev;
	struct vdev vdev;
	bool on_transport; /* vdev_attach ran: vdev_detach has fds to close */
};

/* Owned by the VM; set up on the main thread, torn down after the vCPUs
 * are joined. */
struct vm_devices {
	struct vm_device *dev[VM_MAX_DEVICES];
	unsigned n;
};

/* Creates and attaches every configured device, whose threads enter
 * sandboxes of mode seccomp; on a live migration's destination
 * (incoming) each type that has one marks its configuration first
 * (device_type mark_incoming). 0 or -errno (logged); vm_devices_destroy
 * undoes a partial attach. */
int vm_devices_attach(struct vm *vm, const struct vm_device_config *cfgs,
		      unsigned n, enum sandbox_mode seccomp, bool incoming);

/* A migration's destination after the END of the stream, before the
 * devices' state is applied: each device takes over what the source
 * handed over (device_type activate). 0 or the first -errno (logged). */
int vm_devices_activate(struct vm_devices *d);

/* Each device's --stats lines. */
void vm_devices_stats(const struct vm_devices *d, FILE *out);

/* Stops the devices' threads and frees them. */
void vm_devices_destroy(struct vm_devices *d);

#endif
