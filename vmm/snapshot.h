/* Snapshot files: the VM state stream (lib/stream.h) followed by the
 * guest RAM, one region after another from a 2 MiB-aligned offset, zero
 * pages left as holes. The stream's RAM_IMAGE sections say where each
 * region is, so `--restore` maps the RAM (MAP_PRIVATE) instead of
 * reading it: restore time does not grow with RAM size, and the file is
 * never written by the restored VM.
 *
 * Threads: snapshot_write on the migration worker, with every vCPU
 * parked and the devices quiescent; snapshot_load on the main thread
 * before the guest RAM is registered with KVM. */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stdint.h>

#include "vmstate.h"

struct vm;

struct snapshot_stats {
	uint64_t state_bytes; /* the stream */
	uint64_t ram_bytes;   /* RAM written (zero pages are holes) */
	uint64_t ns;	      /* from the call to the rename */
};

/* Writes the snapshot to path + ".tmp", syncs it, renames it to path.
 * 0, or -errno after one log line (the temporary file removed). */
int snapshot_write(struct vm *vm, const char *path, struct snapshot_stats *st);

/* Opens the snapshot file at path for snapshot_load (l->image_fd): 0, or
 * -errno after one log line. Before anything else, so that a wrong path
 * is refused at once. */
int snapshot_open(const char *path, struct vmstate_load *l);
/* Reads the snapshot opened by snapshot_open into l:
 * RAM regions mapped, the rest kept for vmstate_load_apply. 0, or
 * -errno / -EPROTO after one log line naming the file and the reason. */
int snapshot_load(const char *path, struct vmstate_load *l);

#endif
