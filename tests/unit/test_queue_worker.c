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
 * flight" (in the order taken) until the test completes them: all of them
 * with release, or those taken before `posted` (a sequence number of
 * taken), as a completer thread posts them before it writes the device's
 * eventfd (as io_uring posts a completion, then signals). */
struct fake {
	struct virtqueue *vq;
	struct vq_chain chain;
	uint16_t held[QSIZE]; /* by sequence number */
	unsigned n_held;      /* atomic: the test peeks */
	unsigned taken;	      /* atomic: sequence of the next one held */
	unsigned first;	      /* atomic: sequence of the oldest held */
	unsigned posted;      /* atomic: those before it completed */
	bool hold, release;   /* atomic */
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
		unsigned t = f->taken;

		if (!__atomic_load_n(&f->hold, __ATOMIC_RELAXED)) {
			vq_push(vq, f->chain.head, 0);
			continue;
		}
		f->held[t % QSIZE] = f->chain.head;
		__atomic_store_n(&f->taken, t + 1, __ATOMIC_RELEASE);
		__atomic_store_n(&f->n_held, t + 1 - f->first,
				 __ATOMIC_RELEASE);
	}
	return r < 0 ? -EINVAL : 0;
}

static void fake_completions(void *o, bool wait)
{
	struct fake *f = o;
	unsigned end = f->taken;

	if (!wait && !__atomic_load_n(&f->release, __ATOMIC_RELAXED))
		end = __atomic_load_n(&f->posted, __ATOMIC_ACQUIRE);
	while ((int)(end - f->first) > 0) {
		vq_push(f->vq, f->held[f->first % QSIZE], 0);
		__atomic_store_n(&f->first, f->first + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&f->n_held, f->taken - f->first, __ATOMIC_RELEASE);
}

static unsigned fake_inflight(void *o)
{
	return __atomic_load_n(&((struct fake *)o)->n_held, __ATOMIC_RELAXED);
}

/* Completed requests are ready without any eventfd being written. */
static bool fake_ready(void *o)
{
	struct fake *f = o;

	return __atomic_load_n(&f->n_held, __ATOMIC_RELAXED) &&
	       (__atomic_load_n(&f->release, __ATOMIC_RELAXED) ||
		(int)(__atomic_load_n(&f->posted, __ATOMIC_ACQUIRE) -
		      f->first) > 0);
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

/* What the driver does from ACKNOWLEDGE to the queue enabled (before
 * DRIVER_OK): features word 0 (VIRTIO_F_VERSION_1 always) and queue 0. */
static void driver_init(uint32_t features_lo)
{
	status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	pthread_mutex_lock(&vd.lock);
	virtio_set_guest_features_word(&vd, 0, features_lo);
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

static bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */

/* The worker with the driver's and the host's poll maxima. */
static void setup_with2(uint32_t driver_max_ns, uint32_t host_max_ns,
			uint32_t features_lo)
{
	struct vq_worker_config c = {
		.ops = &fake_ops,
		.opaque = &f,
		.vd = &vd,
		.index = 0,
		.name = "test-q0",
		.nfds = 1,
		.poll_max_ns = { [VQW_WAIT_DRIVER] = driver_max_ns,
				 [VQW_WAIT_HOST] = host_max_ns },
	};

	dummy_virtio_setup(&mem, RAM, &vd, &dv, 1);
	virtio_dev_attach_transport(&vd, &tops, NULL);
	memset(&f, 0, sizeof(f));
	f.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c.fds[0] = f.done_fd;
	cr_assert_eq(vq_worker_init(&w, &c), 0);
	virtio_dev_set_worker(&vd, 0, &w);
	interrupts = avail_idx = 0;
	event_idx = features_lo & (1u << VIRTIO_RING_F_EVENT_IDX);
	driver_init(features_lo);
}

/* One maximum for both windows. */
static void setup_with(uint32_t poll_max_ns, uint32_t features_lo)
{
	setup_with2(poll_max_ns, poll_max_ns, features_lo);
}

static void setup(void)
{
	setup_with(0, 0);
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

static uint64_t test_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pause_us(long us)
{
	nanosleep(&(struct timespec){ 0, us * 1000 }, NULL);
}

/* The driver's side of notifications (2.7.13.2): after publishing the
 * buffers from index old on, and a full barrier, it notifies when the
 * device asked for it (avail_event with EVENT_IDX, else the used flags). */
static uint16_t avail_event(void)
{
	return used16(4 + 8 * QSIZE);
}

static bool must_kick(uint16_t old)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx)
		return vring_need_event(avail_event(), avail_idx, old);
	return !(used16(0) & VRING_USED_F_NO_NOTIFY);
}

static unsigned kicks; /* by submit */

/* One request (head: its index modulo the size, free as long as at most
 * QSIZE are outstanding), notified as a driver does. */
static void submit(void)
{
	uint16_t old = avail_idx;

	make_avail(old % QSIZE);
	if (must_kick(old)) {
		kicks++;
		vq_worker_kick(&w);
	}
}

/* Waits (up to 5 s) until at most `most` requests are outstanding. */
static bool wait_outstanding(unsigned most)
{
	uint64_t end = test_ns() + 5000000000u;

	while ((uint16_t)(avail_idx - used16(2)) > most)
		if (test_ns() > end)
			return false;
		else
			pause_us(1);
	return true;
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

/* Set by the worker (atomically). */
static bool needs_reset(void)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0;
	     i < 5000 && !(__atomic_load_n(&vd.status, __ATOMIC_ACQUIRE) &
			   VIRTIO_CONFIG_S_NEEDS_RESET);
	     i++)
		nanosleep(&ms, NULL);
	return __atomic_load_n(&vd.status, __ATOMIC_ACQUIRE) &
	       VIRTIO_CONFIG_S_NEEDS_RESET;
}

Test(queue_worker, a_broken_queue_needs_reset_and_pops_nothing_more)
{
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);

	status(0x0f);
	ring[2] = QSIZE; /* head out of range */
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
	vq_worker_kick(&w);
	cr_assert(needs_reset());
	cr_assert_eq(used16(2), 0);
	/* A reset and a new start serve again. */
	status(0);
	avail_idx = 0;
	memset(mem_ptr(&mem, AVAIL, 0x2000), 0, 0x2000);
	driver_init(0);
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
	setup_with(1000000000, 0);
}

TestSuite(queue_worker_poll, .init = setup_poll, .fini = teardown);

/* The window for the driver's next request (nothing in flight). */
static uint32_t window(void)
{
	return __atomic_load_n(&w.poll_ns[VQW_WAIT_DRIVER], __ATOMIC_RELAXED);
}

/* The window for a completion (requests in flight). */
static uint32_t host_window(void)
{
	return __atomic_load_n(&w.poll_ns[VQW_WAIT_HOST], __ATOMIC_RELAXED);
}

static uint64_t sleeps(void)
{
	return __atomic_load_n(&w.sleeps, __ATOMIC_RELAXED);
}

static uint64_t hits(void)
{
	return __atomic_load_n(&w.poll_hits, __ATOMIC_RELAXED);
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

/* Requests each held gap_ms by the host (posted, then the device's
 * eventfd written) until the worker's window for completions is at least
 * want_ns; with want_ns 0, until n requests went through. */
static void hold_each(unsigned gap_ms, uint32_t want_ns, int n)
{
	__atomic_store_n(&f.hold, true, __ATOMIC_RELAXED);
	for (int i = 0;
	     i < (want_ns ? 40 : n) && (!want_ns || host_window() < want_ns);
	     i++) {
		make_avail(avail_idx % QSIZE);
		vq_worker_kick(&w);
		cr_assert(wait_for(&f.n_held, 1));
		nanosleep(&(struct timespec){ 0, gap_ms * 1000000L }, NULL);
		__atomic_store_n(&f.posted,
				 __atomic_load_n(&f.taken, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		eventfd_write(f.done_fd, 1);
		cr_assert(wait_used(avail_idx));
	}
	__atomic_store_n(&f.hold, false, __ATOMIC_RELAXED);
	if (want_ns)
		cr_assert_geq(host_window(), want_ns,
			      "completion window %u ns after 40 requests",
			      host_window());
}

/* A buffer made available without a kick, 2 ms after the last request,
 * is served from the driver's poll window: found by polling, no sleep. */
static void served_from_the_window_without_a_kick(void)
{
	uint64_t h = hits(), slept = sleeps();

	pause_us(2000);
	make_avail(avail_idx % QSIZE); /* no kick */
	cr_assert(wait_used(avail_idx), "not served without a kick");
	cr_assert_gt(hits(), h);
	cr_assert_eq(sleeps(), slept, "served from the poll window");
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
	hold_each(20, 32768000, 0);
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
	setup_with(20000000, 0);
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

/* The two waits of a request at queue depth 1 alternate: the host's
 * I/O, then the driver's next request. A host slower than the maximum
 * closes only the completion window; the driver's stays open, so its
 * next request is still found by polling (with one window for both, each
 * slow completion closed it and every request cost two sleeps). */
Test(queue_worker_short_poll, a_slow_host_leaves_the_drivers_window_open)
{
	uint32_t before;

	status(0x0f);
	/* 16 ms or more: room for the helper's 2 ms pause on a loaded
	 * machine (two tests run at once, their workers spinning). */
	grow_window(10, 16384000);
	before = window();
	hold_each(60, 0, 3); /* each completion 60 ms: over the maximum */
	cr_assert_eq(host_window(), 0, "completion window %u ns",
		     host_window());
	cr_assert_geq(window(), before,
		      "the driver's window was %u ns, "
		      "now %u ns",
		      before, window());
	served_from_the_window_without_a_kick();
}

/* The host's maximum above the driver's (vblk's defaults are 32 us and
 * 256 us; here 20 ms and 200 ms, beyond this machine's noise). */
static void setup_long_host_poll(void)
{
	setup_with2(20000000, 200000000, 0);
}

TestSuite(queue_worker_long_host_poll, .init = setup_long_host_poll,
	  .fini = teardown);

/* Completions of 40 ms, over the driver's maximum and under the host's:
 * the completion window grows past the driver's maximum, and then such a
 * completion is found by polling, without its eventfd, while the
 * driver's window stays within its own maximum. (With
 * one maximum of 20 ms the same completions close the window:
 * a_slow_host_leaves_the_drivers_window_open.) */
Test(queue_worker_long_host_poll,
     a_completion_slower_than_the_drivers_window_is_found_by_polling)
{
	uint64_t h;

	status(0x0f);
	hold_each(40, 65536000, 0);
	cr_assert_leq(window(), 20000000, "the driver's window %u ns",
		      window());
	__atomic_store_n(&f.hold, true, __ATOMIC_RELAXED);
	make_avail(avail_idx % QSIZE);
	vq_worker_kick(&w);
	cr_assert(wait_for(&f.n_held, 1));
	/* Counted from here: the wait for the request itself may have been
	 * found by polling too. The completion is posted without its
	 * eventfd, so a worker asleep would never see it; one whose window
	 * ran out first would find it before sleeping, not by polling. */
	h = hits();
	pause_us(40000);
	__atomic_store_n(&f.release, true, __ATOMIC_RELAXED);
	cr_assert(wait_used(avail_idx), "not completed without its eventfd");
	for (int i = 0; i < 5000 && hits() < h + 1; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	cr_assert_geq(hits(), h + 1, "the completion found by polling");
	cr_assert_leq(window(), 20000000);
}

/* A host maximum of 0: never polling for completions, still polling for
 * the driver's next request. */
static void setup_no_host_poll(void)
{
	setup_with2(20000000, 0, 0);
}

TestSuite(queue_worker_no_host_poll, .init = setup_no_host_poll,
	  .fini = teardown);

Test(queue_worker_no_host_poll,
     completions_are_slept_for_and_requests_polled_for)
{
	uint64_t slept;

	status(0x0f);
	grow_window(10, 16384000); /* as a_slow_host_leaves_... */
	slept = sleeps();
	hold_each(5, 0, 5);
	cr_assert_eq(host_window(), 0, "completion window %u ns",
		     host_window());
	cr_assert_geq(sleeps(), slept + 5, "a sleep for each completion");
	served_from_the_window_without_a_kick();
}

/* A maximum under QEMU's first window of 4 us. */
static void setup_tiny_poll(void)
{
	setup_with(3999, 0);
}

TestSuite(queue_worker_tiny_poll, .init = setup_tiny_poll, .fini = teardown);

/* The device's eventfd stays signalled (a semaphore eventfd with a large
 * count: each read takes one): every time the worker goes to sleep it
 * wakes at once, a sleep far shorter than the maximum, which opens (or
 * keeps) the window, and each window it polls makes the next sleep longer
 * than the maximum, which closes it. The window, sampled meanwhile, must
 * never exceed the maximum. */
Test(queue_worker_tiny_poll, the_window_never_exceeds_a_maximum_under_4us)
{
	int busy = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	uint64_t end;
	uint32_t most = 0;

	/* Before the start: the worker does not wait on the fd yet. */
	cr_assert_eq(dup2(busy, f.done_fd), f.done_fd);
	close(busy);
	eventfd_write(f.done_fd, 1ULL << 40);
	status(0x0f);
	end = test_ns() + 300000000;
	while (most <= 3999 && test_ns() < end) {
		uint32_t ns = window(), host = host_window();
		most = ns > most ? ns : most;
		most = host > most ? host : most;
	}
	cr_assert_leq(most, 3999, "a window of %u ns", most);
}

Test(queue_worker_poll,
     a_bad_head_found_by_polling_breaks_the_queue_until_reset)
{
	uint16_t *ring = mem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);
	uint64_t h, slept;
	uint16_t used;

	status(0x0f);
	grow_window(20, 32768000);
	used = used16(2);
	h = hits();
	slept = sleeps();
	ring[2 + avail_idx % QSIZE] = QSIZE; /* head out of range, no kick */
	__atomic_store_n(&ring[1], ++avail_idx, __ATOMIC_RELEASE);
	cr_assert(needs_reset());
	cr_assert_gt(hits(), h, "found by polling");
	cr_assert_eq(sleeps(), slept);
	/* Broken: neither polling nor a kick pops anything more. */
	make_avail(1);
	vq_worker_kick(&w);
	pause_us(20000);
	cr_assert_eq(used16(2), used);
	/* A reset and a new start serve again, and poll again. */
	status(0);
	avail_idx = 0;
	memset(mem_ptr(&mem, AVAIL, 0x2000), 0, 0x2000);
	driver_init(0);
	status(0x0f);
	cr_assert_eq(__atomic_load_n(&w.starts, __ATOMIC_RELAXED), 2);
	cr_assert_geq(window(), 32768000, "the window was kept");
	make_avail(avail_idx % QSIZE);
	vq_worker_kick(&w);
	cr_assert(wait_used(avail_idx));
	h = hits();
	make_avail(avail_idx % QSIZE);
	cr_assert(wait_used(avail_idx));
	cr_assert_gt(hits(), h, "found by polling after the restart");
}

/* The exit that vq_worker_destroy sends ends a window at once and still
 * waits for what is in flight. */
Test(queue_worker_poll, exit_while_polling_drains_what_is_in_flight)
{
	uint64_t h;

	status(0x0f);
	grow_window(20, 32768000);
	h = hits();
	__atomic_store_n(&f.hold, true, __ATOMIC_RELAXED);
	make_avail(avail_idx % QSIZE);
	make_avail(avail_idx % QSIZE);
	cr_assert(wait_for(&f.n_held, 2));
	cr_assert_gt(hits(), h, "taken by polling");
	vq_worker_destroy(&w);
	cr_assert_eq(used16(2), avail_idx, "completed before the exit");
	cr_assert_eq(__atomic_load_n(&w.drained, __ATOMIC_RELAXED), 2);
	cr_assert_eq(__atomic_load_n(&f.n_held, __ATOMIC_RELAXED), 0);
}

/* A completer thread: what the worker holds completes a while after it
 * was taken (posted, then the device's eventfd written once). A posted
 * batch the worker leaves unhandled for 5 s is a lost wake-up. */
static bool completing, lost_completion; /* atomic */

static void *completer(void *arg)
{
	unsigned seed = 1;

	(void)arg;
	while (__atomic_load_n(&completing, __ATOMIC_ACQUIRE)) {
		unsigned t = __atomic_load_n(&f.taken, __ATOMIC_ACQUIRE);
		uint64_t end;

		if (t == __atomic_load_n(&f.posted, __ATOMIC_RELAXED)) {
			pause_us(1);
			continue;
		}
		end = test_ns() + rand_r(&seed) % 20000;
		while (test_ns() < end)
			;
		__atomic_store_n(&f.posted, t, __ATOMIC_SEQ_CST);
		eventfd_write(f.done_fd, 1);
		end = test_ns() + 5000000000u;
		while ((int)(t - __atomic_load_n(&f.first, __ATOMIC_ACQUIRE)) >
			       0 &&
		       __atomic_load_n(&completing, __ATOMIC_ACQUIRE)) {
			if (test_ns() > end) {
				__atomic_store_n(&lost_completion, true,
						 __ATOMIC_RELEASE);
				return NULL;
			}
			pause_us(1);
		}
	}
	return NULL;
}

static pthread_t completer_thread;

static void start_completer(void)
{
	__atomic_store_n(&f.hold, true, __ATOMIC_RELAXED);
	__atomic_store_n(&completing, true, __ATOMIC_RELEASE);
	cr_assert_eq(pthread_create(&completer_thread, NULL, completer, NULL),
		     0);
}

static void stop_completer(void)
{
	__atomic_store_n(&completing, false, __ATOMIC_RELEASE);
	pthread_join(completer_thread, NULL);
	cr_assert(!__atomic_load_n(&lost_completion, __ATOMIC_ACQUIRE),
		  "a completion was left unhandled for 5 s");
}

/* A driver that notifies only when asked, requests at random gaps (none,
 * a few us, tens of us, or idle until all are used), completions at random
 * delays: every buffer and every completion is served without any other
 * wake-up, whenever it arrives around a window's end, the clearing of the
 * eventfds or the re-enabling of notifications. */
static void no_wake_up_is_lost(unsigned n)
{
	unsigned seed = 2;

	start_completer();
	status(0x0f);
	for (unsigned i = 0; i < n; i++) {
		unsigned r = rand_r(&seed);
		uint64_t end;

		cr_assert(wait_outstanding(QSIZE - 1),
			  "request %u: %u outstanding, %u held, flags %#x "
			  "avail_event %u",
			  i, (uint16_t)(avail_idx - used16(2)),
			  __atomic_load_n(&f.n_held, __ATOMIC_RELAXED),
			  used16(0), avail_event());
		submit();
		switch (r % 8) {
		case 1:
		case 2:
		case 3:
		case 4:
			end = test_ns() + (r >> 8) % 20000;
			while (test_ns() < end)
				;
			break;
		case 5: pause_us((r >> 8) % 50); break;
		case 6:
			cr_assert(wait_outstanding(0),
				  "request %u not served: %u held, flags %#x "
				  "avail_event %u, window %u ns",
				  i,
				  __atomic_load_n(&f.n_held, __ATOMIC_RELAXED),
				  used16(0), avail_event(), window());
			if (!((r >> 8) % 4))
				pause_us(200);
			break;
		}
		cr_assert_leq(window(), w.cfg.poll_max_ns[VQW_WAIT_DRIVER]);
	}
	cr_assert(wait_outstanding(0), "the last requests not served");
	stop_completer();
	cr_assert_eq(used16(2), avail_idx);
	cr_assert_leq(kicks, n);
}

/* A maximum of 256 us: on a loaded machine windows still open and close
 * all the time, and many find work. */
static void setup_poll_256us(void)
{
	setup_with(262144, 0);
}

TestSuite(queue_worker_poll_256us, .init = setup_poll_256us, .fini = teardown);

Test(queue_worker_poll_256us, no_wake_up_is_lost, .timeout = 120)
{
	no_wake_up_is_lost(4000);
}

static void setup_poll_256us_event_idx(void)
{
	setup_with(262144, 1u << VIRTIO_RING_F_EVENT_IDX);
}

TestSuite(queue_worker_poll_256us_event_idx, .init = setup_poll_256us_event_idx,
	  .fini = teardown);

Test(queue_worker_poll_256us_event_idx, no_wake_up_is_lost, .timeout = 120)
{
	no_wake_up_is_lost(4000);
}

static void setup_poll_event_idx(void)
{
	setup_with(1000000000, 1u << VIRTIO_RING_F_EVENT_IDX);
}

TestSuite(queue_worker_poll_event_idx, .init = setup_poll_event_idx,
	  .fini = teardown);

/* With EVENT_IDX the worker turns notifications off by leaving avail_event
 * behind the buffers it took. */
Test(queue_worker_poll_event_idx, a_buffer_is_found_by_polling_without_a_kick)
{
	uint64_t h, slept;
	uint16_t old;

	status(0x0f);
	grow_window(20, 32768000);
	h = hits();
	slept = sleeps();
	old = avail_idx;
	make_avail(avail_idx % QSIZE);
	cr_assert(!must_kick(old), "avail_event %u: the driver notifies",
		  avail_event());
	cr_assert(wait_used(avail_idx), "not served without a kick");
	cr_assert_gt(hits(), h);
	cr_assert_eq(sleeps(), slept, "served from the poll window");
}

Test(queue_worker_poll_event_idx, an_idle_queue_asks_for_the_next_buffer)
{
	uint64_t slept;
	uint16_t old;

	status(0x0f);
	grow_window(20, 32768000);
	/* The worker goes to sleep once the window ran out. */
	slept = sleeps();
	for (int i = 0; i < 5000 && sleeps() == slept; i++)
		pause_us(1000);
	cr_assert_gt(sleeps(), slept);
	cr_assert_eq(avail_event(), avail_idx);
	old = avail_idx;
	make_avail(avail_idx % QSIZE);
	cr_assert(must_kick(old));
	vq_worker_kick(&w);
	cr_assert(wait_used(avail_idx));
}

/* A driver thread keeps the ring full (notifying when asked) while the
 * completer completes: nearly every window finds work. Stops and starts
 * meanwhile are answered, each stop with nothing in flight and everything
 * taken pushed, and each start resumes where the stop left the ring. */
static bool driving; /* atomic */

static unsigned submitted; /* by the driver thread */

static void *driver(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&driving, __ATOMIC_ACQUIRE)) {
		if ((uint16_t)(avail_idx - used16(2)) >= QSIZE) {
			pause_us(1);
			continue;
		}
		submit();
		submitted++;
	}
	return NULL;
}

Test(queue_worker_poll, commands_are_answered_while_every_window_finds_work,
     .timeout = 120)
{
	pthread_t t;
	uint64_t h;

	start_completer();
	status(0x0f);
	__atomic_store_n(&driving, true, __ATOMIC_RELEASE);
	cr_assert_eq(pthread_create(&t, NULL, driver, NULL), 0);
	for (int i = 0; i < 100; i++) {
		struct virtqueue q;

		pause_us(1000 + 100 * (i % 20));
		pthread_mutex_lock(&vd.lock);
		vq_worker_stop(&w);
		pthread_mutex_unlock(&vd.lock);
		/* Stopped: the worker's copy is the test's to read. */
		q = w.vq;
		cr_assert_eq(__atomic_load_n(&f.n_held, __ATOMIC_ACQUIRE), 0);
		cr_assert_eq(q.used_idx, q.last_avail);
		cr_assert_eq(used16(2), q.used_idx);
		pthread_mutex_lock(&vd.lock);
		cr_assert_eq(vq_worker_start(&w, &q), 0);
		pthread_mutex_unlock(&vd.lock);
	}
	__atomic_store_n(&driving, false, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	h = hits();
	cr_assert(wait_outstanding(0), "the last requests not served");
	stop_completer();
	cr_assert_eq(__atomic_load_n(&w.starts, __ATOMIC_RELAXED), 101);
	cr_assert_gt(h, 0);
	cr_assert_gt(submitted, 100);
}
