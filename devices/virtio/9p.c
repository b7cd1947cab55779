/* Configuration space reads run on vCPU threads under the virtio_dev
 * lock (the tag is fixed at creation, so they need nothing else);
 * activate/deactivate run there too, while the queue worker is stopped.
 * The queue runs on its worker thread "9pN-q0" (queue_worker.c), which
 * alone owns the ring copy, the slots' busy flags and inflight; the
 * dispatch's threads "9pN-wM" only run requests and hand them back
 * through the completion list (done_lock). v9p_init/v9p_destroy run on
 * the main thread while no vCPU runs. */
#include "9p.h"

#include <errno.h>
#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"

#define CONFIG_SIZE (2 + V9P_TAG_MAX)

static uint64_t v9p_features(void *opaque)
{
	(void)opaque;
	return 1ULL << VIRTIO_9P_MOUNT_TAG;
}

/* le16 tag_len, then the tag (no NUL); zeros after it. */
static void v9p_config_read(void *opaque, uint32_t off, uint8_t *data,
			    unsigned len)
{
	const struct v9p *p = opaque;
	uint8_t c[CONFIG_SIZE] = { (uint8_t)p->tag_len,
				   (uint8_t)(p->tag_len >> 8) };

	memcpy(c + 2, p->cfg.tag, p->tag_len);
	memcpy(data, c + off, len);
}

static void v9p_config_write(void *opaque, uint32_t off, const uint8_t *data,
			     unsigned len)
{
	(void)opaque, (void)off, (void)data, (void)len; /* read-only */
}

static void signal_done(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd far from its maximum */
	}
}

/* The dispatch's done callback (a dispatch thread, or the queue worker
 * itself for a Tflush answered at once or a request it ran): the request
 * joins the completion list, which only the queue worker empties. The
 * queue worker needs no wake-up for a request it ran itself: it pushes
 * it as soon as the run returns (see run_held). */
static void v9p_done(void *opaque, struct fs9p_req *r)
{
	struct v9p *p = opaque;
	struct v9p_slot *s = r->opaque;

	s->next_done = NULL;
	pthread_mutex_lock(&p->done_lock);
	if (p->done_tail)
		p->done_tail->next_done = s;
	else
		p->done_head = s;
	p->done_tail = s;
	pthread_cond_signal(&p->done_cond);
	pthread_mutex_unlock(&p->done_lock);
	if (!r->ran_inline)
		signal_done(p->done_fd);
}

/* Returns a request to the driver: the reply's bytes are marked dirty
 * now that they are complete, then the used element is pushed. */
static void push(struct v9p *p, struct v9p_slot *s, uint32_t written)
{
	const struct fs9p_msg *m = &s->req.msg;

	if (written)
		vq_mark_dirty(p->vdev.mem, m->out, m->nout, written);
	s->busy = false;
	p->inflight--;
	vq_push(p->vq, s->head, written);
}

/* Worker ops: finished requests in the order they finished (a flushed
 * request before its Rflush). With wait, blocks until one is there. */
static void v9p_handle_completions(void *opaque, bool wait)
{
	struct v9p *p = opaque;
	struct v9p_slot *s;

	pthread_mutex_lock(&p->done_lock);
	while (wait && !p->done_head)
		pthread_cond_wait(&p->done_cond, &p->done_lock);
	s = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->done_lock);
	while (s) {
		struct v9p_slot *next = s->next_done;
		push(p, s, (uint32_t)s->req.reply_len);
		s = next;
	}
}

/* A chain 9p cannot use (no request or no room for a reply): returned
 * with nothing written; the queue goes on. */
static void refuse(struct v9p *p, struct v9p_slot *s, const char *why)
{
	__atomic_add_fetch(&p->bad_chains, 1, __ATOMIC_RELAXED);
	log_guest(&p->vdev.log, "virtio 9p %s: request %u %s", p->cfg.tag,
		  s->head, why);
	push(p, s, 0);
}

/* Takes one popped chain into the slot of its head: the readable part is
 * the T-message, the writable part the room for the R-message, both
 * parsed by the core as byte streams whatever the split (the Linux
 * client puts a zero-copy Twrite's or Rread's payload in buffers of its
 * own). *out is the slot to submit, NULL when the chain was refused.
 * -EINVAL when the driver broke the queue. */
static int take(struct v9p *p, const struct vq_chain *c, struct v9p_slot **out)
{
	struct v9p_slot *s = &p->slots[c->head];
	unsigned n = c->n_out + c->n_in;

	*out = NULL;
	if (s->busy)
		return -EINVAL;
	s->busy = true;
	s->head = c->head;
	p->inflight++;
	if (!c->n_out || !c->n_in) {
		refuse(p, s,
		       c->n_out ? "has no writable part"
				: "has no readable part");
		return 0;
	}
	memcpy(s->iov, c->iov, n * sizeof(c->iov[0]));
	s->req.msg = (struct fs9p_msg){
		.in = s->iov,
		.nin = c->n_out,
		.in_len = c->out_bytes,
		.out = s->iov + c->n_out,
		.nout = c->n_in,
		.out_len = c->in_bytes,
	};
	s->req.opaque = s;
	*out = s;
	return 0;
}

static void submit(struct v9p *p, struct v9p_slot *s)
{
	fs9p_dispatch_submit(&p->dispatch, &s->req);
}

/* The last chain of a batch: run on this thread when the session is idle
 * (a serial client: no hand-off to a dispatch thread and back) and pushed
 * at once; queued like the others otherwise. */
static void run_held(struct v9p *p, struct v9p_slot *s)
{
	if (fs9p_dispatch_submit_or_run(&p->dispatch, &s->req))
		v9p_handle_completions(p, false);
}

/* Every chain but the last of a batch goes to the dispatch as soon as the
 * next one shows there is more than one: requests that arrive together
 * run in parallel. */
static int v9p_handle_avail(void *opaque, struct virtqueue *vq)
{
	struct v9p *p = opaque;
	struct v9p_slot *held = NULL, *s;
	int r;

	while ((r = vq_pop(vq, &p->chain)) == 1) {
		if (take(p, &p->chain, &s)) {
			r = -EINVAL;
			break;
		}
		if (!s)
			continue;
		if (held)
			submit(p, held);
		held = s;
	}
	if (held && r < 0)
		submit(p, held);
	else if (held)
		run_held(p, held);
	return r < 0 ? -EINVAL : 0;
}

/* A start forgets the previous run: the worker drained it (every request
 * came back and was pushed before it stopped), so every head is free and
 * nothing from before a reset can be pushed on the new rings. */
static void v9p_start_queue(void *opaque, struct virtqueue *vq)
{
	struct v9p *p = opaque;

	p->vq = vq;
	p->inflight = 0;
	for (unsigned i = 0; i < V9P_QUEUE_SIZE; i++)
		p->slots[i].busy = false;
	pthread_mutex_lock(&p->done_lock);
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->done_lock);
}

static unsigned v9p_inflight(void *opaque)
{
	return ((struct v9p *)opaque)->inflight;
}

static const struct vq_worker_ops v9p_worker_ops = {
	.start = v9p_start_queue,
	.handle_avail = v9p_handle_avail,
	.handle_completions = v9p_handle_completions,
	.inflight = v9p_inflight,
};

/* A session whose creation failed at the last reset is retried here; a
 * device without one cannot start (DEVICE_NEEDS_RESET). */
static int v9p_activate(void *opaque)
{
	struct v9p *p = opaque;
	int r;

	if (p->session)
		return 0;
	r = fs9p_session_new(p->export, FS9P_MSIZE_MAX, &p->session);
	if (r)
		return r;
	fs9p_dispatch_set_session(&p->dispatch, p->session);
	return 0;
}

/* Reset: the queue worker has stopped and drained, so no request runs;
 * the new driver gets a fresh session (every fid of the old one
 * clunked), as after a reboot. */
static void v9p_deactivate(void *opaque)
{
	struct v9p *p = opaque;

	fs9p_dispatch_drain(&p->dispatch);
	fs9p_dispatch_set_session(&p->dispatch, NULL);
	fs9p_session_free(p->session);
	p->session = NULL;
	if (fs9p_session_new(p->export, FS9P_MSIZE_MAX, &p->session))
		p->session = NULL; /* retried at the next DRIVER_OK */
	else
		fs9p_dispatch_set_session(&p->dispatch, p->session);
}

const struct virtio_device_ops v9p_ops = {
	.name = "9p",
	.device_id = VIRTIO_ID_9P,
	.features = v9p_features,
	.config_read = v9p_config_read,
	.config_write = v9p_config_write,
	.config_size = CONFIG_SIZE,
	.queue_max = V9P_QUEUE_SIZE,
	.activate = v9p_activate,
	.deactivate = v9p_deactivate,
};

void v9p_kick(struct v9p *p, unsigned queue)
{
	if (queue == 0 && p->have_worker)
		vq_worker_kick(&p->worker);
}

void v9p_counts(const struct v9p *p, struct v9p_counts *c)
{
	c->requests = __atomic_load_n(&p->dispatch.requests, __ATOMIC_RELAXED);
	c->errors = __atomic_load_n(&p->dispatch.errors, __ATOMIC_RELAXED) +
		    __atomic_load_n(&p->bad_chains, __ATOMIC_RELAXED);
	c->peak_inflight =
		__atomic_load_n(&p->dispatch.peak_inflight, __ATOMIC_RELAXED);
}

static int open_export(struct v9p *p, const struct v9p_config *cfg)
{
	struct fs9p_export_config ec = {
		.path = cfg->path,
		.security = cfg->security,
		.readonly = cfg->readonly,
	};
	int r = fs9p_export_open(&ec, &p->export);

	if (r) {
		p->export = NULL;
		log_error("--9p: %s: %s", cfg->path, strerror(-r));
		/* The user's input was wrong: the usage exit status. */
		return r == -ENOTDIR ? -EINVAL : r;
	}
	r = fs9p_session_new(p->export, FS9P_MSIZE_MAX, &p->session);
	if (r)
		log_error("--9p: %s: session: %s", cfg->path, strerror(-r));
	return r;
}

/* One role for the queue thread and the workers: both run 9p requests
 * (a lone request runs on the queue thread). Only a passthrough export
 * needs capabilities. */
void v9p_sandbox_role(enum fs9p_security security, struct sandbox_role *role)
{
	*role = (struct sandbox_role){
		.name = "virtio-9p",
		.rules = { vq_worker_rules, fs9p_rules },
		.keep_caps = security == FS9P_PASSTHROUGH
				     ? fs9p_passthrough_caps
				     : 0,
	};
}

static int build_sandbox(struct v9p *p)
{
	v9p_sandbox_role(p->cfg.security, &p->role);
	return sandbox_filter_build(&p->sandbox, &p->role, p->cfg.seccomp);
}

static int setup_dispatch(struct v9p *p)
{
	char name[16];
	struct fs9p_dispatch_config dc = {
		.session = p->session,
		.workers = V9P_WORKERS,
		.done = v9p_done,
		.opaque = p,
		.name = name,
		.sandbox = &p->sandbox,
	};
	int r;

	snprintf(name, sizeof(name), "9p%u", p->index % 1000);
	r = fs9p_dispatch_init(&p->dispatch, &dc);
	if (r) {
		log_error("--9p %s: threads: %s", p->cfg.tag, strerror(-r));
		return r;
	}
	p->have_dispatch = true;
	return 0;
}

/* The completion eventfd and the queue's worker, idle until DRIVER_OK. */
static int setup_queue(struct v9p *p)
{
	struct vq_worker_config wc = {
		.ops = &v9p_worker_ops,
		.opaque = p,
		.vd = &p->vdev,
		.index = 0,
		.nfds = 1,
		.sandbox = &p->sandbox,
	};
	char name[16];
	int r;

	p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->done_fd < 0) {
		r = -errno;
		log_error("--9p %s: eventfd: %s", p->cfg.tag, strerror(-r));
		return r;
	}
	snprintf(name, sizeof(name), "9p%u-q0", p->index % 1000);
	wc.name = name;
	wc.fds[0] = p->done_fd;
	p->have_worker = true;
	r = vq_worker_init(&p->worker, &wc);
	if (r)
		return r;
	p->kick_fd = p->worker.kick_fd;
	virtio_dev_set_worker(&p->vdev, 0, &p->worker);
	return 0;
}

int v9p_init(struct v9p *p, const struct v9p_config *cfg, unsigned index,
	     const struct guest_mem *mem)
{
	int r;

	/* The slots are not zeroed: a queue's start resets them. */
	memset(p, 0, offsetof(struct v9p, slots));
	p->kick_fd = p->done_fd = -1;
	pthread_mutex_init(&p->done_lock, NULL);
	pthread_cond_init(&p->done_cond, NULL);
	p->cfg = *cfg;
	p->index = index;
	p->tag_len = strlen(cfg->tag);
	if (!p->tag_len || p->tag_len > V9P_TAG_MAX)
		return -EINVAL;
	r = open_export(p, cfg);
	if (r)
		return r;
	r = virtio_dev_init(&p->vdev, &v9p_ops, p, 1, mem);
	if (r)
		return r;
	r = build_sandbox(p);
	if (r)
		return r;
	r = setup_dispatch(p);
	if (r)
		return r;
	return setup_queue(p);
}

void v9p_destroy(struct v9p *p)
{
	/* The worker first: it drains what is in flight on the ring. */
	if (p->have_worker)
		vq_worker_destroy(&p->worker);
	if (p->have_dispatch)
		fs9p_dispatch_destroy(&p->dispatch);
	if (p->done_fd >= 0)
		close(p->done_fd);
	if (p->session)
		fs9p_session_free(p->session);
	if (p->export)
		fs9p_export_close(p->export);
	v9p_incoming_free(&p->incoming);
	sandbox_filter_free(&p->sandbox);
	pthread_cond_destroy(&p->done_cond);
	pthread_mutex_destroy(&p->done_lock);
	p->have_worker = p->have_dispatch = false;
	p->done_fd = p->kick_fd = -1;
	p->session = NULL;
	p->export = NULL;
}
