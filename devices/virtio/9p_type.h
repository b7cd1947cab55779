/* virtio-9p as a command-line device type: --9p (devices/device.h). */
#ifndef DEVICES_VIRTIO_9P_TYPE_H
#define DEVICES_VIRTIO_9P_TYPE_H

#include "devices/device.h"

extern const struct device_type v9p_device_type;

#endif
