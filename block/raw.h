/* The raw format: a regular file or a block device, byte for byte. */
#ifndef BLOCK_RAW_H
#define BLOCK_RAW_H

#include <stdbool.h>

#include "block.h"

struct raw_opts {
	bool readonly;
	bool direct; /* O_DIRECT (cache=none); else the page cache */
};

/* Opens path into node. Returns 0 or -errno after one log line naming
 * the file. */
int raw_open(struct blk_node *node, const char *path,
	     const struct raw_opts *opts);

#endif
