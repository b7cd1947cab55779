/* A minimal virtio device type for the transport tests: 8 bytes of
 * configuration space, feature bit 5, counted activations. */
#ifndef TESTS_UNIT_DUMMY_VIRTIO_H
#define TESTS_UNIT_DUMMY_VIRTIO_H

#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/virtio.h"

struct dummy_virtio {
	uint8_t config[8];
	int activations, deactivations;
	int activate_result;
};

static uint64_t dummy_features(void *o)
{
	(void)o;
	return 1ULL << 5;
}

static void dummy_cfg_read(void *o, uint32_t off, uint8_t *d, unsigned len)
{
	memcpy(d, ((struct dummy_virtio *)o)->config + off, len);
}

static void dummy_cfg_write(void *o, uint32_t off, const uint8_t *d,
			    unsigned len)
{
	memcpy(((struct dummy_virtio *)o)->config + off, d, len);
}

static int dummy_activate(void *o)
{
	struct dummy_virtio *d = o;

	d->activations++;
	return d->activate_result;
}

static void dummy_deactivate(void *o)
{
	((struct dummy_virtio *)o)->deactivations++;
}

static const struct virtio_device_ops dummy_ops = {
	.name = "dummy", .device_id = 2, .features = dummy_features,
	.config_read = dummy_cfg_read, .config_write = dummy_cfg_write,
	.config_size = 8, .activate = dummy_activate,
	.deactivate = dummy_deactivate,
};

/* Guest RAM of ram bytes and a fresh dummy device (configuration space
 * "ABCDEFGH") with queues queues on vd, ready for a transport. */
static inline void dummy_virtio_setup(struct guest_mem *mem, uint64_t ram,
				      struct virtio_dev *vd,
				      struct dummy_virtio *d, unsigned queues)
{
	struct mem_config cfg = { .size = ram, .backend = MEM_BACKEND_ANON };

	cr_assert_eq(mem_create(mem, &cfg), 0);
	memset(d, 0, sizeof(*d));
	memcpy(d->config, "ABCDEFGH", 8);
	cr_assert_eq(virtio_dev_init(vd, &dummy_ops, d, queues, mem), 0);
}

#endif
