#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "devices/iobus.h"

struct dev {
	uint64_t last_off;
	unsigned last_size;
	uint8_t last_write;
};

static void rd(void *o, uint64_t off, uint8_t *d, unsigned size)
{
	struct dev *dv = o;
	dv->last_off = off;
	dv->last_size = size;
	memset(d, 0x42, size);
}

static void wr(void *o, uint64_t off, const uint8_t *d, unsigned size)
{
	struct dev *dv = o;
	dv->last_off = off;
	dv->last_size = size;
	dv->last_write = d[0];
}

static const struct io_ops ops = { rd, wr };
static const struct io_ops no_read = { NULL, wr };

Test(iobus, dispatches_with_offsets)
{
	struct io_bus bus = { .name = "port" };
	struct dev a = { 0 }, b = { 0 };
	uint8_t data[4] = { 7 };

	cr_assert_eq(iobus_attach(&bus, 0x3f8, 8, &ops, &a), 0);
	cr_assert_eq(iobus_attach(&bus, 0x70, 2, &ops, &b), 0);
	cr_assert(iobus_access(&bus, 0x3fd, false, data, 1));
	cr_assert_eq(a.last_off, 5);
	cr_assert_eq(data[0], 0x42);
	cr_assert(iobus_access(&bus, 0x71, true, data, 1));
	cr_assert_eq(b.last_off, 1);
}

Test(iobus, unclaimed_reads_are_all_ones)
{
	struct io_bus bus = { .name = "port" };
	struct dev a = { 0 };
	uint8_t data[4] = { 0 };

	iobus_attach(&bus, 0x3f8, 8, &ops, &a);
	cr_assert(!iobus_access(&bus, 0xcf8, false, data, 4));
	cr_assert_eq(data[0] & data[1] & data[2] & data[3], 0xff);
	/* An access straddling the end of a range is not the device's. */
	cr_assert(!iobus_access(&bus, 0x3ff, false, data, 2));
	cr_assert(!iobus_access(&bus, 0x3f7, true, data, 2));
}

Test(iobus, refuses_bad_attachments)
{
	struct io_bus bus = { .name = "mmio" };
	struct dev a;

	cr_assert_eq(iobus_attach(&bus, 0x1000, 0x100, &ops, &a), 0);
	cr_assert_eq(iobus_attach(&bus, 0x10ff, 1, &ops, &a), -EINVAL,
		     "overlap");
	cr_assert_eq(iobus_attach(&bus, 0x0f00, 0x101, &ops, &a), -EINVAL,
		     "overlap");
	cr_assert_eq(iobus_attach(&bus, 0x2000, 0, &ops, &a), -EINVAL, "empty");
	cr_assert_eq(iobus_attach(&bus, UINT64_MAX, 2, &ops, &a), -EINVAL,
		     "wraps");
	cr_assert_eq(iobus_attach(&bus, 0x3000, 1, &no_read, &a), -EINVAL,
		     "ops");
	cr_assert_eq(iobus_attach(&bus, 0x3000, 1, NULL, &a), -EINVAL, "ops");
	for (unsigned i = 1; i < IOBUS_MAX_RANGES; i++)
		cr_assert_eq(iobus_attach(&bus, 0x10000 * (i + 1), 1, &ops, &a),
			     0);
	cr_assert_eq(iobus_attach(&bus, 0x9000000, 1, &ops, &a), -EINVAL,
		     "full");
}
