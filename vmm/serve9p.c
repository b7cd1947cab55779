/* `vmm 9p-serve`: options, the listening socket and the accept loop, all
 * on the main thread (connections: serve9p_conn.c). SIGINT and SIGTERM
 * are blocked in every thread and read from a signalfd by the accept
 * loop, which then closes the connections and removes the socket file. */
#include "serve9p.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "run.h"

#define log_serve(...) log_line("vmm 9p-serve: ", __VA_ARGS__)

static const char usage_text[] =
	"usage: vmm 9p-serve DIR --listen unix:PATH|tcp:HOST:PORT [options]\n"
	"\n"
	"Serves DIR over 9P2000.L on a stream socket until SIGINT or "
	"SIGTERM;\n"
	"a Linux client mounts it with\n"
	"  mount -t 9p -o trans=unix,version=9p2000.L PATH MNT\n"
	"  mount -t 9p -o trans=tcp,port=PORT,version=9p2000.L HOST MNT\n"
	"\n"
	"options:\n"
	"  --listen ADDR       unix:PATH (created; removed at exit) or "
	"tcp:HOST:PORT\n"
	"  --security MODE     passthrough (default: host ownership and modes "
	"as the\n"
	"                      client sets them; without root new files stay\n"
	"                      the server user's) or mapped (files "
	"owned by\n"
	"                      the server's user, the client's view in "
	"user.virtfs.*\n"
	"                      xattrs)\n"
	"  --readonly          refuse every change\n"
	"  --msize N           the largest message size offered (4096 to "
	"1M; default 1M)\n"
	"  --seccomp MODE      on (default), off or log: the system-call "
	"filters of\n"
	"                      the threads (see vmm run --help)\n"
	"  -h, --help          this text\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
							     ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_serve("%s (see vmm 9p-serve --help)", line);
	return -EINVAL;
}

static int parse_option(int c, const char *arg, struct serve9p_config *cfg)
{
	uint64_t n;

	switch (c) {
	case 'l': cfg->listen = arg; return 0;
	case 'r': cfg->readonly = true; return 0;
	case 'S':
		if (sandbox_parse_mode(arg, &cfg->seccomp))
			return usage_error("--seccomp must be on, off or log, "
					   "not '%s'",
					   arg);
		return 0;
	case 's':
		if (!strcmp(arg, "passthrough"))
			cfg->security = FS9P_PASSTHROUGH;
		else if (!strcmp(arg, "mapped"))
			cfg->security = FS9P_MAPPED;
		else
			return usage_error("--security must be passthrough "
					   "or mapped, not '%s'",
					   arg);
		return 0;
	case 'm':
		if (parse_size(arg, 1, &n) || n < FS9P_MSIZE_MIN ||
		    n > FS9P_MSIZE_MAX)
			return usage_error("--msize must be 4096 to 1M, "
					   "not '%s'",
					   arg);
		cfg->msize = (uint32_t)n;
		return 0;
	case ':': return usage_error("%s needs an argument", arg);
	default: return usage_error("unknown option '%s'", arg);
	}
}

int serve9p_parse(int argc, char **argv, struct serve9p_config *cfg)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "security", required_argument, NULL, 's' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "msize", required_argument, NULL, 'm' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*cfg = (struct serve9p_config){ .msize = FS9P_MSIZE_MAX,
					.seccomp = SANDBOX_ON };
	/* 0, not 1: glibc then also drops the rest of a "-hh" cluster an
	 * earlier parse returned in the middle of (as in vmm/cli.c). */
	optind = 0;
	opterr = 0;
	/* "+": options stop at DIR, which is taken and skipped, so it may
	 * come before or after them. */
	for (;;) {
		c = getopt_long(argc, argv, "+:h", lo, NULL);
		if (c == -1 && optind < argc && !cfg->dir) {
			cfg->dir = argv[optind++];
			continue;
		}
		if (c == -1)
			break;
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (parse_option(
			    c, c == '?' || c == ':' ? argv[optind - 1] : optarg,
			    cfg))
			return -EINVAL;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!cfg->dir)
		return usage_error("no directory given");
	if (!cfg->listen)
		return usage_error("--listen unix:PATH or tcp:HOST:PORT is "
				   "required");
	return 0;
}

/* unix:PATH, created here (an existing file is refused). */
static int listen_unix(struct serve9p *srv, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (!*path || strlen(path) >= sizeof(a.sun_path))
		return usage_error("--listen unix:PATH: the path must be 1 to "
				   "107 bytes, not '%s'",
				   path);
	memcpy(a.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, 64)) {
		int r = -errno;
		log_serve("unix:%s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r == -EADDRINUSE ? -EEXIST : r;
	}
	srv->unix_path = strdup(path);
	srv->listen_fd = fd;
	snprintf(srv->address, sizeof(srv->address), "unix:%s", path);
	return srv->unix_path ? 0 : -ENOMEM;
}

static int bind_tcp(const struct addrinfo *ai)
{
	int one = 1;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			ai->ai_protocol);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* tcp:HOST:PORT; HOST may be [v6]. */
static int listen_tcp(struct serve9p *srv, char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE },
			*res, *ai;
	char *colon = strrchr(spec, ':'), *host = spec;
	int r, fd = -EINVAL;
	uint64_t port;

	if (!colon || parse_uint(colon + 1, 0, 65535, &port) || colon == spec)
		return usage_error("--listen tcp:%s: expected tcp:HOST:PORT",
				   spec);
	*colon = 0;
	if (host[0] == '[' && colon[-1] == ']') {
		host++;
		colon[-1] = 0;
	}
	r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r) {
		log_serve("tcp:%s: %s", host, gai_strerror(r));
		return -EINVAL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = bind_tcp(ai);
	freeaddrinfo(res);
	if (fd < 0) {
		log_serve("tcp:%s:%s: %s", host, colon + 1, strerror(-fd));
		return fd;
	}
	srv->listen_fd = fd;
	/* As given, with the port bound (port 0 asks the kernel for one). */
	snprintf(srv->address, sizeof(srv->address), "%.*s:%u",
		 (int)(strrchr(srv->cfg.listen, ':') - srv->cfg.listen),
		 srv->cfg.listen, bound_port(fd));
	return 0;
}

static int open_listener(struct serve9p *srv)
{
	const char *l = srv->cfg.listen;
	char spec[256];

	if (!strncmp(l, "unix:", 5))
		return listen_unix(srv, l + 5);
	if (strncmp(l, "tcp:", 4))
		return usage_error("--listen must be unix:PATH or "
				   "tcp:HOST:PORT, not '%s'",
				   l);
	snprintf(spec, sizeof(spec), "%s", l + 4);
	return listen_tcp(srv, spec);
}

static int open_export(struct serve9p *srv)
{
	struct fs9p_export_config ec = {
		.path = srv->cfg.dir,
		.security = srv->cfg.security,
		.readonly = srv->cfg.readonly,
	};
	int r = fs9p_export_open(&ec, &srv->export);

	if (r) {
		srv->export = NULL;
		log_serve("%s: %s", srv->cfg.dir, strerror(-r));
		return r == -ENOTDIR ? -EINVAL : r;
	}
	return 0;
}

/* The accept thread creates each connection's threads, which inherit its
 * filter before they narrow it with their own: it allows what they need,
 * entering their sandbox included (found by the lab run in log mode),
 * plus accepting, creating threads (glibc's pthread_create installs the
 * handler of its internal signal 33, SIGSETXID, on first use: strace)
 * and removing the socket file. */
static int accept_rules(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		SCMP_SYS(capget),
		SCMP_SYS(capset),
		SCMP_SYS(seccomp),
		SCMP_SYS(accept4),
		SCMP_SYS(setsockopt),
		SCMP_SYS(shutdown),
		SCMP_SYS(poll),
		SCMP_SYS(unlink),
		SCMP_SYS(clone),
		SCMP_SYS(clone3),
		SCMP_SYS(set_robust_list),
		SCMP_SYS(rseq),
	};
	int r = 0;

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				     SCMP_SYS(rt_sigaction), 1,
				     sandbox_arg_eq(0, 33));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     sandbox_arg_eq(0, PR_SET_NO_NEW_PRIVS));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     sandbox_arg_eq(0, PR_CAP_AMBIENT));
	return r;
}

void serve9p_sandbox_roles(enum fs9p_security security,
			   struct sandbox_role *accept,
			   struct sandbox_role *conn)
{
	uint64_t caps =
		security == FS9P_PASSTHROUGH ? fs9p_passthrough_caps : 0;

	*conn = (struct sandbox_role){
		.name = "9p-serve connection",
		.rules = { serve9p_conn_rules, fs9p_rules },
		.keep_caps = caps,
	};
	*accept = (struct sandbox_role){
		.name = "9p-serve accept",
		.rules = { accept_rules, serve9p_conn_rules, fs9p_rules },
		.keep_caps = caps,
	};
}

static int build_sandboxes(struct serve9p *srv)
{
	int r;

	serve9p_sandbox_roles(srv->cfg.security, &srv->accept_role,
			      &srv->conn_role);
	r = sandbox_filter_build(&srv->conn_sandbox, &srv->conn_role,
				 srv->cfg.seccomp);
	if (!r)
		r = sandbox_filter_build(&srv->accept_sandbox,
					 &srv->accept_role, srv->cfg.seccomp);
	return r;
}

int serve9p_open(const struct serve9p_config *cfg, struct serve9p *srv)
{
	int r;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = *cfg;
	srv->listen_fd = -1;
	r = build_sandboxes(srv);
	if (!r)
		r = open_export(srv);
	if (!r)
		r = open_listener(srv);
	if (r)
		serve9p_close(srv);
	return r;
}

static void accept_one(struct serve9p *srv)
{
	int one = 1;
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			log_serve("accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			usleep(100000); /* let connections end */
		return;
	}
	/* Replies are whole messages: send each at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	serve9p_conn_start(srv, fd);
}

int serve9p_run(struct serve9p *srv, int stop_fd)
{
	int r = sandbox_enter(&srv->accept_sandbox);

	if (r)
		return r;
	for (;;) {
		struct pollfd fds[2] = { { srv->listen_fd, POLLIN, 0 },
					 { stop_fd, POLLIN, 0 } };

		/* Ended connections are joined here, now and then. */
		if (poll(fds, 2, 1000) < 0 && errno != EINTR)
			return -errno;
		serve9p_conn_reap(srv, false);
		if (fds[1].revents)
			return 0;
		if (fds[0].revents & POLLIN)
			accept_one(srv);
	}
}

void serve9p_close(struct serve9p *srv)
{
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	srv->listen_fd = -1;
	serve9p_conn_reap(srv, true);
	if (srv->unix_path)
		unlink(srv->unix_path);
	free(srv->unix_path);
	srv->unix_path = NULL;
	if (srv->export)
		fs9p_export_close(srv->export);
	srv->export = NULL;
	sandbox_filter_free(&srv->accept_sandbox);
	sandbox_filter_free(&srv->conn_sandbox);
}

static int usage_status(int r)
{
	return r == -ENOENT || r == -ENOTDIR || r == -EACCES || r == -EINVAL
		       ? EXIT_USAGE
		       : 1;
}

int serve9p_command(int argc, char **argv, uint64_t start_ns)
{
	struct serve9p_config cfg;
	struct serve9p srv;
	sigset_t sigs;
	int r, sfd;

	(void)start_ns;
	r = serve9p_parse(argc, argv, &cfg);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGPIPE);
	/* Before any thread exists, so that every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGPIPE);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		log_serve("signalfd: %s", strerror(errno));
		return 1;
	}
	r = serve9p_open(&cfg, &srv);
	if (r) {
		close(sfd);
		return usage_status(r);
	}
	fprintf(stderr, "vmm 9p-serve: serving %s on %s\n", cfg.dir,
		srv.address);
	fflush(stderr);
	r = sandbox_no_new_privs();
	if (!r)
		r = serve9p_run(&srv, sfd);
	if (r)
		log_serve("serving: %s", strerror(-r));
	serve9p_close(&srv);
	close(sfd);
	return r ? 1 : 0;
}
