/* `vmm run --api PATH`: the control socket (a unix stream socket; the
 * protocol is api.h's, docs/api.md) served by its own thread, "api".
 * Opened and closed on the main thread; the thread accepts, reads and
 * answers until the run stops. Its state is its own (struct api_server,
 * part of struct vm); what the commands change is behind the pause's
 * lock and the lifecycle's atomics. */
#ifndef VMM_API_SERVER_H
#define VMM_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>

#include "api.h"
#include "lib/sandbox.h"

/* Clients served at once; one more is told "Busy" and closed. */
#define API_MAX_CLIENTS 4

struct vm;

struct api_server {
	int listen_fd; /* -1: no --api */
	char *path;    /* the socket file; NULL once removed */
	pthread_t thread;
	bool started;
	struct sandbox_filter sandbox;
	struct vm *vm;
	struct api_ops ops; /* the commands' view of vm */
	int stop_fd;	    /* the lifecycle's: readable once the run stops */
	struct api_session *sessions[API_MAX_CLIENTS];
	int client_fds[API_MAX_CLIENTS]; /* -1: free */
};

/* Before the guest starts. Creates the socket at path (mode 0600): a
 * socket file left by an earlier run is replaced when nothing listens
 * on it; any other file, or a live socket, is refused. Logs one line and
 * returns -errno: -EINVAL, -EEXIST, -EADDRINUSE, -ENOENT, -EACCES,
 * -ENOTDIR, -ENAMETOOLONG are the user's (a bad --api). */
int api_server_open(struct api_server *s, const char *path,
		    enum sandbox_mode mode);

/* Starts the thread for vm; call after the vCPU threads start and
 * before the main thread enters its sandbox. 0 or -errno (logged). */
int api_server_start(struct api_server *s, struct vm *vm);
/* Waits for the thread, which ends once the run is stopping: call
 * before the vCPU threads are joined (the thread may kick them). */
void api_server_join(struct api_server *s);
/* Closes what is left; removes the socket file if the thread did not. */
void api_server_close(struct api_server *s);

#endif
