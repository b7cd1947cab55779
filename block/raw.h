/* The raw format: the image is its file child's bytes, unchanged. The
 * driver is blk_raw_driver (block/drivers.c); open it with blk_open. */
#ifndef BLOCK_RAW_H
#define BLOCK_RAW_H

#include <stdbool.h>

#include "block.h"

struct raw_opts {
	bool readonly;
	bool direct; /* O_DIRECT (cache=none); else the page cache */
};

/* Transitional: blk_open of format=raw, path, readonly, cache, for
 * devices/virtio/blk.c until it calls blk_open itself; then delete it.
 * Returns 0 or -errno after one log line naming the file. */
int raw_open(struct blk_node *node, const char *path,
	     const struct raw_opts *opts);

#endif
