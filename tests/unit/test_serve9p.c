/* `vmm 9p-serve` on this host without a VM: the server runs in a thread
 * on a unix (or TCP) socket in a temporary directory, clients speak
 * 9P2000.L to it byte by byte and check the replies exactly. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/p9_client.h"
#include "vmm/serve9p.h"

static char tmp[] = "/tmp/vmm-test-serve9p-XXXXXX";
static char export_dir[128], sock_path[128], listen_arg[140];
static struct serve9p srv;
static int stop_fd = -1;
static pthread_t server;
static struct p9b b;
static uint8_t rbuf[70000];

static void *server_main(void *arg)
{
	(void)arg;
	cr_assert_eq(serve9p_run(&srv, stop_fd), 0);
	return NULL;
}

static struct serve9p_config config(const char *listen)
{
	return (struct serve9p_config){
		.dir = export_dir,
		.listen = listen,
		/* passthrough as root (it owns what it creates); mapped otherwise */
		.security = geteuid() ? FS9P_MAPPED : FS9P_PASSTHROUGH,
		.msize = 65536,
	};
}

static void start_server(const char *listen)
{
	struct serve9p_config c = config(listen);

	cr_assert_eq(serve9p_open(&c, &srv), 0);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(stop_fd, 0);
	cr_assert_eq(pthread_create(&server, NULL, server_main, NULL), 0);
}

static void stop_server(void)
{
	uint64_t one = 1;

	cr_assert_eq(write(stop_fd, &one, 8), 8);
	pthread_join(server, NULL);
	serve9p_close(&srv);
	close(stop_fd);
	stop_fd = -1;
}

static void setup(void)
{
	strcpy(tmp, "/tmp/vmm-test-serve9p-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(export_dir, sizeof(export_dir), "%s/export", tmp);
	snprintf(sock_path, sizeof(sock_path), "%s/sock", tmp);
	snprintf(listen_arg, sizeof(listen_arg), "unix:%s", sock_path);
	cr_assert_eq(mkdir(export_dir, 0755), 0);
}

static void teardown(void)
{
	char cmd[200];

	if (stop_fd >= 0)
		stop_server();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	cr_assert_eq(system(cmd), 0);
}

static void setup_unix(void)
{
	setup();
	start_server(listen_arg);
}

static int connect_unix(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, sock_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "connect: %s", strerror(errno));
	return fd;
}

static void send_msg(int fd)
{
	cr_assert_eq(write(fd, b.buf, b.len), (ssize_t)b.len);
}

static void read_n(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		cr_assert_gt(r, 0, "the connection ended: %s",
			     r ? strerror(errno) : "EOF");
		p += r;
		n -= (size_t)r;
	}
}

/* Reads one reply into rbuf and checks its type and length. */
static const uint8_t *recv_reply(int fd, uint8_t type, uint32_t len)
{
	uint32_t size;

	read_n(fd, rbuf, 4);
	size = p9_get32(rbuf);
	cr_assert_geq(size, 7);
	cr_assert_leq(size, sizeof(rbuf));
	read_n(fd, rbuf + 4, size - 4);
	cr_assert_eq(rbuf[4], type, "reply type %u (errno %u)", rbuf[4],
		     size >= 11 ? p9_get32(rbuf + 7) : 0);
	cr_assert_eq(size, len);
	return rbuf;
}

static const uint8_t *rpc(int fd, uint8_t type, uint32_t len)
{
	send_msg(fd);
	return recv_reply(fd, type, len);
}

/* Tversion and Tattach of fid 1. */
static void start_session(int fd)
{
	static const uint8_t rversion[] = { 21,	  0,   0,   0,	 101, 0xff,
					    0xff, 0,   0,   1,	 0, /* 65536 */
					    8,	  0,   '9', 'P', '2', '0',
					    '0',  '0', '.', 'L' };
	const uint8_t *r;

	p9_tversion(&b, 1 << 20); /* more than the server's 65536 */
	r = rpc(fd, 101, 21);
	cr_assert_arr_eq(r, rversion, 21);
	p9_tattach(&b, 1, 1);
	r = rpc(fd, 105, 20);
	cr_assert_eq(r[7] & 0x80, 0x80, "the root is a directory");
}

TestSuite(serve9p, .init = setup_unix, .fini = teardown, .timeout = 30);

Test(serve9p, a_whole_session_byte_exact)
{
	static const char data[] = "written over a unix socket";
	uint32_t n = sizeof(data) - 1;
	int fd = connect_unix(), hf;
	char path[200], back[64] = { 0 };
	const uint8_t *r;

	start_session(fd);
	p9_twalk(&b, 2, 1, 2, NULL);
	r = rpc(fd, 111, 9);
	cr_assert_arr_eq(r, ((uint8_t[]){ 9, 0, 0, 0, 111, 2, 0, 0, 0 }), 9);
	p9_tlcreate(&b, 3, 2, "file", 2 /* O_RDWR */, 0600);
	r = rpc(fd, 15, 24);
	cr_assert_eq(r[7], 0, "a regular file's qid");
	p9_twrite(&b, 4, 2, 0, data, n);
	r = rpc(fd, 119, 11);
	cr_assert_arr_eq(r, ((uint8_t[]){ 11, 0, 0, 0, 119, 4, 0, n, 0, 0, 0 }),
			 11);
	p9_tread(&b, 5, 2, 0, 4096);
	r = rpc(fd, 117, 11 + n);
	cr_assert_arr_eq(
		r, ((uint8_t[]){ 11 + n, 0, 0, 0, 117, 5, 0, n, 0, 0, 0 }), 11);
	cr_assert_arr_eq(r + 11, data, n);
	p9_tclunk(&b, 6, 2);
	r = rpc(fd, 121, 7);
	cr_assert_arr_eq(r, ((uint8_t[]){ 7, 0, 0, 0, 121, 6, 0 }), 7);
	close(fd);
	snprintf(path, sizeof(path), "%s/file", export_dir);
	hf = open(path, O_RDONLY);
	cr_assert_geq(hf, 0);
	cr_assert_eq(read(hf, back, sizeof(back)), n);
	close(hf);
	cr_assert_str_eq(back, data);
}

/* Several requests in one write; every reply comes back, matched by tag
 * (their order is the server's). */
Test(serve9p, pipelined_requests_all_answered)
{
	int fd = connect_unix();
	struct p9b all = { .len = 0 };
	unsigned seen = 0;

	start_session(fd);
	for (uint16_t t = 10; t < 30; t++) {
		p9_twalk(&b, t, 1, 100 + t, NULL);
		p9_data(&all, b.buf, b.len);
	}
	cr_assert_eq(write(fd, all.buf, all.len), (ssize_t)all.len);
	for (unsigned i = 0; i < 20; i++) {
		const uint8_t *r = recv_reply(fd, 111, 9);
		uint16_t tag = p9_get16(r + 5);
		cr_assert(tag >= 10 && tag < 30);
		cr_assert_eq(seen & 1u << (tag - 10), 0, "tag %u twice", tag);
		seen |= 1u << (tag - 10);
	}
	cr_assert_eq(seen, 0xfffff);
	close(fd);
}

Test(serve9p, two_connections_at_once_see_each_others_files)
{
	static const char data[] = "from a";
	int a = connect_unix(), c = connect_unix();
	const uint8_t *r;

	start_session(a);
	start_session(c);
	p9_twalk(&b, 2, 1, 2, NULL);
	rpc(a, 111, 9);
	p9_tlcreate(&b, 3, 2, "shared", 2, 0644);
	rpc(a, 15, 24);
	p9_twrite(&b, 4, 2, 0, data, 6);
	rpc(a, 119, 11);
	/* The same fid numbers on the other connection are its own. */
	p9_twalk(&b, 2, 1, 2, "shared");
	rpc(c, 111, 22);
	p9_tlopen(&b, 3, 2, 0 /* O_RDONLY */);
	rpc(c, 13, 24);
	p9_tread(&b, 4, 2, 0, 100);
	r = rpc(c, 117, 17);
	cr_assert_arr_eq(r + 11, data, 6);
	close(a);
	close(c);
}

static void expect_closed(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	uint8_t x;

	ssize_t r;

	cr_assert_eq(poll(&p, 1, 5000), 1, "still open");
	/* A socket closed with unread data in it resets the connection. */
	r = read(fd, &x, 1);
	cr_assert(r == 0 || (r < 0 && errno == ECONNRESET),
		  "not closed: %zd %s", r, strerror(errno));
}

/* A size below the header, or above the msize, ends that connection
 * only. */
Test(serve9p, malformed_size_closes_only_that_connection)
{
	int good = connect_unix(), bad = connect_unix(), big = connect_unix();
	static const uint8_t tiny[] = { 6, 0, 0, 0, 100, 0, 0 };
	static const uint8_t huge[] = { 0x01, 0x00, 0x01, 0x00, 100, 0, 0 };

	start_session(good);
	cr_redirect_stderr();
	cr_assert_eq(write(bad, tiny, sizeof(tiny)), sizeof(tiny));
	expect_closed(bad);
	start_session(big); /* msize 65536 now */
	cr_assert_eq(write(big, huge, sizeof(huge)), sizeof(huge));
	expect_closed(big);
	p9_twalk(&b, 2, 1, 2, NULL);
	rpc(good, 111, 9);
	close(good);
	close(bad);
	close(big);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"vmm 9p-serve: connection 1: message size 6 is not within "
		"7..65536; closing it\n"
		"vmm 9p-serve: connection 2: message size 65537 is not within "
		"7..65536; closing it\n");
}

/* Stopping ends open connections and removes the socket file. */
Test(serve9p, stop_closes_connections_and_removes_the_socket)
{
	int fd = connect_unix();
	struct stat st;

	start_session(fd);
	cr_assert_eq(stat(sock_path, &st), 0);
	stop_server();
	expect_closed(fd);
	close(fd);
	cr_assert_eq(stat(sock_path, &st), -1, "the socket file is left");
}

/* A connection cut in the middle of a message, with requests in flight:
 * the server carries on. */
Test(serve9p, client_gone_mid_message)
{
	int fd = connect_unix(), next;

	start_session(fd);
	p9_twalk(&b, 2, 1, 2, NULL);
	send_msg(fd);
	cr_assert_eq(write(fd, b.buf, 5), 5);
	close(fd);
	next = connect_unix();
	start_session(next);
	close(next);
}

Test(serve9p_open, tcp_on_an_ephemeral_port, .init = setup, .fini = teardown,
     .timeout = 30)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned port;
	int fd;

	start_server("tcp:127.0.0.1:0");
	cr_assert_eq(sscanf(srv.address, "tcp:127.0.0.1:%u", &port), 1,
		     "address %s", srv.address);
	cr_assert_neq(port, 0);
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	start_session(fd);
	close(fd);
}

Test(serve9p_open, errors_name_the_cause, .init = setup, .fini = teardown)
{
	struct serve9p_config c = config(listen_arg);
	char expected[1024];
	int fd;

	cr_redirect_stderr();
	c.dir = "/nonexistent/vmm-9p";
	cr_assert_eq(serve9p_open(&c, &srv), -ENOENT);
	c.dir = "/etc/passwd";
	cr_assert_eq(serve9p_open(&c, &srv), -EINVAL);
	c = config("unix:");
	cr_assert_eq(serve9p_open(&c, &srv), -EINVAL);
	c = config("tcp:nowhere");
	cr_assert_eq(serve9p_open(&c, &srv), -EINVAL);
	c = config("vsock:3");
	cr_assert_eq(serve9p_open(&c, &srv), -EINVAL);
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	c = config(listen_arg);
	cr_assert_eq(serve9p_open(&c, &srv), -EEXIST);
	cr_assert_eq(access(sock_path, F_OK), 0, "a file not ours removed");
	fflush(stderr);
	snprintf(expected, sizeof(expected),
		 "vmm 9p-serve: /nonexistent/vmm-9p: No such file or "
		 "directory\n"
		 "vmm 9p-serve: /etc/passwd: Not a directory\n"
		 "vmm 9p-serve: --listen unix:PATH: the path must be 1 to 107 "
		 "bytes, not '' (see vmm 9p-serve --help)\n"
		 "vmm 9p-serve: --listen tcp:nowhere: expected tcp:HOST:PORT "
		 "(see vmm 9p-serve --help)\n"
		 "vmm 9p-serve: --listen must be unix:PATH or tcp:HOST:PORT, "
		 "not 'vsock:3' (see vmm 9p-serve --help)\n"
		 "vmm 9p-serve: unix:%s: Address already in use\n",
		 sock_path);
	cr_assert_stderr_eq_str(expected);
}

static int parse(struct serve9p_config *c, int n, ...)
{
	char *argv[12];
	va_list ap;

	va_start(ap, n);
	argv[0] = "9p-serve";
	for (int i = 0; i < n; i++)
		argv[i + 1] = va_arg(ap, char *);
	va_end(ap);
	argv[n + 1] = NULL;
	return serve9p_parse(n + 1, argv, c);
}

Test(serve9p_parse, options)
{
	struct serve9p_config c;

	cr_assert_eq(parse(&c, 5, "/d", "--listen", "unix:/s", "--security",
			   "mapped"),
		     0);
	cr_assert_str_eq(c.dir, "/d");
	cr_assert_str_eq(c.listen, "unix:/s");
	cr_assert_eq(c.security, FS9P_MAPPED);
	cr_assert_not(c.readonly);
	cr_assert_eq(c.msize, FS9P_MSIZE_MAX);
	/* DIR after the options; --msize with a suffix. */
	cr_assert_eq(parse(&c, 6, "--readonly", "--msize", "256K", "--listen",
			   "tcp:h:1", "/e"),
		     0);
	cr_assert_str_eq(c.dir, "/e");
	cr_assert(c.readonly);
	cr_assert_eq(c.msize, 256 * 1024);
	cr_assert_eq(c.security, FS9P_PASSTHROUGH);
	cr_assert_eq(c.seccomp, SANDBOX_ON, "filters on by default");
	cr_assert_eq(
		parse(&c, 5, "/d", "--listen", "unix:/s", "--seccomp", "log"),
		0);
	cr_assert_eq(c.seccomp, SANDBOX_LOG);
}

/* fuzz_cli found it in vmm run's parser; this one shared the pattern. */
Test(serve9p_parse, parse_starts_afresh_after_a_cluster,
     .init = cr_redirect_stdout)
{
	struct serve9p_config c;
	char a0[] = "9p-serve", a1[] = "-hh";
	char *first[] = { a0, a1, NULL };

	cr_assert_eq(serve9p_parse(2, first, &c), 1);
	cr_assert_eq(parse(&c, 3, "/d", "--listen", "unix:/s"), 0);
	cr_assert_str_eq(c.dir, "/d");
}

Test(serve9p_parse, usage_errors_one_line_each)
{
	struct serve9p_config c;

	cr_redirect_stderr();
	cr_assert_eq(parse(&c, 1, "/d"), -EINVAL);
	cr_assert_eq(parse(&c, 2, "--listen", "unix:/s"), -EINVAL);
	cr_assert_eq(parse(&c, 4, "/d", "--listen", "unix:/s", "/x"), -EINVAL);
	cr_assert_eq(
		parse(&c, 5, "/d", "--listen", "unix:/s", "--security", "none"),
		-EINVAL);
	cr_assert_eq(
		parse(&c, 5, "/d", "--listen", "unix:/s", "--msize", "4095"),
		-EINVAL);
	cr_assert_eq(parse(&c, 4, "/d", "--listen", "unix:/s", "--bogus"),
		     -EINVAL);
	cr_assert_eq(parse(&c, 2, "/d", "--listen"), -EINVAL);
	cr_assert_eq(
		parse(&c, 5, "/d", "--listen", "unix:/s", "--seccomp", "1"),
		-EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"vmm 9p-serve: --listen unix:PATH or tcp:HOST:PORT is required "
		"(see vmm 9p-serve --help)\n"
		"vmm 9p-serve: no directory given (see vmm 9p-serve --help)\n"
		"vmm 9p-serve: unexpected argument '/x' (see vmm 9p-serve "
		"--help)\n"
		"vmm 9p-serve: --security must be passthrough or mapped, not "
		"'none' (see vmm 9p-serve --help)\n"
		"vmm 9p-serve: --msize must be 4096 to 1M, not '4095' (see vmm "
		"9p-serve --help)\n"
		"vmm 9p-serve: unknown option '--bogus' (see vmm 9p-serve "
		"--help)\n"
		"vmm 9p-serve: --listen needs an argument (see vmm 9p-serve "
		"--help)\n"
		"vmm 9p-serve: --seccomp must be on, off or log, not '1' (see "
		"vmm 9p-serve --help)\n");
}

Test(serve9p_parse, help)
{
	struct serve9p_config c;

	cr_redirect_stdout();
	cr_assert_eq(parse(&c, 1, "--help"), 1);
	fflush(stdout);
	cr_assert_stdout_neq_str("");
}
