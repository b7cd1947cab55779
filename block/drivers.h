/* The driver table (block/drivers.c): every block driver, by name. */
#ifndef BLOCK_DRIVERS_H
#define BLOCK_DRIVERS_H

#include "driver.h"

/* The format names, for messages such as the --disk parser's. A unit test
 * (test_drivers) checks it names exactly the formats in the table. */
#define BLK_FORMAT_NAMES "raw, qcow2, qed"

/* The driver called name of that kind, or NULL. */
const struct blk_driver *blk_driver_find(const char *name,
					 enum blk_drv_kind kind);

/* The i-th driver of the table, NULL past the end. */
const struct blk_driver *blk_driver_at(unsigned i);

#endif
