/* fs9p/dispatch.c: the worker pool, the in-flight table and Tflush, with
 * a test handler that can hold a request in flight (the core's own
 * fs9p_peek and fs9p_reply_flush parse and answer the headers). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs9p/dispatch.h"

#define MAXREQ 512
#define TREAD 116
#define RLERROR 7

struct tmsg {
	uint8_t in[16];
	uint8_t out[64];
	struct iovec iin, iout;
	struct fs9p_req req;
	pthread_t ran_on; /* the thread that handled it */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct fs9p_dispatch d;
static struct tmsg msgs[MAXREQ];
static struct fs9p_req *order[MAXREQ]; /* done, in delivery order */
static unsigned ndone, running, max_running, handled;
static uint16_t held_tag = 0xfffe; /* requests with this tag wait */
static bool release;
static struct fs9p_req *slow_done; /* its done waits for release_done */
static bool release_done;
static unsigned in_done;
static pthread_t submitter;

static void done(void *opaque, struct fs9p_req *r)
{
	cr_assert_eq(opaque, &d);
	pthread_mutex_lock(&lock);
	in_done++;
	pthread_cond_broadcast(&cond);
	while (r == slow_done && !release_done)
		pthread_cond_wait(&cond, &lock);
	order[ndone++] = r;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Replies type + 1 with the request's tag and one byte (the tag's low
 * byte); a Tread with the held tag waits for release first. A message
 * shorter than its header gets an Rlerror. */
static size_t handle(void *ctx, struct fs9p_session *s,
		     const struct fs9p_msg *m)
{
	const uint8_t *in = m->in[0].iov_base;
	uint8_t *out = m->out[0].iov_base;
	uint16_t tag = in[5] | in[6] << 8;

	cr_assert_eq(ctx, &d);
	cr_assert_eq(s, (void *)0x5e55);
	pthread_mutex_lock(&lock);
	((struct tmsg *)((char *)m - offsetof(struct tmsg, req.msg)))->ran_on =
		pthread_self();
	handled++;
	if (++running > max_running)
		max_running = running;
	pthread_cond_broadcast(&cond);
	while (m->in_len >= 7 && tag == held_tag && !release)
		pthread_cond_wait(&cond, &lock);
	running--;
	pthread_mutex_unlock(&lock);
	memcpy(out, (uint8_t[]){ 8, 0, 0, 0, in[4] + 1, in[5], in[6], in[5] },
	       8);
	if (m->in_len < 7)
		out[4] = RLERROR;
	return 8;
}

static struct fs9p_req *msg(unsigned i, uint8_t type, uint16_t tag,
			    uint16_t oldtag)
{
	struct tmsg *t = &msgs[i];
	size_t len = type == FS9P_TFLUSH ? 9 : 7;

	memset(t, 0, sizeof(*t));
	memcpy(t->in,
	       (uint8_t[]){ len, 0, 0, 0, type, tag, tag >> 8, oldtag,
			    oldtag >> 8 },
	       9);
	t->iin = (struct iovec){ t->in, len };
	t->iout = (struct iovec){ t->out, sizeof(t->out) };
	t->req.msg = (struct fs9p_msg){ &t->iin,  1, len,
					&t->iout, 1, sizeof(t->out) };
	return &t->req;
}

static void start(unsigned workers)
{
	struct fs9p_dispatch_config c = {
		.session = (void *)0x5e55,
		.workers = workers,
		.done = done,
		.opaque = &d,
		.name = "t9p",
		.handle = handle,
		.handle_ctx = &d,
	};

	ndone = running = max_running = handled = in_done = 0;
	held_tag = 0xfffe;
	release = release_done = false;
	slow_done = NULL;
	cr_assert_eq(fs9p_dispatch_init(&d, &c), 0);
}

static void set_release(void)
{
	pthread_mutex_lock(&lock);
	release = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Waits (at most 5 s) until *v reaches n. */
static void wait_for(unsigned *v, unsigned n)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 5;
	pthread_mutex_lock(&lock);
	while (*v < n)
		cr_assert_eq(pthread_cond_timedwait(&cond, &lock, &t), 0,
			     "timed out at %u of %u", *v, n);
	pthread_mutex_unlock(&lock);
}

static unsigned count(unsigned *v)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = *v;
	pthread_mutex_unlock(&lock);
	return n;
}

static uint16_t reply_tag(const struct fs9p_req *r)
{
	const uint8_t *o = r->msg.out[0].iov_base;
	return o[5] | o[6] << 8;
}

static uint8_t reply_type(const struct fs9p_req *r)
{
	return ((const uint8_t *)r->msg.out[0].iov_base)[4];
}

static void check_rflush(const struct fs9p_req *r, uint16_t tag)
{
	cr_assert_eq(r->reply_len, 7);
	cr_assert_arr_eq(
		r->msg.out[0].iov_base,
		((uint8_t[]){ 7, 0, 0, 0, FS9P_RFLUSH, tag, tag >> 8 }), 7);
}

TestSuite(fs9p_dispatch, .timeout = 20);

Test(fs9p_dispatch, flushed_reply_precedes_rflush)
{
	start(2);
	held_tag = 1;
	fs9p_dispatch_submit(&d, msg(0, TREAD, 1, 0));
	wait_for(&running, 1); /* tag 1 is running, held */
	fs9p_dispatch_submit(&d, msg(1, FS9P_TFLUSH, 2, 1));
	usleep(50000);
	cr_assert_eq(count(&ndone), 0, "Rflush was answered before the read");
	cr_assert_eq(fs9p_dispatch_inflight(&d), 2);
	set_release();
	wait_for(&ndone, 2);
	cr_assert_eq(order[0], &msgs[0].req);
	cr_assert_eq(reply_type(order[0]), TREAD + 1);
	cr_assert_eq(reply_tag(order[0]), 1);
	cr_assert_eq(order[1], &msgs[1].req);
	check_rflush(order[1], 2);
	fs9p_dispatch_drain(&d);
	cr_assert_eq(handled, 1, "the Tflush reached the handler");
	cr_assert_eq(d.flushes, 1);
	fs9p_dispatch_destroy(&d);
}

Test(fs9p_dispatch, flush_of_unknown_tag_answered_at_once)
{
	start(2);
	fs9p_dispatch_submit(&d, msg(0, FS9P_TFLUSH, 7, 99));
	/* Before submit returned, on this thread. */
	cr_assert_eq(ndone, 1);
	cr_assert_eq(order[0], &msgs[0].req);
	check_rflush(order[0], 7);
	cr_assert_eq(fs9p_dispatch_inflight(&d), 0);
	/* A tag whose request already finished is unknown too. */
	fs9p_dispatch_submit(&d, msg(1, TREAD, 3, 0));
	wait_for(&ndone, 2);
	fs9p_dispatch_drain(&d);
	fs9p_dispatch_submit(&d, msg(2, FS9P_TFLUSH, 4, 3));
	cr_assert_eq(ndone, 3);
	check_rflush(order[2], 4);
	cr_assert_eq(handled, 1);
	fs9p_dispatch_destroy(&d);
}

/* A Tflush that arrives while the reply it names is being delivered
 * (the transport's done still writing it) waits for that delivery. */
Test(fs9p_dispatch, flush_during_delivery_waits_for_it)
{
	start(2);
	slow_done = msg(0, TREAD, 1, 0);
	fs9p_dispatch_submit(&d, slow_done);
	wait_for(&in_done, 1); /* done(tag 1) entered, not returned */
	fs9p_dispatch_submit(&d, msg(1, FS9P_TFLUSH, 2, 1));
	usleep(20000);
	cr_assert_eq(count(&in_done), 1, "Rflush delivered during the reply");
	pthread_mutex_lock(&lock);
	release_done = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	wait_for(&ndone, 2);
	cr_assert_eq(order[0], &msgs[0].req);
	cr_assert_eq(order[1], &msgs[1].req);
	check_rflush(order[1], 2);
	fs9p_dispatch_destroy(&d);
}

/* One worker, busy with a held request: a second request waits in the
 * run queue, is flushed there, still runs, and its reply precedes the
 * Rflush. */
Test(fs9p_dispatch, flush_of_queued_request)
{
	start(1);
	held_tag = 1;
	fs9p_dispatch_submit(&d, msg(0, TREAD, 1, 0));
	wait_for(&running, 1);
	fs9p_dispatch_submit(&d, msg(1, TREAD, 5, 0));
	fs9p_dispatch_submit(&d, msg(2, FS9P_TFLUSH, 6, 5));
	fs9p_dispatch_submit(&d, msg(3, FS9P_TFLUSH, 8, 5));
	cr_assert_eq(count(&ndone), 0);
	set_release();
	wait_for(&ndone, 4);
	cr_assert_eq(order[0], &msgs[0].req);
	cr_assert_eq(order[1], &msgs[1].req);
	cr_assert_eq(reply_tag(order[1]), 5);
	/* Both Rflushes after the reply they wait for. */
	cr_assert(order[2] == &msgs[2].req || order[2] == &msgs[3].req);
	cr_assert(order[3] == &msgs[2].req || order[3] == &msgs[3].req);
	cr_assert_neq(order[2], order[3]);
	check_rflush(&msgs[2].req, 6);
	check_rflush(&msgs[3].req, 8);
	fs9p_dispatch_destroy(&d);
}

Test(fs9p_dispatch, requests_run_in_parallel)
{
	start(4);
	held_tag = 9;
	for (unsigned i = 0; i < 4; i++)
		fs9p_dispatch_submit(&d, msg(i, TREAD, 9, 0));
	wait_for(&running, 4); /* four at once, each held */
	cr_assert_eq(max_running, 4);
	for (unsigned i = 4; i < MAXREQ; i++)
		fs9p_dispatch_submit(&d, msg(i, TREAD, (uint16_t)(100 + i), 0));
	set_release();
	wait_for(&ndone, MAXREQ);
	fs9p_dispatch_drain(&d);
	for (unsigned i = 0; i < MAXREQ; i++) {
		const struct fs9p_req *r = &msgs[i].req;
		cr_assert_eq(r->reply_len, 8);
		cr_assert_eq(reply_tag(r), i < 4 ? 9 : 100 + i);
	}
	cr_assert_eq(max_running, 4, "more workers than configured");
	cr_assert_eq(d.requests, MAXREQ);
	cr_assert_eq(d.errors, 0);
	fs9p_dispatch_destroy(&d);
}

static bool drained;

static void *drainer(void *arg)
{
	(void)arg;
	fs9p_dispatch_drain(&d);
	pthread_mutex_lock(&lock);
	drained = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

Test(fs9p_dispatch, drain_waits_for_everything_in_flight)
{
	start(2);
	drained = false;
	fs9p_dispatch_drain(&d); /* idle: returns at once */
	held_tag = 1;
	fs9p_dispatch_submit(&d, msg(0, TREAD, 1, 0));
	fs9p_dispatch_submit(&d, msg(1, TREAD, 2, 0));
	fs9p_dispatch_submit(&d, msg(2, FS9P_TFLUSH, 3, 1));
	wait_for(&ndone, 1); /* tag 2 done; tag 1 and its flush are not */
	cr_assert_eq(pthread_create(&submitter, NULL, drainer, NULL), 0);
	usleep(50000);
	pthread_mutex_lock(&lock);
	cr_assert_not(drained, "drain returned with a request in flight");
	pthread_mutex_unlock(&lock);
	cr_assert_eq(fs9p_dispatch_inflight(&d), 2);
	set_release();
	pthread_join(submitter, NULL);
	cr_assert(drained);
	cr_assert_eq(ndone, 3, "drain returned before the Rflush");
	cr_assert_eq(fs9p_dispatch_inflight(&d), 0);
	fs9p_dispatch_destroy(&d);
}

/* A message too short for a header is run (the core answers it) and not
 * tracked; its error reply is counted. */
Test(fs9p_dispatch, short_message_runs_untracked)
{
	struct fs9p_req *r;

	start(1);
	r = msg(0, TREAD, 1, 0);
	msgs[0].iin.iov_len = r->msg.in_len = 5;
	fs9p_dispatch_submit(&d, r);
	wait_for(&ndone, 1);
	fs9p_dispatch_drain(&d);
	cr_assert_eq(reply_type(order[0]), RLERROR);
	cr_assert_not(r->tracked);
	cr_assert_eq(d.errors, 1);
	/* Short Tflush: not parsed as a flush, so run. */
	r = msg(1, FS9P_TFLUSH, 2, 1);
	msgs[1].iin.iov_len = r->msg.in_len = 8;
	fs9p_dispatch_submit(&d, r);
	wait_for(&ndone, 2);
	cr_assert_eq(handled, 2);
	fs9p_dispatch_destroy(&d);
}

Test(fs9p_dispatch, bad_config_refused)
{
	struct fs9p_dispatch_config c = { .workers = 1 };

	cr_assert_eq(fs9p_dispatch_init(&d, &c), -EINVAL); /* no done */
	c.done = done;
	c.workers = 0;
	cr_assert_eq(fs9p_dispatch_init(&d, &c), -EINVAL);
	c.workers = FS9P_DISPATCH_MAX_WORKERS + 1;
	cr_assert_eq(fs9p_dispatch_init(&d, &c), -EINVAL);
}

/* A lone request runs on the submitting thread, its done called there
 * before submit_or_run returns. */
Test(fs9p_dispatch, submit_or_run_idle_runs_on_caller)
{
	struct fs9p_req *r;

	start(2);
	r = msg(0, TREAD, 1, 0);
	cr_assert(fs9p_dispatch_submit_or_run(&d, r));
	cr_assert_eq(count(&ndone), 1, "done was not called before return");
	cr_assert_eq(order[0], r);
	cr_assert(r->ran_inline);
	cr_assert(pthread_equal(msgs[0].ran_on, pthread_self()));
	cr_assert_eq(r->reply_len, 8);
	cr_assert_eq(reply_type(r), TREAD + 1);
	cr_assert_eq(reply_tag(r), 1);
	cr_assert_eq(fs9p_dispatch_inflight(&d), 0);
	cr_assert_eq(d.inline_runs, 1);
	cr_assert_eq(d.requests, 1);
	fs9p_dispatch_destroy(&d);
}

/* With a request in flight the next one is queued: it runs on a worker
 * and completes while the first is still held. */
Test(fs9p_dispatch, submit_or_run_busy_queues)
{
	struct fs9p_req *r;

	start(2);
	held_tag = 1;
	fs9p_dispatch_submit(&d, msg(0, TREAD, 1, 0));
	wait_for(&running, 1);
	r = msg(1, TREAD, 2, 0);
	cr_assert_not(fs9p_dispatch_submit_or_run(&d, r));
	wait_for(&ndone, 1);
	cr_assert_eq(order[0], r);
	cr_assert_not(r->ran_inline);
	cr_assert_not(pthread_equal(msgs[1].ran_on, pthread_self()));
	cr_assert_eq(reply_tag(r), 2);
	set_release();
	wait_for(&ndone, 2);
	cr_assert_eq(order[1], &msgs[0].req);
	cr_assert_eq(d.inline_runs, 0);
	fs9p_dispatch_destroy(&d);
}

/* A Tflush is never run: one for a tag not in flight is answered at once
 * (on this thread, as with submit), one for a request in flight parks. */
Test(fs9p_dispatch, submit_or_run_flush_is_not_run)
{
	struct fs9p_req *f;

	start(1);
	f = msg(0, FS9P_TFLUSH, 2, 77);
	cr_assert_not(fs9p_dispatch_submit_or_run(&d, f));
	cr_assert_eq(count(&ndone), 1);
	check_rflush(order[0], 2);
	cr_assert_not(f->ran_inline);
	held_tag = 5;
	fs9p_dispatch_submit(&d, msg(1, TREAD, 5, 0));
	wait_for(&running, 1);
	cr_assert_not(
		fs9p_dispatch_submit_or_run(&d, msg(2, FS9P_TFLUSH, 6, 5)));
	cr_assert_eq(count(&ndone), 1, "the Rflush overtook the held request");
	set_release();
	wait_for(&ndone, 3);
	cr_assert_eq(order[1], &msgs[1].req);
	check_rflush(order[2], 6);
	cr_assert_eq(count(&handled), 1);
	cr_assert_eq(d.inline_runs, 0);
	fs9p_dispatch_destroy(&d);
}
