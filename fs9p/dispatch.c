/* One session's request execution. fs9p_dispatch_submit runs on the
 * transport's thread (one at a time); the workers "NAME-wN" run the
 * requests; drain may wait on any thread. The run queue, the in-flight
 * table, the parked Tflushes and the counters are under d->lock, which
 * is never held while a request runs or a done callback is called.
 *
 * Tflush (9p's flush(5)): the client gives up waiting for oldtag and may
 * reuse that tag once Rflush arrives, so Rflush must not precede the
 * original's reply. A Tflush for a request still in flight is parked on
 * it and answered right after that request's own reply has been
 * delivered; a Tflush for any other tag is answered at once. A flushed
 * request is not cancelled, even when it has not started yet: it runs
 * normally and its reply precedes Rflush. That is correct for the Linux
 * client (net/9p/client.c, p9_client_flush): it keeps the request until
 * Rflush arrives, and when a reply arrived before it (status
 * REQ_STATUS_RCVD) it takes that reply as the request's result, so a
 * Tlcreate or Twalk that ran is accounted for in the client's fids
 * rather than leaked. */
#include "dispatch.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RLERROR 7

static size_t default_handle(void *ctx, struct fs9p_session *s,
			     const struct fs9p_msg *m)
{
	(void)ctx;
	return fs9p_handle(s, m);
}

/* Byte off of the reply, 0 when it lies outside the out buffers. */
static uint8_t out_byte(const struct fs9p_msg *m, size_t off)
{
	for (unsigned i = 0; i < m->nout; i++) {
		if (off < m->out[i].iov_len)
			return ((const uint8_t *)m->out[i].iov_base)[off];
		off -= m->out[i].iov_len;
	}
	return 0;
}

static void table_add(struct fs9p_dispatch *d, struct fs9p_req *r)
{
	r->tracked = true;
	r->prev = NULL;
	r->next = d->table;
	if (d->table)
		d->table->prev = r;
	d->table = r;
}

static void table_remove(struct fs9p_dispatch *d, struct fs9p_req *r)
{
	if (!r->tracked)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		d->table = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->tracked = false;
}

static struct fs9p_req *table_find(struct fs9p_dispatch *d, uint16_t tag)
{
	for (struct fs9p_req *r = d->table; r; r = r->next)
		if (r->tag == tag)
			return r;
	return NULL;
}

/* One more request in flight, and the peak. Under d->lock. */
static void note_inflight(struct fs9p_dispatch *d)
{
	if (++d->inflight > d->peak_inflight)
		__atomic_store_n(&d->peak_inflight, d->inflight,
				 __ATOMIC_RELAXED);
}

/* One fewer request in flight; wakes drain at zero. Under d->lock. */
static void put_inflight(struct fs9p_dispatch *d, unsigned n)
{
	d->inflight -= n;
	if (!d->inflight)
		pthread_cond_broadcast(&d->idle);
}

static void answer_flush(struct fs9p_dispatch *d, struct fs9p_req *f)
{
	f->reply_len = fs9p_reply_flush(&f->msg, f->tag);
	__atomic_add_fetch(&d->flushes, 1, __ATOMIC_RELAXED);
	d->cfg.done(d->cfg.opaque, f);
}

/* Delivers r's reply, then the Rflush of every Tflush parked on it. While
 * done(r) runs, r's tag stays in the table as a tombstone on this stack
 * (after done the transport may free r), so a Tflush arriving meanwhile
 * is parked there rather than answered ahead of the reply being
 * delivered. */
static void finish(struct fs9p_dispatch *d, struct fs9p_req *r)
{
	struct fs9p_req tomb = { .tag = r->tag };
	struct fs9p_req *f;
	unsigned n = 1;

	pthread_mutex_lock(&d->lock);
	if (r->tracked) {
		table_remove(d, r);
		tomb.flushes = r->flushes;
		table_add(d, &tomb);
	}
	r->flushes = NULL;
	pthread_mutex_unlock(&d->lock);
	if (!r->reply_len || out_byte(&r->msg, 4) == RLERROR)
		__atomic_add_fetch(&d->errors, 1, __ATOMIC_RELAXED);
	d->cfg.done(d->cfg.opaque, r);
	pthread_mutex_lock(&d->lock);
	table_remove(d, &tomb);
	f = tomb.flushes;
	pthread_mutex_unlock(&d->lock);
	while (f) {
		struct fs9p_req *next = f->next_flush;
		answer_flush(d, f);
		f = next;
		n++;
	}
	pthread_mutex_lock(&d->lock);
	put_inflight(d, n);
	pthread_mutex_unlock(&d->lock);
}

/* The next queued request, or NULL when the workers are to end. */
static struct fs9p_req *take(struct fs9p_dispatch *d)
{
	struct fs9p_req *r;

	pthread_mutex_lock(&d->lock);
	while (!d->queue_head && !d->exit)
		pthread_cond_wait(&d->work, &d->lock);
	r = d->queue_head;
	if (r) {
		d->queue_head = r->queue_next;
		if (!d->queue_head)
			d->queue_tail = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

static void *worker_main(void *arg)
{
	struct fs9p_dispatch *d = arg;
	struct fs9p_req *r;
	int err = sandbox_enter(d->cfg.sandbox);

	pthread_mutex_lock(&d->lock);
	d->entered++;
	if (err && !d->sandbox_error)
		d->sandbox_error = err;
	pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->lock);
	if (err)
		return NULL;
	while ((r = take(d))) {
		struct fs9p_session *s;
		pthread_mutex_lock(&d->lock);
		s = d->cfg.session;
		pthread_mutex_unlock(&d->lock);
		r->reply_len = d->cfg.handle(d->cfg.handle_ctx, s, &r->msg);
		finish(d, r);
	}
	return NULL;
}

/* Tflush: parked on the request it names while that is in flight, else
 * answered now. */
static void submit_flush(struct fs9p_dispatch *d, struct fs9p_req *f,
			 uint16_t oldtag)
{
	struct fs9p_req *old;

	pthread_mutex_lock(&d->lock);
	old = table_find(d, oldtag);
	if (old) {
		f->next_flush = old->flushes;
		old->flushes = f;
	}
	pthread_mutex_unlock(&d->lock);
	if (old)
		return;
	answer_flush(d, f);
	pthread_mutex_lock(&d->lock);
	put_inflight(d, 1);
	pthread_mutex_unlock(&d->lock);
}

void fs9p_dispatch_submit(struct fs9p_dispatch *d, struct fs9p_req *r)
{
	uint16_t oldtag = 0;
	bool parsed = !fs9p_peek(&r->msg, &r->type, &r->tag, &oldtag);
	/* Decided now: once queued, r may be run, done and freed before
	 * this function returns. */
	bool flush = parsed && r->type == FS9P_TFLUSH;

	r->reply_len = 0;
	r->ran_inline = false;
	r->tracked = false;
	r->flushes = r->next_flush = r->queue_next = NULL;
	__atomic_add_fetch(&d->requests, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&d->lock);
	note_inflight(d);
	if (!flush) {
		/* A message too short for its header still runs: the core
		 * answers it with an Rlerror (or nothing). */
		if (parsed)
			table_add(d, r);
		if (d->queue_tail)
			d->queue_tail->queue_next = r;
		else
			d->queue_head = r;
		d->queue_tail = r;
		pthread_cond_signal(&d->work);
	}
	pthread_mutex_unlock(&d->lock);
	if (flush)
		submit_flush(d, r, oldtag);
}

/* The idle case, one request at a time, is most of a serial client's
 * traffic (a shell, a compiler reading headers): running it here spares
 * two thread hand-offs (to a worker and back) per request. No request of
 * this server blocks for long (lopen refuses FIFOs and device nodes,
 * locks are never waited for), so the caller stalls at most for one
 * request's file system calls. */
bool fs9p_dispatch_submit_or_run(struct fs9p_dispatch *d, struct fs9p_req *r)
{
	uint16_t oldtag = 0;
	bool parsed = !fs9p_peek(&r->msg, &r->type, &r->tag, &oldtag);
	struct fs9p_session *s;

	if (parsed && r->type == FS9P_TFLUSH) {
		fs9p_dispatch_submit(d, r);
		return false;
	}
	pthread_mutex_lock(&d->lock);
	if (d->inflight || d->queue_head || d->exit) {
		pthread_mutex_unlock(&d->lock);
		fs9p_dispatch_submit(d, r);
		return false;
	}
	r->reply_len = 0;
	r->ran_inline = true;
	r->tracked = false;
	r->flushes = r->next_flush = r->queue_next = NULL;
	__atomic_add_fetch(&d->requests, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&d->inline_runs, 1, __ATOMIC_RELAXED);
	note_inflight(d);
	if (parsed)
		table_add(d, r);
	s = d->cfg.session;
	pthread_mutex_unlock(&d->lock);
	r->reply_len = d->cfg.handle(d->cfg.handle_ctx, s, &r->msg);
	finish(d, r);
	return true;
}

void fs9p_dispatch_drain(struct fs9p_dispatch *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->inflight)
		pthread_cond_wait(&d->idle, &d->lock);
	pthread_mutex_unlock(&d->lock);
}

unsigned fs9p_dispatch_inflight(struct fs9p_dispatch *d)
{
	unsigned n;

	pthread_mutex_lock(&d->lock);
	n = d->inflight;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void fs9p_dispatch_set_session(struct fs9p_dispatch *d, struct fs9p_session *s)
{
	pthread_mutex_lock(&d->lock);
	d->cfg.session = s;
	pthread_mutex_unlock(&d->lock);
}

static void stop_threads(struct fs9p_dispatch *d)
{
	pthread_mutex_lock(&d->lock);
	d->exit = true;
	pthread_cond_broadcast(&d->work);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	d->nthreads = 0;
}

/* The workers take no signal: a VMM's or server's signals go to the
 * thread that waits for them. All but SIGSYS: a call the worker's seccomp
 * filter refuses must reach the handler that names it (blocked, the
 * kernel would kill the process without a word). */
static int start_threads(struct fs9p_dispatch *d)
{
	sigset_t all, old;
	int r = 0;

	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < d->cfg.workers && !r; i++) {
		char name[16];
		r = pthread_create(&d->threads[i], NULL, worker_main, d);
		if (r)
			break;
		d->nthreads++;
		snprintf(name, sizeof(name), "%.10s-w%u",
			 d->cfg.name ? d->cfg.name : "9p",
			 i % FS9P_DISPATCH_MAX_WORKERS);
		pthread_setname_np(d->threads[i], name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&d->lock);
	while (d->entered < d->nthreads)
		pthread_cond_wait(&d->idle, &d->lock);
	pthread_mutex_unlock(&d->lock);
	return r ? -r : d->sandbox_error;
}

int fs9p_dispatch_init(struct fs9p_dispatch *d,
		       const struct fs9p_dispatch_config *cfg)
{
	int r;

	memset(d, 0, sizeof(*d));
	if (!cfg->done || !cfg->workers ||
	    cfg->workers > FS9P_DISPATCH_MAX_WORKERS)
		return -EINVAL;
	d->cfg = *cfg;
	if (!d->cfg.handle)
		d->cfg.handle = default_handle;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->work, NULL);
	pthread_cond_init(&d->idle, NULL);
	r = start_threads(d);
	if (r) {
		stop_threads(d);
		pthread_cond_destroy(&d->idle);
		pthread_cond_destroy(&d->work);
		pthread_mutex_destroy(&d->lock);
	}
	return r;
}

void fs9p_dispatch_destroy(struct fs9p_dispatch *d)
{
	fs9p_dispatch_drain(d);
	stop_threads(d);
	pthread_cond_destroy(&d->idle);
	pthread_cond_destroy(&d->work);
	pthread_mutex_destroy(&d->lock);
}
