/* Read-only after start-up; no state. */
#include "device_table.h"

#include "devices/virtio/9p_type.h"
#include "devices/virtio/blk_type.h"

const struct device_type *const device_types[] = {
	&vblk_device_type,
	&v9p_device_type,
	NULL,
};
