/* The queue worker with a fake device (no block layer): it serves from its
 * own copy of the queue, suppresses notifications while requests are in
 * flight, waits for them when stopped, and leaves nothing behind. */
#include <criterion/criterion.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <sys/eventfd.h>

#include "dummy_virtio.h"
#include "devices/virtio/queue_worker.h"

#define RAM (16ULL << 20)
#define QSIZE 16
#define DESC 0x10000ULL
#define AVAIL 0x11000ULL
#define USED 0x12000ULL
#define BUF 0x20000ULL

/* A device that completes each request at once, or holds them "in
 * flight" until the test releases them through its eventfd. */
struct fake {
	struct virtqueue *vq;
	struct vq_chain chain;
	uint16_t held[QSIZE];
	unsigned n_held;    /* atomic: the test peeks */
	bool hold, release; /* atomic */
	int done_fd;
};

static void fake_start(void *o, struct virtqueue *vq)
{
	struct fake *f = o;

	f->vq = vq;
	__atomic_store_n(&f->n_held, 0, __ATOMIC_RELAXED);
}

static int fake_avail(void *o, struct virtqueue *vq)
{
	struct fake *f = o;
	int r;

	while ((r = vq_pop(vq, &f->chain)) == 1) {
		if (__atomic_load_n(&f->hold, __ATOMIC_RELAXED))
			f->held[__atomic_fetch_add(&f->n_held, 1,
						   __ATOMIC_RELAXED)] =
				f->chain.head;
		else
			vq_push(vq, f->chain.head, 0);
	}
	return r < 0 ? -EINVAL : 0;
}

static void fake_completions(void *o, bool wait)
{
	struct fake *f = o;
	unsigned n = __atomic_load_n(&f->n_held, __ATOMIC_RELAXED);

	if (!wait && !__atomic_load_n(&f->release, __ATOMIC_RELAXED))
		return;
	for (unsigned i = 0; i < n; i++)
		vq_push(f->vq, f->held[i], 0);
	__atomic_store_n(&f->n_held, 0, __ATOMIC_RELAXED);
}

static unsigned fake_inflight(void *o)
{
	return __atomic_load_n(&((struct fake *)o)->n_held, __ATOMIC_RELAXED);
}

/* Released requests are ready without any eventfd being written. */
static bool fake_ready(void *o)
{
	struct fake *f = o;

	return __atomic_load_n(&f->release, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&f->n_held, __ATOMIC_RELAXED);
}

static const struct vq_worker_ops fake_ops = {
	.start = fake_start,
	.handle_avail = fake_avail,
	.handle_completions = fake_completions,
	.inflight = fake_inflight,
	.completions_ready = fake_ready,
};

static struct guest_mem mem;
static struct virtio_dev vd;
static struct dummy_virtio dv;
static struct fake f;
static struct vq_worker w;
static unsigned interrupts;
static uint16_t avail_idx;

static void on_queue(void *t, unsigned q)
{
	(void)t, (void)q;
	__atomic_add_fetch(&interrupts, 1, __ATOMIC_SEQ_CST);
}
static void on_config(void *t)
{
	(void)t;
}
static const struct virtio_transport_ops tops = { on_queue, on_config };

static void status(uint8_t s)
{
	pthread_mutex_lock(&vd.lock);
	virtio_set_status(&vd, s);
	pthread_mutex_unlock(&vd.lock);
}

static void setup_with(uint32_t poll_max_ns)
{
	struct vq_worker_config c = { .ops = &fake_ops,
				      .opaque = &f,
				      .vd = &vd,
				      .index = 0,
				      .name = "test-q0",
				      .nfds = 1,
				      .poll_max_ns = poll_max_ns };

	dummy_virtio_setup(&mem, RAM, &vd, &dv, 1);
	virtio_dev_attach_transport(&vd, &tops, NULL);
	memset(&f, 0, sizeof(f));
	f.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c.fds[0] = f.done_fd;
	cr_assert_eq(vq_worker_init(&w, &c), 0);
	virtio_dev_set_worker(&vd, 0, &w);
	interrupts = avail_idx = 0;
	status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	pthread_mutex_lock(&vd.lock);
	virtio_set_guest_features_word(&vd, 1, 1);
	pthread_mutex_unlock(&vd.lock);
	status(0x0b);
	pthread_mutex_lock(&vd.lock);
	virtio_set_queue_num(&vd, 0, QSIZE);
	virtio_set_queue_addr(&vd, 0, VIRTIO_RING_DESC, DESC, ~0ULL);
	virtio_set_queue_addr(&vd, 0, VIRTIO_RING_AVAIL, AVAIL, ~0ULL);
	virtio_set_queue_addr(&vd, 0, VIRTIO_RING_USED, USED, ~0ULL);
	virtio_set_queue_ready(&vd, 0, true);
	pthread_mutex_unlock(&vd.lock);
}

static void setup(void)
{
	setup_with(0);
}

static void teardown(void)
{
	status(0);
	vq_worker_destroy(&w);
	close(f.done_fd);
	mem_destroy(&mem);
}

TestSuite(queue_worker, .init = setup, .fini = teardown);

/* One writable descriptor per request, head = n. */
static void make_avail(uint16_t n)
{
	struct vring_desc d = { BUF + 64ULL * n, 64, VRING_DESC_F_WRITE, 0 };
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);

	mem_write(&mem, DESC + 16ULL * n, &d, sizeof(d));
	ring[2 + avail_idx % QSIZE] = n;
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
}

static uint16_t used16(unsigned off)
{
	return __atomic_load_n((uint16_t *)mem_ptr(&mem, USED + off, 2),
			       __ATOMIC_ACQUIRE);
}

static bool wait_for(unsigned *v, unsigned want)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0;
	     i < 5000 && __atomic_load_n(v, __ATOMIC_ACQUIRE) != want; i++)
		nanosleep(&ms, NULL);
	return __atomic_load_n(v, __ATOMIC_ACQUIRE) == want;
}

static bool wait_used(uint16_t want)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 5000 && used16(2) != want; i++)
		nanosleep(&ms, NULL);
	return used16(2) == want;
}

Test(queue_worker, starts_at_driver_ok_and_serves_from_its_own_copy)
{
	make_avail(0); /* before DRIVER_OK: served at start */
	cr_assert_eq(w.starts, 0);
	status(0x0f);
	cr_assert_eq(__atomic_load_n(&w.starts, __ATOMIC_RELAXED), 1);
	cr_assert(wait_used(1));
	/* What a racing vCPU could once do to a running queue. */
	vd.vqs[0].size = 0;
	vd.vqs[0].used = RAM + 0x1000;
	make_avail(1);
	vq_worker_kick(&w);
	cr_assert(wait_used(2));
	cr_assert(wait_for(&interrupts, 2));
	status(0x0b);
	status(0x0f);
	cr_assert_eq(__atomic_load_n(&w.starts, __ATOMIC_RELAXED), 1,
		     "DRIVER_OK again without a reset");
}

Test(queue_worker, notifications_stay_off_while_requests_are_in_flight)
{
	f.hold = true;
	status(0x0f);
	make_avail(0);
	make_avail(1);
	vq_worker_kick(&w);
	cr_assert(wait_for(&f.n_held, 2));
	cr_assert_eq(used16(0), VRING_USED_F_NO_NOTIFY);
	__atomic_store_n(&f.release, true, __ATOMIC_RELAXED);
	eventfd_write(f.done_fd, 1);
	cr_assert(wait_used(2));
	cr_assert(wait_for(&interrupts, 1));
	cr_assert_eq(used16(0), 0, "idle: the driver notifies again");
}

Test(queue_worker, stop_returns_after_requests_in_flight_completed)
{
	f.hold = true;
	status(0x0f);
	for (uint16_t i = 0; i < 3; i++)
		make_avail(i);
	vq_worker_kick(&w);
	cr_assert(wait_for(&f.n_held, 3));
	cr_assert_eq(used16(2), 0);
	pthread_mutex_lock(&vd.lock);
	virtio_set_queue_ready(&vd, 0, false);
	pthread_mutex_unlock(&vd.lock);
	cr_assert_eq(used16(2), 3, "completed before the answer");
	cr_assert_eq(w.drained, 3);
	cr_assert(!vd.vqs[0].ready);
	/* Stopped: nothing more is popped. */
	make_avail(3);
	vq_worker_kick(&w);
	nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	cr_assert_eq(used16(2), 3);
	cr_assert_eq(f.n_held, 0);
}

Test(queue_worker, a_broken_queue_needs_reset_and_pops_nothing_more)
{
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);

	status(0x0f);
	ring[2] = QSIZE; /* head out of range */
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
	vq_worker_kick(&w);
	for (int i = 0; i < 5000 && !(vd.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	     i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	cr_assert(vd.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(used16(2), 0);
	/* A reset and a new start serve again. */
	status(0);
	avail_idx = 0;
	memset(mem_ptr(&mem, AVAIL, 0x2000), 0, 0x2000);
	status(0x03);
	pthread_mutex_lock(&vd.lock);
	virtio_set_guest_features_word(&vd, 1, 1);
	pthread_mutex_unlock(&vd.lock);
	status(0x0b);
	pthread_mutex_lock(&vd.lock);
	virtio_set_queue_num(&vd, 0, QSIZE);
	virtio_set_queue_addr(&vd, 0, VIRTIO_RING_DESC, DESC, ~0ULL);
	virtio_set_queue_addr(&vd, 0, VIRTIO_RING_AVAIL, AVAIL, ~0ULL);
	virtio_set_queue_addr(&vd, 0, VIRTIO_RING_USED, USED, ~0ULL);
	virtio_set_queue_ready(&vd, 0, true);
	pthread_mutex_unlock(&vd.lock);
	status(0x0f);
	make_avail(0);
	vq_worker_kick(&w);
	cr_assert(wait_used(1));
	cr_assert_eq(__atomic_load_n(&w.starts, __ATOMIC_RELAXED), 2);
}

Test(queue_worker, init_and_destroy_leave_no_thread_or_fd)
{
	struct vq_worker_config c = { .ops = &fake_ops,
				      .opaque = &f,
				      .vd = &vd,
				      .index = 0,
				      .name = "test-x" };
	unsigned tasks = count_threads(), fds = count_entries("/proc/self/fd");
	struct vq_worker x;

	cr_assert_eq(vq_worker_init(&x, &c), 0);
	cr_assert_eq(count_threads(), tasks + 1);
	cr_assert_eq(count_entries("/proc/self/fd"), fds + 2,
		     "kick and control");
	vq_worker_destroy(&x);
	cr_assert_eq(count_threads(), tasks);
	cr_assert_eq(count_entries("/proc/self/fd"), fds);
	c.nfds = VQW_MAX_FDS + 1;
	cr_assert_eq(vq_worker_init(&x, &c), -EINVAL);
	vq_worker_destroy(&x);
}

/* Polling: windows long enough that a loaded machine does not make the
 * tests miss them. */
static void setup_poll(void)
{
	setup_with(1000000000);
}

TestSuite(queue_worker_poll, .init = setup_poll, .fini = teardown);

static uint32_t window(void)
{
	return __atomic_load_n(&w.poll_ns, __ATOMIC_RELAXED);
}

static uint64_t sleeps(void)
{
	return __atomic_load_n(&w.sleeps, __ATOMIC_RELAXED);
}

/* Requests gap_ms apart, each kicked, until the worker's window is at
 * least want_ns: each sleep shorter than the maximum doubles it. */
static void grow_window(unsigned gap_ms, uint32_t want_ns)
{
	for (int i = 0; i < 40 && window() < want_ns; i++) {
		nanosleep(&(struct timespec){ 0, gap_ms * 1000000L }, NULL);
		make_avail(avail_idx % QSIZE);
		vq_worker_kick(&w);
		cr_assert(wait_used(avail_idx));
	}
	cr_assert_geq(window(), want_ns, "window %u ns after 40 requests",
		      window());
}

Test(queue_worker_poll, the_window_opens_from_4us_and_doubles)
{
	status(0x0f);
	cr_assert_eq(window(), 0, "no polling before any work");
	make_avail(0);
	vq_worker_kick(&w);
	cr_assert(wait_used(1));
	/* The first sleep (start to the kick) was under the maximum. */
	for (int i = 0; i < 5000 && window() == 0; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	cr_assert_eq(window(), 4000);
	grow_window(5, 8192000);
}

Test(queue_worker_poll, a_buffer_is_found_by_polling_without_a_kick)
{
	uint64_t hits, slept;

	status(0x0f);
	grow_window(20, 32768000);
	hits = __atomic_load_n(&w.poll_hits, __ATOMIC_RELAXED);
	slept = sleeps();
	/* Right after a completion the worker polls for 32 ms or more. */
	make_avail(avail_idx % QSIZE);
	cr_assert(wait_used(avail_idx), "not served without a kick");
	cr_assert_gt(__atomic_load_n(&w.poll_hits, __ATOMIC_RELAXED), hits);
	cr_assert_eq(sleeps(), slept, "served from the poll window");
	cr_assert_eq(used16(0), VRING_USED_F_NO_NOTIFY,
		     "notifications stay off while polling");
}

Test(queue_worker_poll, a_completion_is_found_by_polling_without_its_eventfd)
{
	uint64_t hits;

	status(0x0f);
	grow_window(20, 32768000);
	hits = __atomic_load_n(&w.poll_hits, __ATOMIC_RELAXED);
	__atomic_store_n(&f.hold, true, __ATOMIC_RELAXED);
	make_avail(avail_idx % QSIZE);
	vq_worker_kick(&w);
	cr_assert(wait_for(&f.n_held, 1));
	__atomic_store_n(&f.release, true, __ATOMIC_RELAXED);
	cr_assert(wait_used(avail_idx), "not completed without its eventfd");
	/* Two rounds found by polling: the request, then its completion
	 * (not found only when the window ran out). */
	for (int i = 0;
	     i < 5000 &&
	     __atomic_load_n(&w.poll_hits, __ATOMIC_RELAXED) < hits + 2;
	     i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	cr_assert_eq(__atomic_load_n(&w.poll_hits, __ATOMIC_RELAXED), hits + 2);
}

Test(queue_worker_poll, an_idle_queue_stops_polling_and_notifies_again)
{
	uint64_t slept;

	status(0x0f);
	grow_window(20, 32768000);
	/* Past the window (at most ~66 ms here) the worker sleeps with the
	 * driver's notifications on. (Closing the window after a sleep over
	 * the maximum is checked with a 20 ms maximum below.) */
	nanosleep(&(struct timespec){ 0, 300000000 }, NULL);
	cr_assert_eq(used16(0), 0, "idle: the driver notifies again");
	slept = sleeps();
	cr_assert_gt(slept, 0);
}

Test(queue_worker_poll, a_command_ends_the_window_at_once)
{
	uint64_t slept;

	status(0x0f);
	grow_window(20, 32768000);
	make_avail(avail_idx % QSIZE);
	vq_worker_kick(&w);
	cr_assert(wait_used(avail_idx));
	slept = sleeps();
	/* The worker is in a window of 32 ms or more: the stop that a reset
	 * sends is answered from it, not after it ran out. */
	status(0);
	cr_assert_eq(sleeps(), slept, "answered from the poll window");
}

static void setup_short_poll(void)
{
	setup_with(20000000);
}

TestSuite(queue_worker_short_poll, .init = setup_short_poll, .fini = teardown);

Test(queue_worker_short_poll, a_sleep_longer_than_the_maximum_closes_the_window)
{
	status(0x0f);
	grow_window(5, 8192000);
	nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	make_avail(avail_idx % QSIZE);
	vq_worker_kick(&w);
	cr_assert(wait_used(avail_idx));
	for (int i = 0; i < 5000 && window() != 0; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	cr_assert_eq(window(), 0, "window %u ns after 100 ms idle", window());
}
