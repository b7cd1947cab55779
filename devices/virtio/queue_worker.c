/* The worker thread of one virtqueue runs everything here except
 * vq_worker_init/destroy (main thread, no vCPU running) and the command
 * calls vq_worker_start/stop/kick (vCPU threads, callers serialised by the
 * device's vd->lock). The command hand-over (cmd, result, next) is under
 * w->lock, and cmd is also written atomically so that the polling worker
 * can see a pending command without the lock; the queue copy (vq), the
 * poll window and serving belong to the worker thread alone. The worker
 * never takes vd->lock, so a vCPU may hold it while it waits for the
 * worker's answer. */
#include "queue_worker.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static void clear_eventfd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was pending */
	}
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd far from its maximum */
	}
}

/* Pops everything available with the driver's notifications off: a
 * request in flight wakes this thread when it completes, and the thread
 * polls or asks for notifications again (ready_to_sleep) before it
 * sleeps, so the driver need not notify (a VM exit each) meanwhile. */
static int serve_avail(struct vq_worker *w)
{
	vq_set_notification(&w->vq, false);
	return w->cfg.ops->handle_avail(w->cfg.opaque, &w->vq);
}

/* One round of work after a kick or a completion. A broken queue pops
 * nothing more but still finishes what is in flight. */
static void serve(struct vq_worker *w)
{
	struct virtio_dev *vd = w->cfg.vd;

	if (!w->vq.broken && serve_avail(w) < 0) {
		w->vq.broken = true;
		log_guest(&vd->log, "virtio %s: queue %u broken by the driver",
			  vd->ops->name, w->cfg.index);
		virtio_mark_broken(vd);
	}
	if (vq_should_notify(&w->vq))
		virtio_queue_interrupt(vd, w->cfg.index);
}

/* Work found without sleeping: whatever completed, then the ring. */
static void serve_ready(struct vq_worker *w)
{
	w->cfg.ops->handle_completions(w->cfg.opaque, false);
	serve(w);
}

/* Stops at a safe point: nothing more is popped, and every request in
 * flight completes (its host I/O done, pushed on the rings the device
 * still owns until the caller is answered) before the queue is given
 * back. No interrupt: the driver is resetting or stopping the queue. */
static void drain(struct vq_worker *w)
{
	const struct vq_worker_ops *ops = w->cfg.ops;

	if (!w->serving)
		return;
	w->serving = false;
	__atomic_add_fetch(&w->drained, ops->inflight(w->cfg.opaque),
			   __ATOMIC_RELAXED);
	while (ops->inflight(w->cfg.opaque))
		ops->handle_completions(w->cfg.opaque, true);
}

static void answer(struct vq_worker *w, int result)
{
	pthread_mutex_lock(&w->lock);
	w->result = result;
	__atomic_store_n(&w->cmd, VQW_NONE, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->lock);
}

/* PAUSE: stops at the same safe point as STOP, then interrupts the driver
 * for what the drain pushed (the driver is not resetting: it waits for
 * those completions) and hands the queue copy over. */
static void pause_queue(struct vq_worker *w)
{
	bool was = w->serving;

	drain(w);
	w->paused = was;
	if (was && vq_should_notify(&w->vq))
		virtio_queue_interrupt(w->cfg.vd, w->cfg.index);
	pthread_mutex_lock(&w->lock);
	w->paused_vq = w->vq;
	w->paused_serving = was;
	pthread_mutex_unlock(&w->lock);
	answer(w, 0);
}

/* RESUME: the paused queue is served again, from where it stopped. */
static void resume_queue(struct vq_worker *w)
{
	bool again = w->paused && !w->serving;

	w->paused = false;
	if (again)
		w->serving = true;
	answer(w, 0);
	if (again)
		serve(w); /* nothing is lost: look at the ring now */
}

/* Runs the pending command; false when the thread is to end. */
static bool run_command(struct vq_worker *w)
{
	enum vqw_cmd cmd;
	struct virtqueue next;
	int (*fn)(void *arg);
	void *arg;

	clear_eventfd(w->ctl_fd);
	pthread_mutex_lock(&w->lock);
	cmd = w->cmd;
	next = w->next;
	fn = w->call_fn;
	arg = w->call_arg;
	pthread_mutex_unlock(&w->lock);
	switch (cmd) {
	case VQW_NONE: return true;
	case VQW_PAUSE: pause_queue(w); return true;
	case VQW_RESUME: resume_queue(w); return true;
	case VQW_CALL: answer(w, fn(arg)); return true;
	default: break;
	}
	w->paused = false;
	/* The requests in flight complete on the rings they came from: the
	 * new configuration replaces the old only after them. */
	drain(w);
	if (cmd != VQW_START) {
		answer(w, 0);
		return cmd != VQW_EXIT;
	}
	w->vq = next;
	w->serving = true;
	w->cfg.ops->start(w->cfg.opaque, &w->vq);
	__atomic_add_fetch(&w->starts, 1, __ATOMIC_RELAXED);
	answer(w, 0);
	/* Buffers made available before DRIVER_OK are served too. */
	serve(w);
	return true;
}

static unsigned poll_set(const struct vq_worker *w, struct pollfd *fds)
{
	unsigned n = 0;

	fds[n++] = (struct pollfd){ w->ctl_fd, POLLIN, 0 };
	if (!w->serving)
		return n; /* a kick waits in its eventfd for the start */
	fds[n++] = (struct pollfd){ w->kick_fd, POLLIN, 0 };
	for (unsigned i = 0; i < w->cfg.nfds; i++)
		fds[n++] = (struct pollfd){ w->cfg.fds[i], POLLIN, 0 };
	return n;
}

int vq_worker_rules(scmp_filter_ctx ctx)
{
	return sandbox_rules_eventfd_poll(ctx);
}

static bool command_pending(const struct vq_worker *w)
{
	return __atomic_load_n(&w->cmd, __ATOMIC_ACQUIRE) != VQW_NONE;
}

#define POLL_START_NS 4000 /* QEMU's first window */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Spins for the current window, the driver's notifications off: true as
 * soon as a command, a completion or an available buffer is there. */
static bool poll_window(struct vq_worker *w, enum vqw_wait kind, uint64_t start)
{
	const struct vq_worker_ops *ops = w->cfg.ops;
	uint64_t end =
		start + __atomic_load_n(&w->poll_ns[kind], __ATOMIC_RELAXED);

	vq_set_notification(&w->vq, false);
	do {
		if (command_pending(w) ||
		    ops->completions_ready(w->cfg.opaque) ||
		    vq_has_avail(&w->vq))
			return true;
		cpu_relax();
	} while (now_ns() < end);
	return false;
}

/* QEMU's rule (util/aio-posix.c): a sleep the window would have covered
 * changes nothing; one longer than the kind's maximum closes the window; a
 * shorter one opens it at 4 us or doubles it, never beyond the maximum
 * (which may be under 4 us). */
static void adapt_window(struct vq_worker *w, enum vqw_wait kind,
			 uint64_t slept_ns)
{
	uint64_t max = w->cfg.poll_max_ns[kind];
	uint64_t ns = __atomic_load_n(&w->poll_ns[kind], __ATOMIC_RELAXED);

	if (slept_ns <= ns)
		return;
	if (slept_ns > max)
		ns = 0;
	else if (ns < max)
		ns = ns ? ns * 2 : POLL_START_NS;
	if (ns > max)
		ns = max;
	__atomic_store_n(&w->poll_ns[kind], (uint32_t)ns, __ATOMIC_RELAXED);
}

/* Before sleeping. The fds polling left signalled are cleared first, so
 * that they do not end the sleep at once; a completion posted before the
 * clear is then seen by completions_ready, one after it signals again.
 * With nothing in flight the driver's notifications are turned on: a
 * buffer made available before that is seen by vq_set_notification, one
 * after it notifies. False when work arrived: serve it instead. */
static bool ready_to_sleep(struct vq_worker *w)
{
	const struct vq_worker_ops *ops = w->cfg.ops;

	if (w->fds_stale) {
		w->fds_stale = false;
		for (unsigned i = 0; i < w->cfg.nfds; i++)
			clear_eventfd(w->cfg.fds[i]);
		clear_eventfd(w->kick_fd);
		if (ops->completions_ready(w->cfg.opaque))
			return false;
	}
	if (w->vq.broken || ops->inflight(w->cfg.opaque))
		return true;
	return !vq_set_notification(&w->vq, true);
}

static void *worker_main(void *arg)
{
	struct vq_worker *w = arg;
	int r = sandbox_enter(w->cfg.sandbox);

	answer(w, r); /* vq_worker_init waits for this */
	if (r)
		return NULL;
	for (;;) {
		struct pollfd fds[2 + VQW_MAX_FDS];
		enum vqw_wait kind =
			w->serving && w->cfg.ops->inflight(w->cfg.opaque)
				? VQW_WAIT_HOST
				: VQW_WAIT_DRIVER;
		bool polling = w->serving && w->cfg.poll_max_ns[kind];
		uint64_t start = polling ? now_ns() : 0;
		unsigned n;
		bool work = false;

		if (command_pending(w)) {
			if (!run_command(w))
				return NULL;
			continue;
		}
		if (polling &&
		    __atomic_load_n(&w->poll_ns[kind], __ATOMIC_RELAXED) &&
		    poll_window(w, kind, start)) {
			if (command_pending(w))
				continue;
			serve_ready(w);
			w->fds_stale = true;
			__atomic_add_fetch(&w->poll_hits, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (w->serving && !ready_to_sleep(w)) {
			serve_ready(w);
			continue;
		}
		n = poll_set(w, fds);
		if (w->serving)
			__atomic_add_fetch(&w->sleeps, 1, __ATOMIC_RELAXED);
		if (poll(fds, n, -1) < 0)
			continue; /* EINTR */
		if (polling)
			adapt_window(w, kind, now_ns() - start);
		if (fds[0].revents & POLLIN) {
			if (!run_command(w))
				return NULL;
			continue;
		}
		for (unsigned i = 2; i < n; i++) {
			if (fds[i].revents & POLLIN) {
				clear_eventfd(fds[i].fd);
				work = true;
			}
		}
		if (work)
			w->cfg.ops->handle_completions(w->cfg.opaque, false);
		if (n > 1 && (fds[1].revents & POLLIN)) {
			clear_eventfd(w->kick_fd);
			work = true;
		}
		if (work)
			serve(w);
	}
}

/* Hands a command to the worker and waits for its answer. */
static int command(struct vq_worker *w, enum vqw_cmd cmd,
		   const struct virtqueue *q)
{
	int r;

	if (!w->have_thread)
		return -ESRCH;
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->cmd, cmd, __ATOMIC_RELEASE);
	if (q)
		w->next = *q;
	pthread_mutex_unlock(&w->lock);
	signal_eventfd(w->ctl_fd);
	pthread_mutex_lock(&w->lock);
	while (w->cmd != VQW_NONE)
		pthread_cond_wait(&w->done, &w->lock);
	r = w->result;
	pthread_mutex_unlock(&w->lock);
	return r;
}

void vq_worker_pause(struct vq_worker *w, struct virtqueue *vq, bool *serving)
{
	*serving = false;
	if (command(w, VQW_PAUSE, NULL))
		return;
	pthread_mutex_lock(&w->lock);
	*vq = w->paused_vq;
	*serving = w->paused_serving;
	pthread_mutex_unlock(&w->lock);
}

void vq_worker_resume(struct vq_worker *w)
{
	command(w, VQW_RESUME, NULL);
}

int vq_worker_call(struct vq_worker *w, int (*fn)(void *arg), void *arg)
{
	if (!w->have_thread)
		return -ESRCH;
	pthread_mutex_lock(&w->lock);
	w->call_fn = fn;
	w->call_arg = arg;
	pthread_mutex_unlock(&w->lock);
	return command(w, VQW_CALL, NULL);
}

int vq_worker_start(struct vq_worker *w, const struct virtqueue *q)
{
	return command(w, VQW_START, q);
}

void vq_worker_stop(struct vq_worker *w)
{
	command(w, VQW_STOP, NULL);
}

void vq_worker_kick(struct vq_worker *w)
{
	if (w->kick_fd >= 0)
		signal_eventfd(w->kick_fd);
}

int vq_worker_init(struct vq_worker *w, const struct vq_worker_config *cfg)
{
	int r;

	memset(w, 0, sizeof(*w));
	w->kick_fd = w->ctl_fd = -1;
	if (cfg->nfds > VQW_MAX_FDS || !cfg->ops || !cfg->ops->start ||
	    !cfg->ops->handle_avail || !cfg->ops->handle_completions ||
	    !cfg->ops->inflight ||
	    ((cfg->poll_max_ns[VQW_WAIT_DRIVER] ||
	      cfg->poll_max_ns[VQW_WAIT_HOST]) &&
	     !cfg->ops->completions_ready))
		return -EINVAL;
	w->cfg = *cfg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done, NULL);
	w->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->kick_fd < 0 || w->ctl_fd < 0) {
		r = -errno;
		log_error("virtio %s: queue %u eventfds: %s",
			  cfg->vd->ops->name, cfg->index, strerror(-r));
		return r;
	}
	__atomic_store_n(&w->cmd, VQW_SANDBOX, __ATOMIC_RELEASE);
	r = pthread_create(&w->thread, NULL, worker_main, w);
	if (r) {
		log_error("virtio %s: queue %u thread: %s", cfg->vd->ops->name,
			  cfg->index, strerror(r));
		return -r;
	}
	/* Named here, by its creator, for the seccomp violation line: the
	 * worker's own filter would refuse the write to /proc. */
	pthread_setname_np(w->thread, cfg->name);
	pthread_mutex_lock(&w->lock);
	while (w->cmd != VQW_NONE)
		pthread_cond_wait(&w->done, &w->lock);
	r = w->result;
	pthread_mutex_unlock(&w->lock);
	if (r) {
		pthread_join(w->thread, NULL);
		log_error("virtio %s: queue %u: entering the sandbox: %s",
			  cfg->vd->ops->name, cfg->index, strerror(-r));
		return r;
	}
	w->have_thread = true;
	return 0;
}

void vq_worker_destroy(struct vq_worker *w)
{
	if (w->have_thread) {
		command(w, VQW_EXIT, NULL);
		pthread_join(w->thread, NULL);
		w->have_thread = false;
	}
	if (w->kick_fd >= 0)
		close(w->kick_fd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	w->kick_fd = w->ctl_fd = -1;
}
