/* Migration endpoints: "unix:PATH" and "tcp:HOST:PORT" (HOST a name, an
 * IPv4 address or a bracketed IPv6 address), parsed, listened on and
 * connected to. Runs on whichever thread calls it; no state of its own. */
#ifndef VMM_URI_H
#define VMM_URI_H

#include <stdbool.h>
#include <sys/un.h>

struct uri {
	bool is_unix;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix */
	char host[256], port[8];				/* tcp */
};

/* 0, or -EINVAL with *why a fixed phrase naming the bad part. */
int uri_parse(const char *text, struct uri *u, const char **why);

/* A listening socket (CLOEXEC, blocking): a unix socket file is created
 * (an existing file at the path is refused: -EADDRINUSE), a TCP port
 * bound with SO_REUSEADDR. Returns the fd, or -errno after one log line naming
 * what (the prefix) and why. */
int uri_listen(const struct uri *u, const char *prefix);
/* A connected stream socket (CLOEXEC, blocking), or -errno after one log
 * line. */
int uri_connect(const struct uri *u, const char *prefix);

#endif
