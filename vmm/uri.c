/* Migration endpoints (uri.h). Called on the main thread (--incoming) and
 * on the migration worker (migrate); no shared state. */
#include "uri.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

static int parse_tcp(const char *text, struct uri *u, const char **why)
{
	const char *colon, *host = text;
	size_t host_len;
	char *end;
	unsigned long port;

	if (*text == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return *why = "an IPv6 address is [ADDRESS]:PORT",
			       -EINVAL;
		host = text + 1;
		host_len = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return *why = "tcp: needs HOST:PORT", -EINVAL;
		host_len = (size_t)(colon - text);
	}
	if (!host_len || host_len >= sizeof(u->host))
		return *why = "the host must be 1 to 255 characters", -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	/* Digits only: strtoul would also take a sign or any leading
	 * white space ("\t80"). */
	if (!isdigit((unsigned char)colon[1]) || *end || errno || port == 0 ||
	    port > 65535)
		return *why = "the port must be a number from 1 to 65535",
		       -EINVAL;
	memcpy(u->host, host, host_len);
	u->host[host_len] = 0;
	snprintf(u->port, sizeof(u->port), "%lu", port);
	return 0;
}

int uri_parse(const char *text, struct uri *u, const char **why)
{
	memset(u, 0, sizeof(*u));
	if (!strncmp(text, "unix:", 5)) {
		size_t len = strlen(text + 5);
		if (!len || len >= sizeof(u->path))
			return *why = "the socket path must be 1 to 107 bytes",
			       -EINVAL;
		u->is_unix = true;
		memcpy(u->path, text + 5, len + 1);
		return 0;
	}
	if (!strncmp(text, "tcp:", 4))
		return parse_tcp(text + 4, u, why);
	*why = "expected unix:PATH or tcp:HOST:PORT";
	return -EINVAL;
}

static int unix_address(const struct uri *u, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, u->path, strlen(u->path));
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int fail(int fd, const char *prefix, const char *what)
{
	int r = -errno;

	log_error("%s: %s: %s", prefix, what, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

static int tcp_socket(const struct uri *u, const char *prefix, bool listening)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = listening ? AI_PASSIVE : 0 },
			*res, *ai;
	int e = getaddrinfo(u->host, u->port, &hints, &res), fd = -1, one = 1;

	if (e) {
		log_error("%s: %s: %s", prefix, u->host, gai_strerror(e));
		return -EINVAL;
	}
	errno = ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (listening) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			if (!bind(fd, ai->ai_addr, ai->ai_addrlen) &&
			    !listen(fd, 1))
				break;
		} else if (!connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(-1, prefix,
			    listening ? "listening on the TCP port"
				      : "connecting");
	return fd;
}

int uri_listen(const struct uri *u, const char *prefix)
{
	struct sockaddr_un a;
	int fd;

	if (!u->is_unix)
		return tcp_socket(u, prefix, true);
	fd = unix_address(u, &a);
	if (fd < 0)
		return fail(-1, prefix, "creating the socket");
	if (bind(fd, (const struct sockaddr *)&a, sizeof(a)))
		return fail(fd, prefix, u->path);
	if (listen(fd, 1))
		return fail(fd, prefix, "listening");
	return fd;
}

int uri_connect(const struct uri *u, const char *prefix)
{
	struct sockaddr_un a;
	int fd;

	if (!u->is_unix)
		return tcp_socket(u, prefix, false);
	fd = unix_address(u, &a);
	if (fd < 0)
		return fail(-1, prefix, "creating the socket");
	if (connect(fd, (const struct sockaddr *)&a, sizeof(a)))
		return fail(fd, prefix, u->path);
	return fd;
}
