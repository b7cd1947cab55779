/* Dispatch of guest port I/O and MMIO accesses to devices. Devices attach
 * an ops table for an address range before the vCPUs start; from then on
 * the bus is read-only, so vCPU threads dispatch without a lock and each
 * device locks its own state. */
#ifndef DEVICES_IOBUS_H
#define DEVICES_IOBUS_H

#include <stdbool.h>
#include <stdint.h>

#define IOBUS_MAX_RANGES 32

/* A device's access handlers. Both are required. `off` is relative to the
 * range's base; `size` is 1, 2, 4 or 8; data is little-endian. */
struct io_ops {
	void (*read)(void *opaque, uint64_t off, uint8_t *data, unsigned size);
	void (*write)(void *opaque, uint64_t off, const uint8_t *data,
		      unsigned size);
};

struct io_range {
	uint64_t base, len;
	const struct io_ops *ops;
	void *opaque;
};

struct io_bus {
	const char *name; /* "port" or "mmio", for messages */
	struct io_range ranges[IOBUS_MAX_RANGES];
	unsigned nr;
};

/* Attaches ops for [base, base + len). Refuses (-EINVAL, logged) empty or
 * wrapping ranges, overlaps with an attached range, missing ops, and a
 * full bus. */
int iobus_attach(struct io_bus *bus, uint64_t base, uint64_t len,
		 const struct io_ops *ops, void *opaque);

/* Routes one access. Returns false when no device claims addr, in which
 * case a read has filled data with all-ones (an absent device) and a write
 * was dropped. */
bool iobus_access(const struct io_bus *bus, uint64_t addr, bool is_write,
		  uint8_t *data, unsigned size);

#endif
