/* One `vmm 9p-serve` connection. Its reader thread "9p-connN" reads
 * size-framed T-messages, each into a buffer of its own, and submits them
 * to the connection's dispatch (or runs a lone one itself); whoever ran a
 * request writes its reply under write_lock (one whole message at a
 * time, so replies never interleave) and frees it. fd, pending and finished are under
 * lock; the accept thread reaps finished connections (serve9p.c). */
#include "serve9p.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

#define log_serve(...) log_line("vmm 9p-serve: ", __VA_ARGS__)

struct sreq {
	struct fs9p_req req;
	struct serve9p_conn *conn;
	struct iovec in, out;
	uint8_t *out_buf;
	uint8_t in_buf[]; /* the T-message */
};

/* Reads exactly len bytes: 1, 0 at end of stream before the first byte,
 * -errno otherwise (a stream cut inside a message is -EPIPE). */
static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got ? -EPIPE : 0;
		got += (size_t)n;
	}
	return 1;
}

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The dispatch's done callback (a worker, or the reader for a Tflush
 * answered at once or a request it ran). A failed write ends the connection: the reader sees
 * the socket shut down and cleans up. */
static void conn_done(void *opaque, struct fs9p_req *r)
{
	struct serve9p_conn *c = opaque;
	struct sreq *q = r->opaque;

	if (r->reply_len) {
		pthread_mutex_lock(&c->write_lock);
		if (write_full(c->fd, q->out_buf, r->reply_len))
			shutdown(c->fd, SHUT_RDWR);
		pthread_mutex_unlock(&c->write_lock);
	}
	free(q->out_buf);
	free(q);
	pthread_mutex_lock(&c->lock);
	c->pending--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* A request for a message of size bytes whose first 4 (the size) were
 * read already; room for a reply of the session's msize. */
static struct sreq *new_req(struct serve9p_conn *c, uint32_t size,
			    const uint8_t *hdr)
{
	uint32_t msize = fs9p_session_msize(c->session);
	struct sreq *q = malloc(sizeof(*q) + size);

	if (!q)
		return NULL;
	q->out_buf = malloc(msize);
	if (!q->out_buf) {
		free(q);
		return NULL;
	}
	q->conn = c;
	q->in = (struct iovec){ q->in_buf, size };
	q->out = (struct iovec){ q->out_buf, msize };
	q->req.msg = (struct fs9p_msg){ &q->in, 1, size, &q->out, 1, msize };
	q->req.opaque = q;
	memcpy(q->in_buf, hdr, 4);
	return q;
}

/* At most SERVE9P_PENDING requests in flight: a client that sends
 * faster than its replies are read waits in the socket. */
static void wait_room(struct serve9p_conn *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->pending >= SERVE9P_PENDING)
		pthread_cond_wait(&c->cond, &c->lock);
	c->pending++;
	pthread_mutex_unlock(&c->lock);
}

/* Whether the client has sent more already: then this message goes to a
 * worker, so that what follows runs in parallel with it; a lone message
 * runs on the reader itself when nothing else is in flight (see
 * fs9p_dispatch_submit_or_run). */
static bool more_to_read(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Reads and submits one message. 1 to go on, 0 at the end of the
 * stream, -errno to close the connection. */
static int read_one(struct serve9p_conn *c)
{
	uint8_t hdr[4];
	uint32_t size, msize = fs9p_session_msize(c->session);
	struct sreq *q;
	int r = read_full(c->fd, hdr, 4);

	if (r <= 0)
		return r;
	size = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 |
	       (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (size < FS9P_HDR_SIZE || size > msize) {
		log_serve("connection %u: message size %u is not within "
			  "%u..%u; closing it",
			  c->id, size, FS9P_HDR_SIZE, msize);
		return -EPROTO;
	}
	q = new_req(c, size, hdr);
	if (!q)
		return -ENOMEM;
	r = read_full(c->fd, q->in_buf + 4, size - 4);
	if (r <= 0) {
		free(q->out_buf);
		free(q);
		return r ? r : -EPIPE;
	}
	wait_room(c);
	if (more_to_read(c->fd))
		fs9p_dispatch_submit(&c->dispatch, &q->req);
	else
		fs9p_dispatch_submit_or_run(&c->dispatch, &q->req);
	return 1;
}

int serve9p_conn_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = { FIONREAD };
	int r = sandbox_allow_ioctls(ctx, ioctls, 1);

	if (!r)
		r = sandbox_allow(ctx, SCMP_SYS(sendto));
	return r;
}

static void *reader_main(void *arg)
{
	struct serve9p_conn *c = arg;
	int r = sandbox_enter(&c->srv->conn_sandbox);

	if (r) {
		log_serve("connection %u: entering the sandbox: %s", c->id,
			  strerror(-r));
	} else {
		while ((r = read_one(c)) > 0)
			;
		if (r < 0 && r != -EPROTO && r != -ECONNRESET && r != -EPIPE)
			log_serve("connection %u: %s", c->id, strerror(-r));
	}
	/* Every reply is written (or fails) before the socket closes. */
	fs9p_dispatch_destroy(&c->dispatch);
	fs9p_session_free(c->session);
	pthread_mutex_lock(&c->lock);
	close(c->fd);
	c->fd = -1;
	c->finished = true;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int conn_init(struct serve9p *srv, struct serve9p_conn *c, int fd)
{
	struct fs9p_dispatch_config dc = {
		.workers = SERVE9P_WORKERS,
		.done = conn_done,
		.opaque = c,
		.name = "9p-conn",
		.sandbox = &srv->conn_sandbox,
	};
	int r = fs9p_session_new(srv->export, srv->cfg.msize, &c->session);

	if (r)
		return r;
	c->srv = srv;
	c->fd = fd;
	c->id = srv->next_id++;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->write_lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	dc.session = c->session;
	r = fs9p_dispatch_init(&c->dispatch, &dc);
	if (r)
		fs9p_session_free(c->session);
	return r;
}

int serve9p_conn_start(struct serve9p *srv, int fd)
{
	struct serve9p_conn *c = calloc(1, sizeof(*c));
	char name[16];
	int r;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	r = conn_init(srv, c, fd);
	if (!r) {
		r = -pthread_create(&c->thread, NULL, reader_main, c);
		if (r) {
			fs9p_dispatch_destroy(&c->dispatch);
			fs9p_session_free(c->session);
		}
	}
	if (r) {
		log_serve("connection: %s", strerror(-r));
		close(fd);
		free(c);
		return r;
	}
	snprintf(name, sizeof(name), "9p-conn%u", c->id % 1000000);
	pthread_setname_np(c->thread, name);
	c->next = srv->conns;
	srv->conns = c;
	return 0;
}

/* Shuts the socket down so that the reader sees the end of the stream;
 * the reader closes it. */
static void conn_shutdown(struct serve9p_conn *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->lock);
}

static bool conn_finished(struct serve9p_conn *c)
{
	bool f;

	pthread_mutex_lock(&c->lock);
	f = c->finished;
	pthread_mutex_unlock(&c->lock);
	return f;
}

void serve9p_conn_reap(struct serve9p *srv, bool all)
{
	struct serve9p_conn **pp = &srv->conns;

	while (*pp) {
		struct serve9p_conn *c = *pp;
		if (all)
			conn_shutdown(c);
		if (!all && !conn_finished(c)) {
			pp = &c->next;
			continue;
		}
		pthread_join(c->thread, NULL);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->write_lock);
		pthread_mutex_destroy(&c->lock);
		*pp = c->next;
		free(c);
	}
}
