/* A minimal virtio device type for the transport tests: 8 bytes of
 * configuration space, feature bit 5, counted activations. And, for tests
 * through a real device (virtio-blk with its queue workers and io_uring):
 * a disk on a temporary file and the driver side of a split queue. */
#ifndef TESTS_UNIT_DUMMY_VIRTIO_H
#define TESTS_UNIT_DUMMY_VIRTIO_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

#include "devices/virtio/virtio.h"
#include "tests/unit/guest_ram.h"

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
	.name = "dummy",
	.device_id = 2,
	.features = dummy_features,
	.config_read = dummy_cfg_read,
	.config_write = dummy_cfg_write,
	.config_size = 8,
	.activate = dummy_activate,
	.deactivate = dummy_deactivate,
};

/* Guest RAM of ram bytes and a fresh dummy device (configuration space
 * "ABCDEFGH") with queues queues on vd, ready for a transport. */
static inline void dummy_virtio_setup(struct guest_mem *mem, uint64_t ram,
				      struct virtio_dev *vd,
				      struct dummy_virtio *d, unsigned queues)
{
	struct mem_config cfg = { .size = ram, .backend = MEM_BACKEND_ANON };

	cr_assert_eq(test_mem_create(mem, &cfg), 0);
	memset(d, 0, sizeof(*d));
	memcpy(d->config, "ABCDEFGH", 8);
	cr_assert_eq(virtio_dev_init(vd, &dummy_ops, d, queues, mem), 0);
}

/* Entries of a /proc directory: open file descriptors (/proc/self/fd),
 * to see that nothing leaked. */
static inline unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The process's own threads: /proc/self/task without io_uring's kernel
 * workers (iou-wrk-N), which the kernel starts and ends on its own. */
static inline unsigned count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* ended meanwhile */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		n += strncmp(comm, "iou-", 4) != 0;
	}
	closedir(d);
	return n;
}

#define TEST_DISK_BYTES (1u << 20)

static inline uint8_t test_disk_byte(uint64_t i)
{
	return (uint8_t)(i ^ (i >> 9) ^ 0x5a);
}

/* A virtio-blk device on a new temporary file of TEST_DISK_BYTES holding
 * test_disk_byte(offset); path is a mkstemp template, unlinked by
 * test_disk_close. */
static inline void test_disk_open(struct vblk *b, char *path,
				  const struct guest_mem *mem, unsigned queues)
{
	/* cache=none: each read goes to the host disk, so that requests
	 * stay in flight long enough for the driver to interfere. */
	struct vblk_config cfg = { .path = path,
				   .queues = queues,
				   .direct = true };
	uint8_t *buf = malloc(TEST_DISK_BYTES);
	int fd = mkstemp(path);

	cr_assert(fd >= 0 && buf);
	for (uint64_t i = 0; i < TEST_DISK_BYTES; i++)
		buf[i] = test_disk_byte(i);
	cr_assert_eq(write(fd, buf, TEST_DISK_BYTES), TEST_DISK_BYTES);
	close(fd);
	free(buf);
	cr_assert_eq(vblk_init(b, &cfg, 0, mem), 0);
}

/* Spins (at most about 100 ms) until queue q has host I/O in flight; the
 * test thread peeks at the worker's counter, racily but harmlessly. */
static inline void test_wait_inflight(struct vblk *b, unsigned q)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (__atomic_load_n(&b->queues[q].ctx.inflight,
				    __ATOMIC_RELAXED))
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec <
		 100000000L);
}

static inline void test_disk_close(struct vblk *b, const char *path)
{
	vblk_destroy(b);
	unlink(path);
}

/* The driver side of one split queue: desc at base, avail at base +
 * 0x1000, used at base + 0x2000; request n's header at base + 0x3000 +
 * 16n, its status byte at base + 0x4000 + n, its 4 KiB of data at data +
 * 4096n. Request n uses descriptors 3n .. 3n + 2: at most size / 3
 * requests are outstanding. */
struct test_ring {
	const struct guest_mem *mem;
	gpa_t base, data;
	uint16_t size, avail_idx;
};

#define TEST_RING_BYTES 0x5000

static inline void test_ring_init(struct test_ring *r,
				  const struct guest_mem *mem, gpa_t base,
				  gpa_t data, uint16_t size)
{
	*r = (struct test_ring){
		.mem = mem, .base = base, .data = data, .size = size
	};
	memset(mem_ptr(mem, base, TEST_RING_BYTES), 0, TEST_RING_BYTES);
}

static inline void test_ring_desc(struct test_ring *r, uint16_t i,
				  uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vring_desc d = { addr, len, flags, (uint16_t)(i + 1) };

	cr_assert_eq(mem_write(r->mem, r->base + 16ULL * i, &d, sizeof(d)), 0);
}

/* Makes request n available: a 4 KiB read (VIRTIO_BLK_T_IN) or write of
 * sector; no notification. */
static inline void test_ring_rw(struct test_ring *r, unsigned n, uint32_t type,
				uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	uint16_t *avail = mem_ptr(r->mem, r->base + 0x1000, 4 + 2ULL * r->size);
	uint16_t d = (uint16_t)(3 * n);

	cr_assert(3 * n + 2 < r->size);
	mem_write(r->mem, r->base + 0x3000 + 16ULL * n, &h, sizeof(h));
	*(uint8_t *)mem_ptr(r->mem, r->base + 0x4000 + n, 1) = 0xff;
	test_ring_desc(r, d, r->base + 0x3000 + 16ULL * n, 16,
		       VRING_DESC_F_NEXT);
	test_ring_desc(
		r, d + 1, r->data + 4096ULL * n, 4096,
		VRING_DESC_F_NEXT |
			(type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0));
	test_ring_desc(r, d + 2, r->base + 0x4000 + n, 1, VRING_DESC_F_WRITE);
	avail[2 + r->avail_idx % r->size] = d;
	__atomic_store_n(&avail[1], ++r->avail_idx, __ATOMIC_RELEASE);
}

static inline uint16_t test_ring_used(const struct test_ring *r)
{
	uint16_t *used = mem_ptr(r->mem, r->base + 0x2000, 4);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static inline uint8_t test_ring_status(const struct test_ring *r, unsigned n)
{
	return *(volatile uint8_t *)mem_ptr(r->mem, r->base + 0x4000 + n, 1);
}

/* Waits up to 5 s until count requests were used; true if they were. */
static inline bool test_ring_wait(const struct test_ring *r, uint16_t count)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 5000 && test_ring_used(r) != count; i++)
		nanosleep(&ms, NULL);
	return test_ring_used(r) == count;
}

/* True when request n's data is sector's content on the test disk. */
static inline bool test_ring_read_ok(const struct test_ring *r, unsigned n,
				     uint64_t sector)
{
	const uint8_t *d = mem_ptr(r->mem, r->data + 4096ULL * n, 4096);

	for (uint64_t i = 0; i < 4096; i++)
		if (d[i] != test_disk_byte(sector * 512 + i))
			return false;
	return test_ring_status(r, n) == VIRTIO_BLK_S_OK;
}

#endif
