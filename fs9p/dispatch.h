/* Request execution for one 9p session, whatever carries the messages
 * (the virtio-9p device, a `vmm 9p-serve` connection, a test): a small
 * pool of worker threads runs fs9p_handle (blocking syscalls, several
 * requests at once), a table of the requests in flight by tag, and
 * Tflush, which never occupies a worker.
 *
 * A transport fills a struct fs9p_req (the message's iovecs and its own
 * cookie), submits it, and gets it back through its done callback with
 * reply_len set: the R-message is then in the request's out buffers (0:
 * nothing was written; the transport drops the request or returns it
 * empty). done runs on a worker thread, or on the submitting thread
 * before the submit call returns (a Tflush answered at once, a request
 * run there by fs9p_dispatch_submit_or_run); the
 * replies of one session come back in any order, as 9p allows, except
 * that a flushed request's reply always precedes its Rflush.
 *
 * Threads: init, set_session and destroy on one thread while nothing is
 * in flight; submit from one thread at a time (the transport's reader or
 * queue worker); drain from any thread. State under the dispatch's lock. */
#ifndef FS9P_DISPATCH_H
#define FS9P_DISPATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs9p.h"
#include "lib/sandbox.h"

#define FS9P_DISPATCH_MAX_WORKERS 16

struct fs9p_req {
	/* Set by the transport before submitting. */
	struct fs9p_msg msg;
	void *opaque;
	/* Set by the dispatch before done. */
	size_t reply_len;
	bool ran_inline; /* done is being called on the submitting thread */
	/* The dispatch's own. */
	uint8_t type;
	uint16_t tag;
	bool tracked;		      /* in the in-flight table */
	struct fs9p_req *prev, *next; /* in-flight table */
	struct fs9p_req *queue_next;  /* run queue */
	struct fs9p_req *flushes;     /* Tflushes parked on this one */
	struct fs9p_req *next_flush;  /* ... linked through this */
};

/* How a request is executed: fs9p_handle unless a test supplies its own
 * (to hold a request in flight at a known point). */
typedef size_t (*fs9p_handle_fn)(void *ctx, struct fs9p_session *s,
				 const struct fs9p_msg *m);

struct fs9p_dispatch_config {
	struct fs9p_session *session;
	unsigned workers; /* threads, 1 .. FS9P_DISPATCH_MAX_WORKERS */
	void (*done)(void *opaque, struct fs9p_req *r);
	void *opaque;
	const char *name;      /* thread name prefix, at most 10 chars */
	fs9p_handle_fn handle; /* NULL: fs9p_handle */
	void *handle_ctx;
	/* Entered by each worker first (NULL: none); init waits for it. */
	const struct sandbox_filter *sandbox;
};

struct fs9p_dispatch {
	struct fs9p_dispatch_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t work; /* the run queue has a request, or exit */
	pthread_cond_t idle; /* inflight reached 0 */
	struct fs9p_req *queue_head, *queue_tail; /* submitted, not started */
	struct fs9p_req *table;			  /* in flight, by tag */
	unsigned inflight;	/* submitted, done not yet returned */
	unsigned peak_inflight; /* the most at once (written under lock) */
	bool exit;
	unsigned nthreads;
	unsigned entered;  /* workers past sandbox_enter */
	int sandbox_error; /* the first failure to enter it */
	pthread_t threads[FS9P_DISPATCH_MAX_WORKERS];
	/* Atomic: statistics. */
	uint64_t requests, errors, flushes, inline_runs;
};

/* Starts the workers. 0 or -errno (nothing left to destroy). */
int fs9p_dispatch_init(struct fs9p_dispatch *d,
		       const struct fs9p_dispatch_config *cfg);
/* Drains, then ends and joins the workers. */
void fs9p_dispatch_destroy(struct fs9p_dispatch *d);

/* Queues r for execution (a Tflush is parked or answered, never queued). */
void fs9p_dispatch_submit(struct fs9p_dispatch *d, struct fs9p_req *r);

/* As submit, except that when nothing of the session is in flight r runs
 * on the calling thread: true when it did (its done callback has then
 * returned, called on this thread), false when it was queued. */
bool fs9p_dispatch_submit_or_run(struct fs9p_dispatch *d, struct fs9p_req *r);

/* Returns once every submitted request's done callback has returned. */
void fs9p_dispatch_drain(struct fs9p_dispatch *d);

/* Requests submitted whose done has not returned. */
unsigned fs9p_dispatch_inflight(struct fs9p_dispatch *d);

/* Serves a new session from now on (after a drain: a device reset). */
void fs9p_dispatch_set_session(struct fs9p_dispatch *d, struct fs9p_session *s);

#endif
