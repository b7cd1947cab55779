/* `--incoming` (incoming.h): the main thread, before any vCPU runs. */
#include "incoming.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/log.h"
#include "uri.h"

#define TAKEOVER_REPLY "VMMREADY"
/* A source that sends nothing for this long has gone. */
#define RECEIVE_TIMEOUT_S 60

static int accept_one(int lfd, int sig_fd)
{
	for (;;) {
		struct pollfd p[2] = { { lfd, POLLIN, 0 },
				       { sig_fd, POLLIN, 0 } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents & POLLIN)
			return -EINTR;
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0 || (errno != EINTR && errno != EAGAIN &&
					errno != ECONNABORTED))
				return fd < 0 ? -errno : fd;
		}
	}
}

static int receive(int sock, struct vmstate_load *l, const char *uri)
{
	struct stream_reader rd;
	struct stream_section s;
	int r = stream_reader_init(&rd, sock);

	if (!r)
		r = stream_get_header(&rd);
	while (!r) {
		r = stream_get_section(&rd, &s);
		if (!r)
			r = vmstate_load_section(l, &s);
	}
	if (r == 1)
		r = 0;
	else if ((r == -EPROTO || r == -ENODATA) && rd.why[0])
		log_error("--incoming %s: %s", uri, rd.why);
	else if (r == -ENODATA)
		log_error("--incoming %s: the stream ended before its END",
			  uri);
	else if (r == -EAGAIN)
		log_error("--incoming %s: nothing received for %d s", uri,
			  RECEIVE_TIMEOUT_S);
	else if (r && r != -EPROTO)
		log_error("--incoming %s: receiving: %s", uri, strerror(-r));
	stream_reader_free(&rd);
	return r;
}

int incoming_receive(const char *text, int sig_fd, struct vmstate_load *l)
{
	struct timeval tv = { .tv_sec = RECEIVE_TIMEOUT_S };
	const char *why;
	struct uri u;
	int lfd, sock, r;

	if (uri_parse(text, &u, &why)) {
		log_error("--incoming %s: %s", text, why);
		return -EINVAL;
	}
	lfd = uri_listen(&u, "--incoming");
	if (lfd < 0)
		return lfd;
	sock = accept_one(lfd, sig_fd);
	close(lfd);
	if (u.is_unix)
		unlink(u.path);
	if (sock < 0) {
		if (sock != -EINTR)
			log_error("--incoming %s: accepting: %s", text,
				  strerror(-sock));
		return sock;
	}
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = receive(sock, l, text);
	if (r) {
		close(sock);
		return r;
	}
	return sock;
}

int incoming_takeover(int sock)
{
	const char *p = TAKEOVER_REPLY;
	size_t left = strlen(TAKEOVER_REPLY);
	int r = 0;

	while (left) {
		ssize_t n = send(sock, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			log_error("--incoming: telling the source the guest "
				  "runs here: %s",
				  strerror(-r));
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	close(sock);
	return r;
}
