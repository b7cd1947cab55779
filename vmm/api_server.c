/* The control socket's server (api_server.h). Opening, starting, joining
 * and closing run on the main thread; everything between runs on the
 * "api" thread, which alone touches the listening socket, the client
 * sockets and their sessions (no lock: nothing else uses them until the
 * join). Commands act through vm_pause/vm_resume (the pause's lock) and
 * the lifecycle (atomics). One thread serves every client, one request
 * at a time: a pause holds the others until every vCPU is parked. */
#include "api_server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "pause.h"
#include "vcpu.h"
#include "vm.h"

static int op_pause(void *vm)
{
	return vm_pause(vm);
}

static int op_resume(void *vm)
{
	return vm_resume(vm);
}

static void op_quit(void *opaque)
{
	struct vm *vm = opaque;

	lifecycle_stop_by(&vm->life, STOP_BY_API_QUIT, 0);
}

static bool op_paused(void *vm)
{
	return vm_paused(vm);
}

static int op_snapshot(void *opaque, const char *path,
		       struct snapshot_stats *st)
{
	struct vm *vm = opaque;

	return migrator_snapshot(&vm->migrator, path, st);
}

static int op_migrate(void *opaque, const struct uri *uri)
{
	struct vm *vm = opaque;

	return migrator_migrate(&vm->migrator, uri);
}

static void op_query_migrate(void *opaque, struct migrate_progress *p)
{
	struct vm *vm = opaque;

	migrator_query(&vm->migrator, p);
}

static int op_migrate_cancel(void *opaque)
{
	struct vm *vm = opaque;

	return migrator_cancel(&vm->migrator);
}

static void op_get_params(void *opaque, struct migrate_params *p)
{
	struct vm *vm = opaque;

	migrator_get_params(&vm->migrator, p);
}

static void op_set_params(void *opaque, const struct migrate_params *p)
{
	struct vm *vm = opaque;

	migrator_set_params(&vm->migrator, p);
}

/* The api thread: accepting and closing clients, reading requests and
 * sending replies (send: MSG_NOSIGNAL, so a client gone is an error,
 * not a signal), poll on them and the stop eventfd, the pause's futex
 * and its timed waits, kicking the vCPUs (vm_pause), writing the
 * lifecycle's stop eventfd (quit; found by the lab run), json-c's hash
 * seed (getrandom, once, on its first object) and removing the socket
 * file at the end. It opens nothing. */
static int api_rules(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		SCMP_SYS(accept4),  SCMP_SYS(read),   SCMP_SYS(write),
		SCMP_SYS(sendto),   SCMP_SYS(poll),   SCMP_SYS(ppoll),
		SCMP_SYS(close),    SCMP_SYS(unlink), SCMP_SYS(getrandom),
		SCMP_SYS(shutdown), /* migrate-cancel: the migration's socket */
	};
	int r = 0;

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	return r ? r : vcpu_kick_rules(ctx); /* pausing kicks */
}

static const struct sandbox_role api_role = {
	.name = "api",
	.rules = { api_rules },
};

/* A socket file at path that nothing listens on is left from a run that
 * ended without removing it (SIGKILL): QEMU's rule, it is replaced. */
static int remove_stale(const char *path, const struct sockaddr_un *a)
{
	struct stat st;
	int fd, r = 0;

	if (lstat(path, &st)) {
		r = -errno;
		if (r != -ENOENT)
			log_error("--api %s: %s", path, strerror(-r));
		return r == -ENOENT ? 0 : r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("--api %s: the file exists and is not a socket",
			  path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_error("--api %s: creating a socket: %s", path,
			  strerror(-r));
		return r;
	}
	if (!connect(fd, (const struct sockaddr *)a, sizeof(*a))) {
		log_error("--api %s: another process is listening on it", path);
		r = -EADDRINUSE;
	} else if (errno != ECONNREFUSED) {
		r = -errno;
		log_error("--api %s: checking the existing socket: %s", path,
			  strerror(errno));
	} else if (unlink(path) && errno != ENOENT) {
		r = -errno;
		log_error("--api %s: removing the stale socket: %s", path,
			  strerror(errno));
	}
	close(fd);
	return r;
}

static int bind_socket(struct api_server *s, const char *path,
		       const struct sockaddr_un *a)
{
	mode_t old;
	int r = 0;

	s->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0) {
		r = -errno;
		log_error("--api %s: creating the socket: %s", path,
			  strerror(errno));
		return r;
	}
	/* Whoever can connect controls the VM: only its owner may. The
	 * process is still single-threaded, so the umask change is
	 * seen by nothing else. */
	old = umask(0177);
	if (bind(s->listen_fd, (const struct sockaddr *)a, sizeof(*a)))
		r = -errno;
	umask(old);
	if (r) {
		log_error("--api %s: creating the socket file: %s", path,
			  strerror(-r));
		return r;
	}
	s->path = strdup(path);
	if (!s->path || listen(s->listen_fd, 2 * API_MAX_CLIENTS)) {
		r = s->path ? -errno : -ENOMEM;
		log_error("--api %s: listening: %s", path, strerror(-r));
	}
	return r;
}

int api_server_open(struct api_server *s, const char *path,
		    enum sandbox_mode mode)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		s->client_fds[i] = -1;
	if (!*path || strlen(path) >= sizeof(a.sun_path)) {
		log_error("--api '%s': the path must be 1 to %zu bytes", path,
			  sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path));
	r = remove_stale(path, &a);
	if (!r)
		r = bind_socket(s, path, &a);
	/* The sessions' buffers now, so the thread allocates nothing. */
	for (unsigned i = 0; i < API_MAX_CLIENTS && !r; i++) {
		s->sessions[i] = malloc(sizeof(*s->sessions[i]));
		if (!s->sessions[i]) {
			log_error("--api %s: out of memory", path);
			r = -ENOMEM;
		}
	}
	if (!r)
		r = sandbox_filter_build(&s->sandbox, &api_role, mode);
	return r;
}

static int send_line(void *ctx, const char *line, size_t len)
{
	int fd = *(const int *)ctx;
	ssize_t n = send(fd, line, len, MSG_NOSIGNAL);

	/* Replies are small: a socket buffer that cannot take one belongs
	 * to a client sending requests without reading the replies. */
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EAGAIN;
}

static void drop_client(struct api_server *s, unsigned i)
{
	close(s->client_fds[i]);
	s->client_fds[i] = -1;
}

static void accept_client(struct api_server *s)
{
	int fd =
		accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	unsigned i;

	if (fd < 0)
		return; /* gone already, or nothing after all */
	for (i = 0; i < API_MAX_CLIENTS && s->client_fds[i] >= 0; i++)
		;
	if (i == API_MAX_CLIENTS) {
		size_t len;
		char *line = api_error_line(API_BUSY,
					    "too many clients at once", &len);

		if (line)
			send_line(&fd, line, len);
		free(line);
		close(fd);
		return;
	}
	s->client_fds[i] = fd;
	api_session_init(s->sessions[i], &s->ops, send_line, &s->client_fds[i]);
}

static void serve_client(struct api_server *s, unsigned i)
{
	char buf[4096];
	ssize_t n = read(s->client_fds[i], buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || api_session_input(s->sessions[i], buf, (size_t)n))
		drop_client(s, i);
}

/* After a migration completed, the clients (a `vmm ctl migrate` waiting
 * for the outcome) are served until they disconnect, for up to this
 * long: the run ends with the migration, and a reply "completed" must
 * still reach them. */
#define LINGER_NS (2ULL * 1000 * 1000 * 1000)

static bool any_client(const struct api_server *s)
{
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		if (s->client_fds[i] >= 0)
			return true;
	return false;
}

static void serve(struct api_server *s)
{
	uint64_t linger_until = 0;

	for (;;) {
		struct pollfd fds[2 + API_MAX_CLIENTS] = {
			{ linger_until ? -1 : s->stop_fd, POLLIN, 0 },
			{ s->listen_fd, POLLIN, 0 },
		};
		int timeout = -1;

		if (linger_until) {
			uint64_t now = monotonic_ns();
			if (now >= linger_until || !any_client(s))
				return;
			timeout = (int)((linger_until - now) / 1000000) + 1;
		}
		for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
			fds[2 + i] =
				(struct pollfd){ s->client_fds[i], POLLIN, 0 };
		if (poll(fds, 2 + API_MAX_CLIENTS, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_error("api: poll: %s", strerror(errno));
			return;
		}
		if (fds[0].revents) {
			if (lifecycle_source(&s->vm->life) != STOP_BY_MIGRATED)
				return;
			linger_until = monotonic_ns() + LINGER_NS;
		}
		for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
			if (fds[2 + i].revents)
				serve_client(s, i);
		if (fds[1].revents & POLLIN)
			accept_client(s);
	}
}

static void *api_thread(void *arg)
{
	struct api_server *s = arg;
	int r;

	/* Named here, before its filter: the violation line names it. */
	pthread_setname_np(pthread_self(), "api");
	r = sandbox_enter(&s->sandbox);
	if (r) {
		log_error("api thread: entering the sandbox: %s", strerror(-r));
		lifecycle_stop(&s->vm->life, STOP_ERROR, 1);
	} else {
		serve(s);
	}
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		if (s->client_fds[i] >= 0)
			drop_client(s, i);
	/* Here: the main thread's sandbox has no unlink. */
	if (unlink(s->path) && errno != ENOENT)
		log_error("--api %s: removing the socket: %s", s->path,
			  strerror(errno));
	free(s->path);
	s->path = NULL;
	return NULL;
}

int api_server_start(struct api_server *s, struct vm *vm)
{
	int r;

	s->vm = vm;
	s->stop_fd = vm->life.stop_fd;
	s->ops = (struct api_ops){ .opaque = vm,
				   .pause = op_pause,
				   .resume = op_resume,
				   .quit = op_quit,
				   .paused = op_paused,
				   .snapshot = op_snapshot,
				   .migrate = op_migrate,
				   .query_migrate = op_query_migrate,
				   .migrate_cancel = op_migrate_cancel,
				   .get_params = op_get_params,
				   .set_params = op_set_params };
	r = pthread_create(&s->thread, NULL, api_thread, s);
	if (r) {
		log_error("starting the api thread: %s", strerror(r));
		return -r;
	}
	s->started = true;
	return 0;
}

void api_server_join(struct api_server *s)
{
	if (s->started)
		pthread_join(s->thread, NULL);
	s->started = false;
}

void api_server_close(struct api_server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (s->path)
		unlink(s->path);
	free(s->path);
	s->path = NULL;
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
		free(s->sessions[i]);
		s->sessions[i] = NULL;
	}
	sandbox_filter_free(&s->sandbox);
}
