/* The --disk option: PATH[,format=raw][,readonly][,cache=none|writeback]
 * [,queues=N][,serial=STR][,poll_max_ns=N][,poll_host_max_ns=N], parsed into a struct
 * vblk_config. */
#ifndef DEVICES_VIRTIO_BLK_OPTS_H
#define DEVICES_VIRTIO_BLK_OPTS_H

#include "blk.h"

#define VBLK_OPT_HELP                                                          \
	"PATH[,format=raw][,readonly][,cache=none|writeback][,queues=N]"       \
	"[,serial=STR][,poll_max_ns=N][,poll_host_max_ns=N]"

/* Returns 0, or -EINVAL with *why naming the bad part. arg must outlive
 * cfg (the path points into it). */
int vblk_parse_opt(char *arg, struct vblk_config *cfg, const char **why);

#endif
