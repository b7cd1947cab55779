/* virtio-blk's part in snapshots and live migration: quiescing (the
 * queues stop at a safe point, then the disk is flushed through the block
 * layer and its image handed over, so that whoever opens the image next,
 * the destination of a migration on shared storage or a restore from a
 * copy, sees every completed write and a clean image), resuming (the
 * image taken back), and the device's sections: its own (what the command line
 * fixed and the restoring VM must match: capacity, block size, queues,
 * read-only; the device has no state the guest can change) and then the
 * virtio core and transport's (virtio_state.h), whose restore starts the
 * device.
 *
 * Threads: quiesce, save and resume on the thread saving the VM with the
 * vCPUs parked (the flush runs on queue 0's worker, which owns that
 * io_uring); restore on the main thread before any vCPU runs. */
#ifndef DEVICES_VIRTIO_BLK_STATE_H
#define DEVICES_VIRTIO_BLK_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "blk.h"
#include "lib/stream.h"

#define VBLK_STATE_VERSION 1
#define VBLK_STATE_MAGIC 0x4b4c4256u /* "VBLK" */

struct vblk_state {
	uint32_t magic; /* VBLK_STATE_MAGIC */
	uint32_t queues;
	uint64_t capacity; /* sectors */
	uint32_t block_size;
	uint32_t readonly; /* 0 or 1 */
};

/* 0, or the -errno of the flush or of the image's hand-over (logged;
 * the device then runs on as before). After it the image is complete
 * and clean on disk (raw, qcow2, QED alike: a format's metadata written
 * back, reserved clusters given back, the preallocated tail trimmed, the
 * dirty and need-check bits cleared) and inactive: nothing writes to it
 * until vblk_resume takes it back, and a source whose migration
 * completed never does (its close at exit writes nothing). */
int vblk_quiesce(struct vblk *b);
void vblk_resume(struct vblk *b);
int vblk_save(struct vblk *b, struct stream_writer *w, unsigned index);
/* Pure: 0, or -EPROTO with why filled in. */
int vblk_state_check(const struct vblk *b, const struct stream_section *s,
		     char *why, size_t why_len);
int vblk_restore(struct vblk *b, const struct stream_section *s);

#endif
