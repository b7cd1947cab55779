/* Every device type the command line can add, in one table: adding a
 * type (virtio-9p next) is one row in device_table.c plus the type's own
 * folder. */
#ifndef VMM_DEVICE_TABLE_H
#define VMM_DEVICE_TABLE_H

#include "devices/device.h"

/* NULL-terminated, in --help order. */
extern const struct device_type *const device_types[];

#endif
