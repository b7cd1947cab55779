/* The driver table; read-only, any thread. A new driver is its own .c
 * file defining a const struct blk_driver, plus one row here (and, for a
 * format, its name in BLK_FORMAT_NAMES). */
#include "drivers.h"

#include <string.h>

extern const struct blk_driver blk_raw_driver;	    /* block/raw.c */
extern const struct blk_driver blk_file_driver;	    /* block/file.c */
extern const struct blk_driver blk_qcow2_driver;    /* block/qcow2.c */
extern const struct blk_driver blk_qed_driver;	    /* block/qed.c */
extern const struct blk_driver blk_blkdebug_driver; /* block/blkdebug.c */

static const struct blk_driver *const drivers[] = {
	&blk_raw_driver,   &blk_file_driver, &blk_blkdebug_driver,
	&blk_qcow2_driver, &blk_qed_driver,
};

const struct blk_driver *blk_driver_at(unsigned i)
{
	return i < sizeof(drivers) / sizeof(drivers[0]) ? drivers[i] : NULL;
}

const struct blk_driver *blk_driver_find(const char *name,
					 enum blk_drv_kind kind)
{
	const struct blk_driver *d;

	for (unsigned i = 0; (d = blk_driver_at(i)); i++)
		if (d->kind == kind && !strcmp(d->name, name))
			return d;
	return NULL;
}
