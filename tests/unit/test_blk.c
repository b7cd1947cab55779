/* The virtio-blk device end to end without a guest: chains written into
 * guest memory, the queue's real iothread and io_uring, a temporary raw
 * file. */
#include <criterion/criterion.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "tests/unit/guest_ram.h"

#define RAM (16ULL << 20)
#define QSIZE 64
#define DESC 0x1000ULL
#define AVAIL 0x2000ULL
#define USED 0x3000ULL
#define HDRS 0x10000ULL	  /* 16 bytes per request */
#define STATUS 0x20000ULL /* 1 byte per request */
#define DATA 0x100000ULL  /* 4 KiB per request */
#define FILE_SIZE (1 << 20)

static struct guest_mem mem;
static struct vblk b;
static char path[] = "/tmp/vmm-test-blk-XXXXXX";
static unsigned interrupts;
static uint16_t avail_idx, next_desc;

static void notify_queue(void *t, unsigned q)
{
	(void)t, (void)q;
	__atomic_add_fetch(&interrupts, 1, __ATOMIC_SEQ_CST);
}
static void notify_config(void *t)
{
	(void)t;
}
static const struct virtio_transport_ops tops = { notify_queue, notify_config };

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i ^ (i >> 9) ^ 0x5a);
}

static void setup(void)
{
	struct mem_config mc = { .size = RAM, .backend = MEM_BACKEND_ANON };
	struct vblk_config cfg = { .path = path, .queues = 1 };
	uint8_t *buf = malloc(FILE_SIZE);
	struct virtio_dev *vd = &b.vdev;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	for (uint64_t i = 0; i < FILE_SIZE; i++)
		buf[i] = pattern(i);
	cr_assert_eq(write(fd, buf, FILE_SIZE), FILE_SIZE);
	close(fd);
	free(buf);
	cr_assert_eq(test_mem_create(&mem, &mc), 0);
	cr_assert_eq(vblk_init(&b, &cfg, 0, &mem), 0);
	virtio_dev_attach_transport(vd, &tops, NULL);
	interrupts = avail_idx = next_desc = 0;
	pthread_mutex_lock(&vd->lock);
	virtio_set_status(vd,
			  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_set_guest_features_word(vd, 1, 1); /* VERSION_1 */
	virtio_set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				      VIRTIO_CONFIG_S_DRIVER |
				      VIRTIO_CONFIG_S_FEATURES_OK);
	vd->vqs[0].size = QSIZE;
	vd->vqs[0].desc = DESC;
	vd->vqs[0].avail = AVAIL;
	vd->vqs[0].used = USED;
	virtio_set_queue_ready(vd, 0, true);
	virtio_set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				      VIRTIO_CONFIG_S_DRIVER |
				      VIRTIO_CONFIG_S_FEATURES_OK |
				      VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vd->lock);
	cr_assert(vd->active);
}

static void teardown(void)
{
	pthread_mutex_lock(&b.vdev.lock);
	virtio_set_status(&b.vdev, 0);
	pthread_mutex_unlock(&b.vdev.lock);
	vblk_destroy(&b);
	mem_destroy(&mem);
	unlink(path);
}

TestSuite(blk, .init = setup, .fini = teardown);

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vring_desc d = { addr, len, flags, (uint16_t)(i + 1) };
	cr_assert_eq(mem_write(&mem, DESC + 16 * i, &d, sizeof(d)), 0);
}

/* Queues request n: header, 4 KiB of data, status; not yet notified. */
static void queue(unsigned n, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	uint16_t head = next_desc;
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);

	mem_write(&mem, HDRS + 16 * n, &h, sizeof(h));
	*(uint8_t *)mem_ptr(&mem, STATUS + n, 1) = 0xff;
	desc(next_desc++, HDRS + 16 * n, 16, VRING_DESC_F_NEXT);
	desc(next_desc++, DATA + 4096ULL * n, 4096,
	     VRING_DESC_F_NEXT |
		     (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0));
	desc(next_desc++, STATUS + n, 1, VRING_DESC_F_WRITE);
	ring[2 + avail_idx % QSIZE] = head;
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
}

/* Notifies and waits until `count` requests in all were used. */
static void run_until(uint16_t count)
{
	uint16_t *used = mem_ptr(&mem, USED, 4);
	struct timespec ms = { 0, 1000000 };

	vblk_kick(&b, 0);
	for (int i = 0;
	     i < 5000 && __atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != count;
	     i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(used[1], count, "used index");
}

static uint8_t status(unsigned n)
{
	return *(uint8_t *)mem_ptr(&mem, STATUS + n, 1);
}

Test(blk, adjacent_reads_in_one_batch_merge_and_each_gets_its_data)
{
	for (unsigned n = 0; n < 4; n++)
		queue(n, VIRTIO_BLK_T_IN, 8 * n);
	run_until(4);
	for (unsigned n = 0; n < 4; n++) {
		const uint8_t *d = mem_ptr(&mem, DATA + 4096ULL * n, 4096);
		cr_assert_eq(status(n), VIRTIO_BLK_S_OK);
		for (uint64_t i = 0; i < 4096; i++)
			cr_assert_eq(d[i], pattern(4096 * n + i),
				     "request %u byte %lu", n, i);
	}
	cr_assert_eq(vblk_merged(&b), 4);
	cr_assert_geq(interrupts, 1);
}

Test(blk, writes_merge_reads_do_not_join_them_and_gaps_split)
{
	uint8_t back[4096];
	int fd;

	for (unsigned n = 0; n < 3; n++)
		memset(mem_ptr(&mem, DATA + 4096ULL * n, 4096), 'a' + n, 4096);
	queue(0, VIRTIO_BLK_T_OUT, 64);
	queue(1, VIRTIO_BLK_T_OUT, 72);
	queue(2, VIRTIO_BLK_T_OUT, 200); /* not adjacent */
	queue(3, VIRTIO_BLK_T_IN, 80);	 /* adjacent, another type */
	run_until(4);
	for (unsigned n = 0; n < 4; n++)
		cr_assert_eq(status(n), VIRTIO_BLK_S_OK);
	cr_assert_eq(vblk_merged(&b), 2, "only the two adjacent writes");
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, back, 4096, 72 * 512), 4096);
	cr_assert_eq(back[0], 'b');
	cr_assert_eq(back[4095], 'b');
	cr_assert_eq(pread(fd, back, 4096, 200 * 512), 4096);
	cr_assert_eq(back[0], 'c');
	close(fd);
}

Test(blk, a_failing_member_fails_alone_when_past_the_end)
{
	queue(0, VIRTIO_BLK_T_IN, FILE_SIZE / 512 - 8); /* the last 4 KiB */
	queue(1, VIRTIO_BLK_T_IN, FILE_SIZE / 512);	/* past the end */
	run_until(2);
	cr_assert_eq(status(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(status(1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vblk_merged(&b), 0);
}

Test(blk, what_the_device_writes_is_marked_dirty_and_nothing_else)
{
	cr_assert(!mem_page_dirty(&mem, DATA), "clean before");
	cr_assert(!mem_page_dirty(&mem, STATUS), "clean before");
	queue(0, VIRTIO_BLK_T_IN, 0);
	queue(2, VIRTIO_BLK_T_OUT, 16); /* the device only reads this one */
	run_until(2);
	cr_assert_eq(status(0), VIRTIO_BLK_S_OK);
	cr_assert(mem_page_dirty(&mem, DATA), "read data");
	cr_assert(!mem_page_dirty(&mem, DATA + 4096), "never written");
	cr_assert(!mem_page_dirty(&mem, DATA + 2 * 4096), "write data");
	cr_assert(mem_page_dirty(&mem, STATUS), "status bytes");
	cr_assert(mem_page_dirty(&mem, USED), "used ring");
}

Test(blk, get_id_data_is_marked_dirty)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_GET_ID };
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);

	mem_write(&mem, HDRS, &h, sizeof(h));
	desc(0, HDRS, 16, VRING_DESC_F_NEXT);
	desc(1, DATA + 5 * 4096, 20, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	desc(2, STATUS, 1, VRING_DESC_F_WRITE);
	ring[2] = 0;
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
	run_until(1);
	cr_assert_eq(status(0), VIRTIO_BLK_S_OK);
	cr_assert(mem_page_dirty(&mem, DATA + 5 * 4096));
}
