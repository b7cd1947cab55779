/* A virtqueue's worker: the one thread that serves one queue of a virtio
 * device ("vdX-qN"), whatever the device type. It owns the queue's life:
 *
 * - It is created with the device (vq_worker_init, on the main thread):
 *   its thread, a kick eventfd (the VMM binds the queue's ioeventfd to it)
 *   and a control eventfd. A vCPU thread never creates a thread, an
 *   eventfd or an io_uring; it only asks the worker to start or stop and
 *   waits for the answer.
 * - vq_worker_start hands it a copy of the queue's configuration (size,
 *   ring addresses, negotiated ring features) which it serves from; the
 *   driver's registers are never read again until the next start, so a
 *   register the driver rewrites cannot change a running queue.
 * - vq_worker_stop returns once the worker has stopped at a safe point:
 *   it pops nothing more and waits until every request it started has
 *   completed (host I/O into guest buffers and slots finished), so the
 *   caller may then reset or reconfigure the queue.
 * - While requests are in flight the driver's notifications stay
 *   suppressed: their completions wake the worker, which looks at the ring
 *   again, so a busy queue costs the guest no exits.
 * - With a poll window (poll_max_ns), before it sleeps the worker polls
 *   the avail ring and the device's completions for a while, with the
 *   driver's notifications still off, as QEMU's AioContext does. The
 *   window adapts: it grows (from 4 us, doubling, up to its maximum) while
 *   the worker keeps sleeping for less than that maximum, and drops to 0
 *   after a longer sleep, so an idle queue costs no polling. There are two
 *   windows, by what the worker waits for (enum vqw_wait), each with a
 *   maximum of its own: with requests in flight, the host; with none, the
 *   driver. At queue depth 1 the two waits alternate, and one window for
 *   both was closed by every completion slower than its maximum, so the
 *   driver's next request, there within microseconds, always cost a sleep
 *   and a wake-up. The host's maximum may be longer than the driver's: a
 *   completion that takes longer than the driver's window but arrives
 *   while the worker still polls saves a sleep and a wake-up per request,
 *   and the polling costs CPU only while the host works on a request the
 *   worker is waiting for (README, bench/blk).
 *
 * The device supplies a const struct vq_worker_ops and may give the
 * worker extra eventfds to wait on (e.g. its io_uring completion eventfd).
 *
 * Threads: vq_worker_start/stop on vCPU threads under the device's
 * vd->lock (one caller at a time); init/destroy on the main thread while
 * no vCPU runs. Everything else runs on the worker thread. */
#ifndef DEVICES_VIRTIO_QUEUE_WORKER_H
#define DEVICES_VIRTIO_QUEUE_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "lib/sandbox.h"
#include "virtio.h"
#include "virtqueue.h"

#define VQW_MAX_FDS 2 /* extra eventfds a device may add */

/* What a worker about to sleep waits for, each kind with a poll window
 * of its own: the driver's next request (nothing in flight), or the host
 * completing one. */
enum vqw_wait { VQW_WAIT_DRIVER, VQW_WAIT_HOST, VQW_WAITS };

/* Called on the worker thread only, with the device's per-queue state as
 * opaque. */
struct vq_worker_ops {
	/* The queue starts serving from vq (the worker's copy): forget any
	 * per-request state of an earlier run. */
	void (*start)(void *opaque, struct virtqueue *vq);
	/* Pops and starts every available request on vq and hands the batch
	 * to the host. 0, or -EINVAL when the driver broke the queue. */
	int (*handle_avail)(void *opaque, struct virtqueue *vq);
	/* Finishes requests whose host I/O completed (pushing them on vq);
	 * with wait, blocks until at least one completes. */
	void (*handle_completions)(void *opaque, bool wait);
	/* Requests started and not completed. */
	unsigned (*inflight)(void *opaque);
	/* Optional, for polling: true when handle_completions has work,
	 * without a system call. */
	bool (*completions_ready)(void *opaque);
};

struct vq_worker_config {
	const struct vq_worker_ops *ops;
	void *opaque;
	struct virtio_dev *vd;
	unsigned index;	      /* the queue */
	const char *name;     /* thread name, at most 15 characters */
	int fds[VQW_MAX_FDS]; /* extra eventfds; the worker clears them */
	unsigned nfds;
	/* Entered by the thread before it touches guest data; built by the
	 * device from vq_worker_rules plus its own (NULL: none). */
	const struct sandbox_filter *sandbox;
	/* Longest poll window before sleeping, ns, for each kind of wait
	 * (enum vqw_wait); 0: never poll for that kind. */
	uint32_t poll_max_ns[VQW_WAITS];
};

/* What the worker itself does, for the device's sandbox role: eventfd
 * reads and writes and poll(2) (clock_gettime, which the poll window reads,
 * is in every role's base rules). */
int vq_worker_rules(scmp_filter_ctx ctx);

enum vqw_cmd {
	VQW_NONE,
	VQW_START,
	VQW_STOP,
	VQW_EXIT,
	VQW_SANDBOX,
	VQW_PAUSE,
	VQW_RESUME,
	VQW_CALL,
};

struct vq_worker {
	/* Set by vq_worker_init, then read-only. */
	struct vq_worker_config cfg;
	int kick_fd;
	int ctl_fd;
	pthread_t thread;
	bool have_thread;
	/* The command hand-over, under lock: one command at a time. */
	pthread_mutex_t lock;
	pthread_cond_t done;
	enum vqw_cmd cmd;
	int result;
	struct virtqueue next; /* configuration handed over by START */
	/* CALL's function and argument; PAUSE's answer: the queue copy and
	 * whether it was serving. */
	int (*call_fn)(void *arg);
	void *call_arg;
	struct virtqueue paused_vq;
	bool paused_serving;
	/* Worker thread only. */
	struct virtqueue vq;
	bool serving;
	bool paused;	/* PAUSE stopped a serving queue; RESUME restarts it */
	bool fds_stale; /* polling found work that also signalled the fds */
	/* Atomic, for tests and statistics: how many times the worker
	 * started; requests it waited for when told to stop; the current
	 * poll window (ns); rounds of work found by polling; sleeps. */
	unsigned starts;
	uint64_t drained;
	uint32_t poll_ns[VQW_WAITS];
	uint64_t poll_hits;
	uint64_t sleeps;
};

/* Creates the eventfds and the thread, which enters its sandbox (init
 * waits for that) and waits for a start. 0 or -errno (logged);
 * vq_worker_destroy undoes a partial init. */
int vq_worker_init(struct vq_worker *w, const struct vq_worker_config *cfg);
/* Stops (draining), ends and joins the thread, closes the eventfds. */
void vq_worker_destroy(struct vq_worker *w);

/* Serves the queue configured in *q (the caller validated it with
 * vq_enable). A running worker is stopped first. 0 or -errno. */
int vq_worker_start(struct vq_worker *w, const struct virtqueue *q);
/* Returns when the worker no longer uses the queue and nothing it
 * started is in flight. A no-op when it is not serving. */
void vq_worker_stop(struct vq_worker *w);

/* A snapshot or a migration (devices/virtio/virtio_state.h). Pause stops
 * like vq_worker_stop (nothing more popped, everything in flight
 * completed) but keeps the queue: the driver is interrupted for what the
 * drain completed when it asked to be, and *vq receives the worker's copy
 * (ring indices included), *serving whether it was serving. Resume serves
 * that same queue again (a no-op when it was not serving). Any thread,
 * callers serialised as for start and stop. */
void vq_worker_pause(struct vq_worker *w, struct virtqueue *vq, bool *serving);
void vq_worker_resume(struct vq_worker *w);
/* Runs fn(arg) on the worker thread (which owns the device's per-queue
 * host state, e.g. an io_uring) and returns its result; -ESRCH without a
 * thread. */
int vq_worker_call(struct vq_worker *w, int (*fn)(void *arg), void *arg);

/* QueueNotify without an ioeventfd; any thread. */
void vq_worker_kick(struct vq_worker *w);

#endif
