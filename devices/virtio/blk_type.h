/* virtio-blk as a command-line device type: --disk (devices/device.h). */
#ifndef DEVICES_VIRTIO_BLK_TYPE_H
#define DEVICES_VIRTIO_BLK_TYPE_H

#include "devices/device.h"

extern const struct device_type vblk_device_type;

#endif
