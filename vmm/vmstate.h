/* The VM's state as stream sections (lib/stream.h), shared by snapshots
 * and live migration: the CONFIG section (the VM's shape, which the
 * receiving VM must match), the vCPUs', the architecture's and the
 * devices' sections on the saving side; on the loading side one call per
 * section received: CONFIG checked, RAM copied into guest RAM at once,
 * RAM_IMAGE mapped from the snapshot file, the rest kept until the vCPUs
 * exist and applied in stream order by vmstate_load_apply.
 *
 * Threads: saving runs on the migration worker with every vCPU parked;
 * loading on the main thread before any vCPU runs. A struct vmstate_load
 * belongs to its one thread. */
#ifndef VMM_VMSTATE_H
#define VMM_VMSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/stream.h"
#include "memory/memory.h"

struct vm;

/* The CONFIG section of vm. */
int vmstate_put_config(struct vm *vm, struct stream_writer *w);
/* Every vCPU's section, then the architecture's, then the devices'. */
int vmstate_put_state(struct vm *vm, struct stream_writer *w);

/* 0, or -ENOTSUP after one log line when a device's type cannot be
 * saved: checked before a migration starts, and again when saving. */
int vmstate_saveable(struct vm *vm);
/* With the vCPUs parked, before the last look at the dirty pages and
 * vmstate_put_state: every device stops at a safe point (device.h,
 * quiesce). -ENOTSUP (logged) when a device cannot be saved, or a
 * device's -errno; on failure every device runs on as before. */
int vmstate_quiesce(struct vm *vm);
/* After the state was written (snapshot) or the migration failed: every
 * device goes on as before vmstate_quiesce. */
void vmstate_resume(struct vm *vm);

/* A snapshot file's RAM_IMAGE payload: region `region` of the VM is the
 * `size` bytes at `file_offset` of the file holding the stream. */
struct vmstate_ram_image {
	uint32_t region, flags;
	uint64_t gpa, size, file_offset;
};

struct vmstate_kept; /* a section kept for vmstate_load_apply */

/* The VM's RAM is fresh (all zero, nothing written) when a load
 * starts: a zero run clears only the pages an earlier run of the same
 * load filled, and leaves the others unread and unallocated. */
struct vmstate_load {
	struct vm *vm;
	int image_fd; /* the snapshot file (RAM_IMAGE), -1 for a stream */
	bool have_config, have_end;
	uint64_t ram_pages, zero_pages;	   /* received in RAM sections */
	unsigned images;		   /* RAM_IMAGE regions mapped */
	uint64_t *filled[MEM_MAX_REGIONS]; /* a bit per page given data */
	struct vmstate_kept *kept, **tail;
};

void vmstate_load_init(struct vmstate_load *l, struct vm *vm, int image_fd);
/* One section, in stream order. 0; 1 for END (the stream is complete:
 * every region mapped or received, CONFIG seen); -EPROTO after one log
 * line naming what does not fit; -ENOMEM. */
int vmstate_load_section(struct vmstate_load *l,
			 const struct stream_section *s);
/* Once the vCPUs are created (not running): applies the kept sections in
 * order, then arch_restore_done. Every vCPU must have had its section. */
int vmstate_load_apply(struct vmstate_load *l);
void vmstate_load_free(struct vmstate_load *l);

#endif
