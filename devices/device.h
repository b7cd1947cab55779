/* A device type the user adds from the command line (--disk today, a 9p
 * share next): one const struct device_type per type, defined beside the
 * device and listed in vmm/device_table.c. The VMM parses the option,
 * creates each instance, puts it on the VM's virtio transport, prints its
 * --stats line and destroys it, all through this table; nothing else in
 * vmm/ knows the type.
 *
 * Threads: parse on the main thread at start-up; create, binding,
 * mark_incoming, activate and destroy on the main thread before the
 * vCPUs start and after they are joined; stats on the main thread after
 * the run; quiesce, save and resume on the thread saving the VM. */
#ifndef DEVICES_DEVICE_H
#define DEVICES_DEVICE_H

#include <stddef.h>
#include <stdio.h>

#include "devices/virtio/virtio.h"
#include "lib/sandbox.h"
#include "lib/stream.h"
#include "memory/memory.h"

/* What the virtio transport needs from a device: its virtio state, the
 * eventfd each queue's worker waits on (bound as KVM ioeventfds), and
 * how to wake a queue when a notification reached the VMM instead. */
struct virtio_binding {
	struct virtio_dev *vd;
	int kick_fds[VIRTIO_MAX_QUEUES];
	void (*kick)(void *opaque, unsigned queue);
	void *opaque;
};

struct device_type {
	const char *name; /* the option is --NAME */
	const char *arg;  /* its argument's synopsis, for --help */
	const char *help;
	unsigned max; /* instances per VM */
	size_t config_size;
	/* Parses one option argument into cfg (config_size zeroed bytes);
	 * arg outlives cfg. 0, or -EINVAL with *why a fixed phrase naming
	 * the bad part. */
	int (*parse)(char *arg, void *cfg, const char **why);
	/* Creates instance `index` of this type (0 for the first) with all
	 * its resources (files, threads, rings). 0 or -errno after one log
	 * line; -ENOENT, -EACCES, -EINVAL and -EISDIR mean the user's input
	 * was wrong. *dev is set even on failure when there is something
	 * for destroy to undo. */
	int (*create)(const void *cfg, unsigned index,
		      const struct guest_mem *mem, enum sandbox_mode seccomp,
		      void **dev);
	void (*bind)(void *dev, struct virtio_binding *out);
	/* Stops the device's threads and frees it. */
	void (*destroy)(void *dev);
	/* Optional: --stats lines, each "vmm: stats: ...". */
	void (*stats)(void *dev, FILE *out);
	/* Optional, both or neither: the device's state for a snapshot or a
	 * live migration (lib/stream.h), as STREAM_SEC_DEVICE sections of
	 * instance `index` (its place among the VM's devices). save runs on
	 * the migration worker with the vCPUs parked; restore on the main
	 * thread before they run, and refuses (-EPROTO, one log line) a
	 * section that does not fit. A VM with a device whose type has no
	 * save cannot be snapshotted or migrated. */
	int (*save)(void *dev, struct stream_writer *w, unsigned index);
	int (*restore)(void *dev, const struct stream_section *s);
	/* Optional, both or neither, with save: before the state is read,
	 * on the saving thread with the vCPUs parked and before the last
	 * look at the dirty pages (completions write guest RAM), quiesce
	 * stops taking requests, completes those in flight (interrupting
	 * the driver for them as it asked) and makes what they wrote
	 * durable (disks flushed), keeping everything needed to go on. 0,
	 * or -errno after one log line (the device then runs on as
	 * before). resume goes on as before the quiesce: after a snapshot,
	 * or when a migration failed and the source keeps running. */
	int (*quiesce)(void *dev);
	void (*resume)(void *dev);
	/* Optional, both or neither, with save: on a live migration's
	 * destination (--incoming) the source owns what the device shares
	 * with it (a disk image on shared storage) until the END of the
	 * stream, as QEMU's inactive block nodes. mark_incoming marks a
	 * parsed configuration (main thread, before create) so that create
	 * opens it without writing it or keeping anything of it for later
	 * (an image read-only: its path, format and size checked before the
	 * migration starts); activate takes it over on the main thread after
	 * the END and before restore (the image opened again as configured,
	 * its metadata read afresh): 0, or -errno after one log line, and
	 * the destination then ends without running the guest. */
	void (*mark_incoming)(void *cfg);
	int (*activate)(void *dev);
};

#endif
