/* Migration endpoints (vmm/uri.c): the forms uri_parse takes and the
 * phrase it gives for each it refuses, then real sockets: a unix socket
 * in a temporary directory and TCP on 127.0.0.1, listened on, connected
 * to, accepted and a byte exchanged each way; the failures' errno and
 * their one log line. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/uri.h"
#include "stderr_capture.h"

/* ---- parsing ---- */

static struct uri parse_ok(const char *text)
{
	struct uri u;
	const char *why = "(unset)";
	int r = uri_parse(text, &u, &why);

	cr_assert_eq(r, 0, "%s refused: %s", text, why);
	return u;
}

static void parse_bad(const char *text, const char *want_why)
{
	struct uri u;
	const char *why = NULL;

	cr_assert_eq(uri_parse(text, &u, &why), -EINVAL, "%s accepted", text);
	cr_assert_not_null(why, "%s: no reason", text);
	cr_assert_str_eq(why, want_why, "%s", text);
}

static void unix_ok(const char *text, const char *path)
{
	struct uri u = parse_ok(text);

	cr_assert(u.is_unix, "%s", text);
	cr_assert_str_eq(u.path, path, "%s", text);
	cr_assert_str_eq(u.host, "", "%s", text);
	cr_assert_str_eq(u.port, "", "%s", text);
}

static void tcp_ok(const char *text, const char *host, const char *port)
{
	struct uri u = parse_ok(text);

	cr_assert_not(u.is_unix, "%s", text);
	cr_assert_str_eq(u.host, host, "%s", text);
	cr_assert_str_eq(u.port, port, "%s", text);
	cr_assert_str_eq(u.path, "", "%s", text);
}

static const char *const why_scheme = "expected unix:PATH or tcp:HOST:PORT";
static const char *const why_path = "the socket path must be 1 to 107 bytes";
static const char *const why_tcp = "tcp: needs HOST:PORT";
static const char *const why_host = "the host must be 1 to 255 characters";
static const char *const why_port = "the port must be a number from 1 to 65535";
static const char *const why_v6 = "an IPv6 address is [ADDRESS]:PORT";

Test(uri_parse, unix_paths)
{
	char text[5 + 109], path[109];

	unix_ok("unix:/tmp/mig.sock", "/tmp/mig.sock");
	unix_ok("unix:relative/s", "relative/s");
	unix_ok("unix:x", "x");
	/* Everything after "unix:" is the path, colons included. */
	unix_ok("unix:/a:b:1", "/a:b:1");
	unix_ok("unix:tcp:h:1", "tcp:h:1");

	/* 107 bytes fit sun_path with its NUL, 108 do not. */
	memset(path, 'p', 108);
	path[107] = 0;
	snprintf(text, sizeof(text), "unix:%s", path);
	unix_ok(text, path);
	path[107] = 'p';
	path[108] = 0;
	snprintf(text, sizeof(text), "unix:%s", path);
	parse_bad(text, why_path);
	parse_bad("unix:", why_path);
}

Test(uri_parse, schemes)
{
	parse_bad("", why_scheme);
	parse_bad("unix", why_scheme);
	parse_bad("tcp", why_scheme);
	parse_bad("/tmp/mig.sock", why_scheme);
	parse_bad("UNIX:/x", why_scheme);
	parse_bad("Tcp:h:1", why_scheme);
	parse_bad("udp:h:1", why_scheme);
	parse_bad(" unix:/x", why_scheme);
	parse_bad("http://h:80/", why_scheme);
}

Test(uri_parse, tcp_hosts_and_ports)
{
	tcp_ok("tcp:127.0.0.1:4444", "127.0.0.1", "4444");
	tcp_ok("tcp:dest.example:1", "dest.example", "1");
	tcp_ok("tcp:h:65535", "h", "65535");
	/* The port is kept as its number. */
	tcp_ok("tcp:h:0080", "h", "80");
	tcp_ok("tcp:[::1]:4000", "::1", "4000");
	tcp_ok("tcp:[fe80::1%lo]:22", "fe80::1%lo", "22");

	parse_bad("tcp:", why_tcp);
	parse_bad("tcp:localhost", why_tcp);
	parse_bad("tcp:127.0.0.1", why_tcp);
	parse_bad("tcp::4000", why_host);
	parse_bad("tcp:[]:4000", why_host);
	parse_bad("tcp:[::1", why_v6);
	parse_bad("tcp:[::1]", why_v6);
	parse_bad("tcp:[::1]4000", why_v6);
	parse_bad("tcp:[::1]:", why_port);
}

Test(uri_parse, bad_ports)
{
	static const char *const bad[] = {
		"tcp:h:",
		"tcp:h:0",
		"tcp:h:00",
		"tcp:h:65536",
		"tcp:h:99999",
		"tcp:h:4294967297",
		"tcp:h:18446744073709551617",
		"tcp:h:+1",
		"tcp:h:-1",
		"tcp:h:-65535",
		"tcp:h: 1",
		"tcp:h:\t1",
		"tcp:h:\n1",
		"tcp:h:\v1",
		"tcp:h:1 ",
		"tcp:h:abc",
		"tcp:h:80a",
		"tcp:h:0x50",
		"tcp:h:1.5",
		"tcp:h:1e3",
		"tcp:[::1]:0",
		"tcp:[::1]:x",
		"tcp:[::1]:+1",
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], why_port);
}

Test(uri_parse, host_length)
{
	char host[300], text[320];

	memset(host, 'h', sizeof(host));
	host[255] = 0;
	snprintf(text, sizeof(text), "tcp:%s:1", host);
	tcp_ok(text, host, "1");
	snprintf(text, sizeof(text), "tcp:[%s]:1", host);
	tcp_ok(text, host, "1");
	host[255] = 'h';
	host[256] = 0;
	snprintf(text, sizeof(text), "tcp:%s:1", host);
	parse_bad(text, why_host);
	snprintf(text, sizeof(text), "tcp:[%s]:1", host);
	parse_bad(text, why_host);
}

/* A refused text leaves nothing of an earlier parse behind. */
Test(uri_parse, refused_leaves_the_uri_empty)
{
	struct uri u;
	const char *why;

	cr_assert_eq(uri_parse("tcp:h:1", &u, &why), 0);
	cr_assert_eq(uri_parse("tcp:h:0", &u, &why), -EINVAL);
	cr_assert_not(u.is_unix);
	cr_assert_str_eq(u.host, "");
	cr_assert_str_eq(u.port, "");
	cr_assert_eq(uri_parse("unix:/x", &u, &why), 0);
	cr_assert_eq(uri_parse("unix:", &u, &why), -EINVAL);
	cr_assert_not(u.is_unix);
	cr_assert_str_eq(u.path, "");
}

/* ---- sockets ---- */

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_uri.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "test_uri: could not remove %s\n", dir);
}

static void blocking_cloexec(int fd)
{
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d not CLOEXEC", fd);
	cr_assert_not(fcntl(fd, F_GETFL) & O_NONBLOCK, "fd %d non-blocking",
		      fd);
}

/* Accepts on lfd the connection cfd made and passes a byte each way. */
static void exchange(int lfd, int cfd)
{
	char c = 0;
	int afd = accept(lfd, NULL, NULL);

	cr_assert_geq(afd, 0, "accept: %s", strerror(errno));
	cr_assert_eq(write(cfd, "m", 1), 1);
	cr_assert_eq(read(afd, &c, 1), 1);
	cr_assert_eq(c, 'm');
	cr_assert_eq(write(afd, "r", 1), 1);
	cr_assert_eq(read(cfd, &c, 1), 1);
	cr_assert_eq(c, 'r');
	close(afd);
}

static struct uri unix_uri(const char *name)
{
	char text[128];

	snprintf(text, sizeof(text), "unix:%s/%s", dir, name);
	return parse_ok(text);
}

Test(uri_socket, unix_listen_connect_exchange, .init = make_dir,
     .fini = remove_dir)
{
	struct uri u = unix_uri("mig.sock");
	struct stat st;
	int lfd, cfd;

	lfd = uri_listen(&u, "test");
	cr_assert_geq(lfd, 0, "uri_listen: %s", strerror(-lfd));
	blocking_cloexec(lfd);
	cr_assert_eq(stat(u.path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cfd = uri_connect(&u, "test");
	cr_assert_geq(cfd, 0, "uri_connect: %s", strerror(-cfd));
	blocking_cloexec(cfd);
	exchange(lfd, cfd);
	close(cfd);
	close(lfd);
}

/* A file at the path, a socket left by an earlier listener or any
 * other, is not replaced. */
Test(uri_socket, unix_listen_on_an_existing_file, .init = make_dir,
     .fini = remove_dir)
{
	struct uri u = unix_uri("mig.sock"), f = unix_uri("file");
	char want[256];
	const char *log;
	int lfd, fd, r;

	lfd = uri_listen(&u, "test");
	cr_assert_geq(lfd, 0);
	close(lfd); /* the socket file stays */
	capture_begin();
	r = uri_listen(&u, "--incoming");
	log = capture_end();
	cr_assert_eq(r, -EADDRINUSE, "got %d (%s)", r, strerror(-r));
	snprintf(want, sizeof(want),
		 "vmm: --incoming: %s: Address already in use\n", u.path);
	cr_assert_str_eq(log, want);

	fd = open(f.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	capture_begin();
	r = uri_listen(&f, "--incoming");
	log = capture_end();
	cr_assert_eq(r, -EADDRINUSE, "got %d (%s)", r, strerror(-r));
	snprintf(want, sizeof(want),
		 "vmm: --incoming: %s: Address already in use\n", f.path);
	cr_assert_str_eq(log, want);
}

Test(uri_socket, unix_listen_in_a_missing_directory, .init = make_dir,
     .fini = remove_dir)
{
	struct uri u = unix_uri("no/such/dir/s");
	char want[256];
	const char *log;
	int r;

	capture_begin();
	r = uri_listen(&u, "--incoming");
	log = capture_end();
	cr_assert_eq(r, -ENOENT, "got %d (%s)", r, strerror(-r));
	snprintf(want, sizeof(want),
		 "vmm: --incoming: %s: No such file or directory\n", u.path);
	cr_assert_str_eq(log, want);
}

Test(uri_socket, unix_connect_failures, .init = make_dir, .fini = remove_dir)
{
	struct uri u = unix_uri("mig.sock"), none = unix_uri("none");
	char want[256];
	const char *log;
	int lfd, r;

	capture_begin();
	r = uri_connect(&none, "migrate");
	log = capture_end();
	cr_assert_eq(r, -ENOENT, "got %d (%s)", r, strerror(-r));
	snprintf(want, sizeof(want),
		 "vmm: migrate: %s: No such file or directory\n", none.path);
	cr_assert_str_eq(log, want);

	/* A socket file nothing listens on any more. */
	lfd = uri_listen(&u, "test");
	cr_assert_geq(lfd, 0);
	close(lfd);
	capture_begin();
	r = uri_connect(&u, "migrate");
	log = capture_end();
	cr_assert_eq(r, -ECONNREFUSED, "got %d (%s)", r, strerror(-r));
	snprintf(want, sizeof(want), "vmm: migrate: %s: Connection refused\n",
		 u.path);
	cr_assert_str_eq(log, want);
}

/* A listener on 127.0.0.1 at a port of its own: a few ports are tried
 * (another test or program may hold one). *port_out gets its number. */
static int tcp_listener(struct uri *u, unsigned *port_out)
{
	unsigned base = 20000 + (unsigned)getpid() % 20000;
	char text[64], errs[4096] = "";
	int lfd = -1;

	for (unsigned i = 0; i < 16 && lfd < 0; i++) {
		const char *log;

		snprintf(text, sizeof(text), "tcp:127.0.0.1:%u", base + i * 97);
		*u = parse_ok(text);
		capture_begin();
		lfd = uri_listen(u, "test");
		log = capture_end();
		if (lfd < 0)
			snprintf(errs + strlen(errs),
				 sizeof(errs) - strlen(errs), "%s", log);
		*port_out = base + i * 97;
	}
	if (lfd < 0)
		cr_assert_fail("no TCP port on 127.0.0.1 could be listened on "
			       "(is the loopback interface up?):\n%s",
			       errs);
	return lfd;
}

Test(uri_socket, tcp_loopback_listen_connect_exchange)
{
	struct uri u;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	unsigned port;
	int lfd = tcp_listener(&u, &port), cfd;

	blocking_cloexec(lfd);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	cr_assert_eq(a.sin_family, AF_INET);
	cr_assert_eq(ntohs(a.sin_port), port);
	cr_assert_eq(ntohl(a.sin_addr.s_addr), INADDR_LOOPBACK);
	cfd = uri_connect(&u, "test");
	cr_assert_geq(cfd, 0, "uri_connect to %s:%s: %s", u.host, u.port,
		      strerror(-cfd));
	blocking_cloexec(cfd);
	exchange(lfd, cfd);
	close(cfd);
	close(lfd);
}

Test(uri_socket, tcp_port_in_use_and_refused)
{
	struct uri u;
	unsigned port;
	int lfd = tcp_listener(&u, &port), r;
	const char *log;

	capture_begin();
	r = uri_listen(&u, "--incoming");
	log = capture_end();
	cr_assert_eq(r, -EADDRINUSE, "got %d (%s)", r, strerror(-r));
	cr_assert_str_eq(log, "vmm: --incoming: listening on the TCP port: "
			      "Address already in use\n");
	close(lfd);

	/* Nothing listens there now. */
	capture_begin();
	r = uri_connect(&u, "migrate");
	log = capture_end();
	cr_assert_eq(r, -ECONNREFUSED, "got %d (%s)", r, strerror(-r));
	cr_assert_str_eq(log, "vmm: migrate: connecting: Connection refused\n");
}
