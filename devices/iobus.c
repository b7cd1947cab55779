/* Attach: main thread before vCPUs start. Access: any vCPU thread, no lock
 * (the table is immutable once vCPUs run). */
#include "iobus.h"

#include <errno.h>
#include <string.h>

#include "lib/checked.h"
#include "lib/log.h"

int iobus_attach(struct io_bus *bus, uint64_t base, uint64_t len,
		 const struct io_ops *ops, void *opaque)
{
	uint64_t end;

	if (!ops || !ops->read || !ops->write || !len ||
	    !checked_add(base, len, &end) || bus->nr == IOBUS_MAX_RANGES) {
		log_error("%s bus: cannot attach a device at %#llx", bus->name,
			  (unsigned long long)base);
		return -EINVAL;
	}
	for (unsigned i = 0; i < bus->nr; i++) {
		if (ranges_overlap(base, len, bus->ranges[i].base,
				   bus->ranges[i].len)) {
			log_error(
				"%s bus: device at %#llx overlaps one at %#llx",
				bus->name, (unsigned long long)base,
				(unsigned long long)bus->ranges[i].base);
			return -EINVAL;
		}
	}
	bus->ranges[bus->nr++] = (struct io_range){ base, len, ops, opaque };
	return 0;
}

bool iobus_access(const struct io_bus *bus, uint64_t addr, bool is_write,
		  uint8_t *data, unsigned size)
{
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct io_range *r = &bus->ranges[i];
		if (addr < r->base ||
		    !range_within(addr - r->base, size, r->len))
			continue;
		if (is_write)
			r->ops->write(r->opaque, addr - r->base, data, size);
		else
			r->ops->read(r->opaque, addr - r->base, data, size);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, size);
	return false;
}
