/* The --9p option: DIR,tag=NAME[,readonly][,security=passthrough|mapped],
 * parsed into a struct v9p_config. */
#ifndef DEVICES_VIRTIO_9P_OPTS_H
#define DEVICES_VIRTIO_9P_OPTS_H

#include "9p.h"

#define V9P_OPT_HELP "DIR,tag=NAME[,readonly][,security=passthrough|mapped]"

/* Returns 0, or -EINVAL with *why naming the bad part. arg must outlive
 * cfg (the path and tag point into it). */
int v9p_parse_opt(char *arg, struct v9p_config *cfg, const char **why);

#endif
