/* The control socket's protocol (docs/api.md), without the socket: one
 * connection's bytes in, split into lines, each line one JSON request
 * parsed with json-c, dispatched through a table of commands to a
 * struct api_ops, answered by one JSON reply line. The server
 * (api_server.h) runs it on its thread; the unit tests drive it with
 * fake ops. A session is used by one thread at a time; it has no lock. */
#ifndef VMM_API_H
#define VMM_API_H

#include <stdbool.h>
#include <stddef.h>

#include "migrate.h"

/* A request line, its newline included, is at most this long. */
#define API_LINE_MAX 65536

/* The error codes of a reply, one fixed word each (api_error_name). */
enum api_error {
	API_BAD_REQUEST, /* "BadRequest": not JSON, wrong members or types */
	API_UNKNOWN_COMMAND, /* "UnknownCommand" */
	API_WRONG_STATE,     /* "WrongState": e.g. pause while paused */
	API_FAILED,	     /* "Failed": the command could not be done */
	API_BUSY,	     /* "Busy": too many clients at once */
	API_ERROR_COUNT,
};

const char *api_error_name(enum api_error e);

/* What the commands act on: the VM (api_server.c) or a test's fake. */
struct api_ops {
	void *opaque;
	/* Returns once every vCPU is parked: 0, -EALREADY (already paused),
	 * -ESHUTDOWN (the VM is stopping), or another -errno. */
	int (*pause)(void *opaque);
	/* 0, or -EALREADY when not paused. */
	int (*resume)(void *opaque);
	/* Ends the run (source "api-quit", status 0); returns at once. */
	void (*quit)(void *opaque);
	bool (*paused)(void *opaque);
	/* The long jobs (migrate.h); NULL in a fake that has none. A
	 * snapshot returns when the file is written: 0, -EBUSY (a job
	 * runs), -ESHUTDOWN, -ENOTSUP (a device cannot be saved) or the
	 * failure. migrate returns once started: 0 or -EBUSY. cancel: 0
	 * or -ENOENT (no migration runs). */
	int (*snapshot)(void *opaque, const char *path,
			struct snapshot_stats *st);
	int (*migrate)(void *opaque, const struct uri *uri);
	void (*query_migrate)(void *opaque, struct migrate_progress *p);
	int (*migrate_cancel)(void *opaque);
	void (*get_params)(void *opaque, struct migrate_params *p);
	void (*set_params)(void *opaque, const struct migrate_params *p);
};

/* Where a session's reply lines go: 0, or a negative errno, which ends
 * the session's input (the server then closes the connection). */
typedef int (*api_out_fn)(void *ctx, const char *line, size_t len);

struct api_session {
	const struct api_ops *ops;
	api_out_fn out;
	void *out_ctx;
	size_t len; /* bytes of an unfinished line in buf */
	char buf[API_LINE_MAX];
};

void api_session_init(struct api_session *s, const struct api_ops *ops,
		      api_out_fn out, void *out_ctx);

/* Takes n more bytes of the connection: every line they complete is
 * answered through out, in order; the rest waits for more input.
 * Returns 0, -EMSGSIZE when a line grew past API_LINE_MAX (its
 * BadRequest reply has been sent; the connection must be closed), or
 * out's error. */
int api_session_input(struct api_session *s, const void *data, size_t n);

/* One reply line (newline included, malloc'd) for an error not tied to
 * a request (the id is null), e.g. Busy to a client over the limit. NULL
 * when out of memory. */
char *api_error_line(enum api_error e, const char *message, size_t *len);

#endif
