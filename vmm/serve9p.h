/* `vmm 9p-serve DIR --listen unix:PATH|tcp:HOST:PORT`: the 9P2000.L
 * server of fs9p/ on a stream socket, as diod serves it, so that a Linux
 * client mounts it with `mount -t 9p -o trans=unix` or `trans=tcp`. No VM
 * is involved. Messages are framed by their size field both ways; each
 * connection is one session with its own dispatch (fs9p/dispatch.h), and
 * its replies go back in whatever order they finish, matched by tag.
 *
 * Threads: the accept loop runs on the calling thread; each connection
 * has a reader thread ("9p-connN") and its dispatch's workers, which
 * write the replies under the connection's write lock. */
#ifndef VMM_SERVE9P_H
#define VMM_SERVE9P_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fs9p/dispatch.h"
#include "lib/sandbox.h"
#include "fs9p/fs9p.h"

#define SERVE9P_WORKERS 4  /* dispatch threads per connection */
#define SERVE9P_PENDING 64 /* requests in flight per connection */

struct serve9p_config {
	const char *dir;
	const char *listen; /* unix:PATH or tcp:HOST:PORT */
	enum fs9p_security security;
	bool readonly;
	uint32_t msize; /* the largest msize offered */
	enum sandbox_mode seccomp;
};

struct serve9p;

/* One client connection (serve9p_conn.c). */
struct serve9p_conn {
	struct serve9p *srv;
	unsigned id;
	pthread_t thread;
	struct fs9p_session *session;
	struct fs9p_dispatch dispatch;
	pthread_mutex_t write_lock; /* one reply on the socket at a time */
	/* Under lock: the socket (-1 once closed), requests in flight, the
	 * reader's end. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd;
	unsigned pending;
	bool finished;
	struct serve9p_conn *next; /* the server's list (accept thread) */
};

struct serve9p {
	struct serve9p_config cfg;
	struct fs9p_export *export;
	int listen_fd;
	char *unix_path;   /* the socket file this server created */
	char address[300]; /* what the startup line names */
	struct serve9p_conn *conns;
	unsigned next_id;
	/* The accept thread's sandbox, and its connections' (the reader and
	 * the dispatch workers of each). */
	struct sandbox_role accept_role, conn_role;
	struct sandbox_filter accept_sandbox, conn_sandbox;
};

/* The subcommand (vmm/main.c's table): 0, 1 on a runtime error, 2
 * (EXIT_USAGE) on a usage error. */
int serve9p_command(int argc, char **argv, uint64_t start_ns);

/* Parses `9p-serve`'s arguments (argv[0] is "9p-serve"). 0, 1 when --help
 * was printed, -EINVAL after one log line. */
int serve9p_parse(int argc, char **argv, struct serve9p_config *cfg);

/* Opens the export and the listening socket. 0, or -errno after one log
 * line (-ENOENT, -ENOTDIR, -EACCES, -EINVAL: the user's input). */
int serve9p_open(const struct serve9p_config *cfg, struct serve9p *srv);
/* Accepts and serves connections until stop_fd becomes readable. */
int serve9p_run(struct serve9p *srv, int stop_fd);
/* Closes every connection, waits for them, removes the socket file. */
void serve9p_close(struct serve9p *srv);

/* serve9p_conn.c: starts serving an accepted socket (fd is taken over).
 * 0 or -errno (fd closed). */
int serve9p_conn_start(struct serve9p *srv, int fd);
/* The sandboxes of the accept thread and of each connection's threads. */
void serve9p_sandbox_roles(enum fs9p_security security,
			   struct sandbox_role *accept,
			   struct sandbox_role *conn);
/* What a connection's threads do besides serving 9p: read the socket,
 * send replies, FIONREAD. */
int serve9p_conn_rules(scmp_filter_ctx ctx);
/* Ends connections whose reader finished; with all, every connection
 * (their sockets are shut down first). */
void serve9p_conn_reap(struct serve9p *srv, bool all);

#endif
