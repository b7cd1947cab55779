/* The virtio-9p device end to end without a guest: chains written into
 * guest memory as the Linux client lays them out (zero-copy Twrite and
 * Rread split from their headers), the queue's real worker, the dispatch
 * and the server core on a temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_9p.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/9p.h"
#include "tests/unit/guest_ram.h"
#include "tests/unit/p9_client.h"

#define RAM (16ULL << 20)
#define QSIZE 64
#define DESC 0x1000ULL
#define AVAIL 0x2000ULL
#define USED 0x3000ULL
#define REQ 0x100000ULL /* 64 KiB per request: T at +0, R at +32 KiB */
#define RBUF 0x8000ULL

static struct guest_mem mem;
static struct v9p p;
static char dir[] = "/tmp/vmm-test-9p-XXXXXX";
static unsigned interrupts;
static uint16_t avail_idx, next_desc;
static struct p9b b;

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

#define STATUS_UP                                                              \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |                \
	 VIRTIO_CONFIG_S_FEATURES_OK)

/* Negotiates, lays the queue out at DESC/AVAIL/USED (rings zeroed) and
 * sets DRIVER_OK. */
static void driver_up(void)
{
	struct virtio_dev *vd = &p.vdev;

	memset(mem_ptr(&mem, DESC, 0x3000), 0, 0x3000);
	avail_idx = next_desc = 0;
	pthread_mutex_lock(&vd->lock);
	virtio_set_status(vd,
			  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_set_guest_features_word(vd, 0, 1u << VIRTIO_9P_MOUNT_TAG);
	virtio_set_guest_features_word(vd, 1, 1); /* VERSION_1 */
	virtio_set_status(vd, STATUS_UP);
	virtio_set_queue_num(vd, 0, QSIZE);
	virtio_set_queue_addr(vd, 0, VIRTIO_RING_DESC, DESC, ~0ULL);
	virtio_set_queue_addr(vd, 0, VIRTIO_RING_AVAIL, AVAIL, ~0ULL);
	virtio_set_queue_addr(vd, 0, VIRTIO_RING_USED, USED, ~0ULL);
	virtio_set_queue_ready(vd, 0, true);
	virtio_set_status(vd, STATUS_UP | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vd->lock);
	cr_assert(vd->active);
}

static void device_reset(void)
{
	pthread_mutex_lock(&p.vdev.lock);
	virtio_set_status(&p.vdev, 0);
	pthread_mutex_unlock(&p.vdev.lock);
}

static void setup(void)
{
	struct mem_config mc = { .size = RAM, .backend = MEM_BACKEND_ANON };
	struct v9p_config cfg = { .tag = "share" };

	strcpy(dir, "/tmp/vmm-test-9p-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cfg.path = dir;
	cr_assert_eq(test_mem_create(&mem, &mc), 0);
	cr_assert_eq(v9p_init(&p, &cfg, 0, &mem), 0);
	virtio_dev_attach_transport(&p.vdev, &tops, NULL);
	interrupts = 0;
	driver_up();
}

static void teardown(void)
{
	char cmd[64];

	device_reset();
	v9p_destroy(&p);
	mem_destroy(&mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(virtio_9p, .init = setup, .fini = teardown, .timeout = 30);

struct seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* Queues one chain of n segments; not yet notified. Its head. */
static uint16_t chain(const struct seg *s, unsigned n)
{
	uint16_t head = next_desc;
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);

	for (unsigned i = 0; i < n; i++) {
		struct vring_desc d = {
			s[i].addr, s[i].len,
			(uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				   (s[i].write ? VRING_DESC_F_WRITE : 0)),
			(uint16_t)((next_desc + 1) % QSIZE)
		};
		cr_assert_eq(
			mem_write(&mem, DESC + 16 * next_desc, &d, sizeof(d)),
			0);
		next_desc = (next_desc + 1) % QSIZE;
	}
	ring[2 + avail_idx % QSIZE] = head;
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* Request slot n: the built T-message at REQ + 64 KiB * n, split after
 * `split` bytes (0: one buffer); room for the reply at +RBUF, split
 * after rsplit bytes (0: one buffer of 4 KiB). */
static uint16_t queue_msg(unsigned n, size_t split, uint32_t rsplit,
			  uint32_t rlen)
{
	uint64_t t = REQ + 0x10000ULL * n, r = t + RBUF;
	struct seg s[4];
	unsigned k = 0;

	/* As the guest writes it: not through the VMM's dirty marking. */
	memcpy(mem_ptr(&mem, t, b.len), b.buf, b.len);
	memset(mem_ptr(&mem, r, rlen), 0xee, rlen);
	if (split) {
		s[k++] = (struct seg){ t, (uint32_t)split, false };
		s[k++] = (struct seg){ t + split, (uint32_t)(b.len - split),
				       false };
	} else {
		s[k++] = (struct seg){ t, (uint32_t)b.len, false };
	}
	if (rsplit) {
		s[k++] = (struct seg){ r, rsplit, true };
		s[k++] = (struct seg){ r + rsplit, rlen - rsplit, true };
	} else {
		s[k++] = (struct seg){ r, rlen, true };
	}
	return chain(s, k);
}

static uint16_t used_idx(void)
{
	uint16_t *used = mem_ptr(&mem, USED, 4);
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

/* Notifies and waits until `count` requests in all were used. */
static void run_until(uint16_t count)
{
	struct timespec ms = { 0, 1000000 };

	v9p_kick(&p, 0);
	for (int i = 0; i < 5000 && used_idx() != count; i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(used_idx(), count, "used index");
}

/* Used element i: the head and the length written. */
static void used(unsigned i, uint32_t *id, uint32_t *len)
{
	const uint32_t *e = mem_ptr(&mem, USED + 4 + 8 * (i % QSIZE), 8);
	*id = e[0];
	*len = e[1];
}

static const uint8_t *reply(unsigned n)
{
	return mem_ptr(&mem, REQ + 0x10000ULL * n + RBUF, 4096);
}

/* Sends the built message as request n (the n-th in all) and checks that
 * its reply is `len` bytes of type `type`. */
static const uint8_t *rpc(unsigned n, uint8_t type, uint32_t len)
{
	uint16_t head = queue_msg(n, 0, 0, 4096);
	uint32_t id, got;

	run_until((uint16_t)(n + 1));
	used(n, &id, &got);
	cr_assert_eq(id, head);
	cr_assert_eq(reply(n)[4], type, "reply type %u (errno %u)", reply(n)[4],
		     p9_get32(reply(n) + 7));
	cr_assert_eq(got, len);
	cr_assert_eq(p9_get32(reply(n)), len, "size field");
	return reply(n);
}

Test(virtio_9p, config_space_is_the_tag_and_the_feature_is_offered)
{
	uint8_t c[2 + V9P_TAG_MAX + 4];

	pthread_mutex_lock(&p.vdev.lock);
	virtio_config_access(&p.vdev, 0, c, 2 + V9P_TAG_MAX, false);
	cr_assert_eq(virtio_features_word(&p.vdev, 0) &
			     (1u << VIRTIO_9P_MOUNT_TAG),
		     1u << VIRTIO_9P_MOUNT_TAG);
	/* A read past the end reads zeros (the core's bound). */
	memset(c + 2 + V9P_TAG_MAX, 0xaa, 4);
	virtio_config_access(&p.vdev, 2 + V9P_TAG_MAX, c + 2 + V9P_TAG_MAX, 4,
			     false);
	pthread_mutex_unlock(&p.vdev.lock);
	cr_assert_arr_eq(c, ((uint8_t[]){ 5, 0, 's', 'h', 'a', 'r', 'e', 0 }),
			 8);
	cr_assert_eq(c[2 + V9P_TAG_MAX - 1], 0);
	cr_assert_eq(c[2 + V9P_TAG_MAX], 0);
	cr_assert_eq(v9p_ops.device_id, VIRTIO_ID_9P);
	cr_assert_eq(v9p_ops.queue_max, V9P_QUEUE_SIZE);
}

Test(virtio_9p, version_split_anywhere_in_both_directions)
{
	uint32_t id, len;
	uint16_t head;

	p9_tversion(&b, 8192);
	head = queue_msg(0, 5, 3, 4096); /* size split; reply split in size */
	run_until(1);
	used(0, &id, &len);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 21);
	cr_assert_arr_eq(
		reply(0),
		((uint8_t[]){ 21,   0,	 0,   0,   101, 0xff, 0xff, 0x00,
			      0x20, 0,	 0,   8,   0,	'9',  'P',  '2',
			      '0',  '0', '0', '.', 'L', 0xee }),
		22);
	cr_assert(mem_page_dirty(&mem, REQ + RBUF), "the reply");
	cr_assert(!mem_page_dirty(&mem, REQ), "the request is only read");
	cr_assert_geq(interrupts, 1);
}

/* Attach, create, a zero-copy Twrite (payload in its own buffer), a
 * zero-copy Tread (Rread's header and payload in separate buffers), and
 * clunk: replies byte-exact, the data on the host. */
Test(virtio_9p, create_write_read_clunk_as_the_linux_client_lays_them_out)
{
	static const char data[] = "hello, 9p over virtio";
	uint32_t n = sizeof(data) - 1, id, len;
	const uint8_t *r;
	char path[64], back[64] = { 0 };
	uint64_t t, rb;
	uint16_t head;
	int fd;

	p9_tversion(&b, 65536);
	rpc(0, 101, 21);
	p9_tattach(&b, 1, 1);
	r = rpc(1, 105, 20);
	cr_assert_eq(r[7] & 0x80, 0x80, "the root is a directory");
	p9_twalk(&b, 2, 1, 2, NULL);
	rpc(2, 111, 9);
	p9_tlcreate(&b, 3, 2, "f", 2 /* O_RDWR */, 0644);
	r = rpc(3, 15, 24);
	cr_assert_eq(r[7], 0, "a regular file's qid type");

	/* Twrite: 23 bytes of header in one buffer, the payload in another. */
	p9_twrite(&b, 4, 2, 0, data, n);
	t = REQ + 0x10000ULL * 4;
	rb = t + RBUF;
	cr_assert_eq(mem_write(&mem, t, b.buf, 23), 0);
	cr_assert_eq(mem_write(&mem, t + 0x4000, b.buf + 23, n), 0);
	head = chain((struct seg[]){ { t, 23, false },
				     { t + 0x4000, n, false },
				     { rb, 11, true } },
		     3);
	run_until(5);
	used(4, &id, &len);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 11);
	cr_assert_arr_eq(mem_ptr(&mem, rb, 11),
			 ((uint8_t[]){ 11, 0, 0, 0, 119, 4, 0, n, 0, 0, 0 }),
			 11);
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, back, sizeof(back)), n);
	close(fd);
	cr_assert_str_eq(back, data);

	/* Tread: the reply's 11-byte header and its data in two buffers. */
	p9_tread(&b, 5, 2, 7, 64);
	t = REQ + 0x10000ULL * 5;
	rb = t + RBUF;
	cr_assert_eq(mem_write(&mem, t, b.buf, b.len), 0);
	head = chain((struct seg[]){ { t, (uint32_t)b.len, false },
				     { rb, 11, true },
				     { rb + 0x2000, 64, true } },
		     3);
	run_until(6);
	used(5, &id, &len);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 11 + n - 7);
	cr_assert_arr_eq(
		mem_ptr(&mem, rb, 11),
		((uint8_t[]){ 11 + n - 7, 0, 0, 0, 117, 5, 0, n - 7, 0, 0, 0 }),
		11);
	cr_assert_arr_eq(mem_ptr(&mem, rb + 0x2000, n - 7), data + 7, n - 7);
	cr_assert(mem_page_dirty(&mem, rb + 0x2000), "Rread's data");

	p9_tclunk(&b, 6, 2);
	r = rpc(6, 121, 7);
	cr_assert_arr_eq(r, ((uint8_t[]){ 7, 0, 0, 0, 121, 6, 0 }), 7);
}

/* A chain with no writable part, or no readable part, is returned with
 * nothing written; the queue goes on serving. */
Test(virtio_9p, chains_without_a_request_or_room_for_a_reply)
{
	uint32_t id, len;
	uint16_t h0, h1, h2;

	p9_tversion(&b, 8192);
	cr_assert_eq(mem_write(&mem, REQ, b.buf, b.len), 0);
	h0 = chain((struct seg[]){ { REQ, (uint32_t)b.len, false } }, 1);
	h1 = chain((struct seg[]){ { REQ + RBUF, 4096, true } }, 1);
	h2 = queue_msg(2, 0, 0, 4096);
	run_until(3);
	used(0, &id, &len);
	cr_assert_eq(id, h0);
	cr_assert_eq(len, 0);
	used(1, &id, &len);
	cr_assert_eq(id, h1);
	cr_assert_eq(len, 0);
	used(2, &id, &len);
	cr_assert_eq(id, h2);
	cr_assert_eq(len, 21);
	cr_assert_eq(p.bad_chains, 2);
	cr_assert_eq(p.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* A request that needs more room than the chain offers gets an error or
 * nothing, never a write past its buffers. */
Test(virtio_9p, tiny_reply_buffer)
{
	uint32_t id, len;

	p9_tversion(&b, 8192);
	queue_msg(0, 0, 0, 5); /* not even an Rlerror (11 bytes) fits */
	memset(mem_ptr(&mem, REQ + RBUF + 5, 11), 0xee, 11);
	run_until(1);
	used(0, &id, &len);
	cr_assert_eq(len, 0);
	cr_assert_eq(reply(0)[5], 0xee, "written past the buffer");
}

/* A test handler that holds requests (every one, or only those of
 * hold_tag) until released. */
#define HOLD_ALL 0x10000u
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static bool released;
static unsigned holding;
static unsigned hold_tag = HOLD_ALL;

static size_t held_handle(void *ctx, struct fs9p_session *s,
			  const struct fs9p_msg *m)
{
	const uint8_t *h = m->in[0].iov_base;
	unsigned tag = h[5] | h[6] << 8;

	(void)ctx;
	pthread_mutex_lock(&hold_lock);
	if (hold_tag == HOLD_ALL || tag == hold_tag) {
		holding++;
		pthread_cond_broadcast(&hold_cond);
		while (!released)
			pthread_cond_wait(&hold_cond, &hold_lock);
		holding--;
	}
	pthread_mutex_unlock(&hold_lock);
	return fs9p_handle(s, m);
}

static void hold_requests(void)
{
	released = false;
	holding = 0;
	hold_tag = HOLD_ALL;
	p.dispatch.cfg.handle = held_handle;
}

static void wait_holding(unsigned n)
{
	pthread_mutex_lock(&hold_lock);
	while (holding < n)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

static void *release_later(void *arg)
{
	(void)arg;
	usleep(100000);
	pthread_mutex_lock(&hold_lock);
	released = true;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
	return NULL;
}

/* Tflush of a request in flight: its reply is used first, then Rflush. */
Test(virtio_9p, flush_answered_after_the_flushed_reply)
{
	uint32_t id, len;
	uint16_t h0, h1;
	pthread_t t;

	hold_requests();
	p9_tversion(&b, 8192);
	h0 = queue_msg(0, 0, 0, 4096);
	v9p_kick(&p, 0);
	wait_holding(1);
	p9_tflush(&b, 9, P9_NOTAG);
	h1 = queue_msg(1, 0, 0, 4096);
	v9p_kick(&p, 0);
	usleep(50000);
	cr_assert_eq(used_idx(), 0, "Rflush before the flushed reply");
	pthread_create(&t, NULL, release_later, NULL);
	run_until(2);
	pthread_join(t, NULL);
	used(0, &id, &len);
	cr_assert_eq(id, h0);
	cr_assert_eq(len, 21);
	used(1, &id, &len);
	cr_assert_eq(id, h1);
	cr_assert_eq(len, 7);
	cr_assert_arr_eq(reply(1), ((uint8_t[]){ 7, 0, 0, 0, 109, 9, 0 }), 7);
}

/* A reset with a request in flight returns only after that request was
 * answered on the old rings; the next run starts clean, on a new session
 * (the old fid is gone). */
Test(virtio_9p, reset_mid_request_drains_and_starts_a_new_session)
{
	uint32_t id, len;
	pthread_t t;

	p9_tversion(&b, 8192);
	rpc(0, 101, 21);
	p9_tattach(&b, 1, 1);
	rpc(1, 105, 20);
	hold_requests();
	p9_twalk(&b, 2, 1, 2, NULL);
	queue_msg(2, 0, 0, 4096);
	v9p_kick(&p, 0);
	wait_holding(1);
	pthread_create(&t, NULL, release_later, NULL);
	device_reset(); /* waits for the held walk */
	pthread_join(t, NULL);
	cr_assert_eq(used_idx(), 3, "the walk was answered before the reset");
	used(2, &id, &len);
	cr_assert_eq(len, 9);
	cr_assert_eq(p.vdev.status, 0);

	driver_up(); /* held_handle passes everything through now */
	cr_assert_eq(used_idx(), 0, "a stale push on the new rings");
	p9_tversion(&b, 8192);
	rpc(0, 101, 21);
	p9_tclunk(&b, 1, 1); /* fid 1 belonged to the old session */
	rpc(1, P9_RLERROR, 11);
}

Test(virtio_9p, queue_disabled_with_a_request_in_flight)
{
	pthread_t t;

	hold_requests();
	p9_tversion(&b, 8192);
	queue_msg(0, 0, 0, 4096);
	v9p_kick(&p, 0);
	wait_holding(1);
	pthread_create(&t, NULL, release_later, NULL);
	pthread_mutex_lock(&p.vdev.lock);
	virtio_set_queue_ready(&p.vdev, 0, false);
	pthread_mutex_unlock(&p.vdev.lock);
	pthread_join(t, NULL);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(p.inflight, 0);
	/* DRIVER_OK again is ignored; the device still resets cleanly. */
	pthread_mutex_lock(&p.vdev.lock);
	virtio_set_status(&p.vdev, STATUS_UP | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&p.vdev.lock);
}

/* A driver that makes a head available again while it is in flight
 * breaks the queue (DEVICE_NEEDS_RESET); the request in flight still
 * completes before a reset returns, and the device serves again after
 * it. */
Test(virtio_9p, busy_head_reused_breaks_the_queue)
{
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);
	uint16_t head;
	uint32_t id, len;
	pthread_t t;

	/* Two requests in one batch: the first (a Tversion, held) goes to a
	 * dispatch thread, the last (a Tclunk of no fid) runs on the queue
	 * worker, which is then free to see the reused head. */
	hold_requests();
	hold_tag = P9_NOTAG;
	p9_tversion(&b, 8192);
	head = queue_msg(0, 0, 0, 4096);
	p9_tclunk(&b, 7, 1);
	queue_msg(1, 0, 0, 4096);
	v9p_kick(&p, 0);
	wait_holding(1);
	for (int i = 0; i < 5000 && used_idx() != 1; i++)
		usleep(1000);
	cr_assert_eq(used_idx(), 1, "the unheld request was not answered");
	used(0, &id, &len);
	cr_assert_eq(len, 11);
	cr_assert_eq(reply(1)[4], P9_RLERROR);
	ring[2 + avail_idx % QSIZE] = head;
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
	v9p_kick(&p, 0);
	for (int i = 0;
	     i < 5000 && !(__atomic_load_n(&p.vdev.status, __ATOMIC_ACQUIRE) &
			   VIRTIO_CONFIG_S_NEEDS_RESET);
	     i++)
		usleep(1000);
	cr_assert_neq(p.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	pthread_create(&t, NULL, release_later, NULL);
	device_reset(); /* returns once the held request completed */
	pthread_join(t, NULL);
	cr_assert_eq(used_idx(), 1, "a broken queue is not written");
	driver_up();
	p9_tversion(&b, 8192);
	rpc(0, 101, 21);
}

/* A lone request runs on the queue worker itself; one that comes while
 * another is in flight goes to the dispatch's threads. */
Test(virtio_9p, lone_request_runs_on_the_queue_worker)
{
	pthread_t t;

	p9_tversion(&b, 8192);
	rpc(0, 101, 21);
	cr_assert_eq(p.dispatch.inline_runs, 1);
	cr_assert_eq(p.dispatch.requests, 1);
	hold_requests();
	hold_tag = 1;
	p9_tclunk(&b, 1, 1);
	queue_msg(1, 0, 0, 4096);
	p9_tclunk(&b, 2, 2);
	queue_msg(2, 0, 0, 4096);
	v9p_kick(&p, 0);
	wait_holding(1);
	for (int i = 0; i < 5000 && used_idx() != 2; i++)
		usleep(1000);
	cr_assert_eq(used_idx(), 2, "the second waited for the first");
	cr_assert_eq(p.dispatch.inline_runs, 1);
	pthread_create(&t, NULL, release_later, NULL);
	run_until(3);
	pthread_join(t, NULL);
	cr_assert_eq(p.dispatch.requests, 3);
	cr_assert_eq(p.dispatch.inline_runs, 1);
}

Test(virtio_9p_init, refuses_a_missing_directory_or_a_file)
{
	struct v9p_config cfg = { .path = "/nonexistent/vmm-9p", .tag = "t" };
	struct guest_mem m;
	struct mem_config mc = { .size = RAM, .backend = MEM_BACKEND_ANON };
	static struct v9p q;

	cr_assert_eq(test_mem_create(&m, &mc), 0);
	cr_assert_eq(v9p_init(&q, &cfg, 0, &m), -ENOENT);
	v9p_destroy(&q);
	cfg.path = "/etc/passwd";
	cr_assert_eq(v9p_init(&q, &cfg, 0, &m), -EINVAL, "ENOTDIR: usage");
	v9p_destroy(&q);
	mem_destroy(&m);
}
