/* lib/sandbox.c and every thread role's filter, each in a forked child:
 * a call the role forbids ends the process by SIGSYS after one exact
 * line; the calls the role lives on go through; --seccomp log lets the
 * forbidden call run; capabilities not kept are gone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/virtio/9p.h"
#include "devices/virtio/blk.h"
#include "lib/sandbox.h"
#include "vmm/run.h"
#include "vmm/serve9p.h"
#include "vmm/vcpu.h"

struct outcome {
	int status; /* of waitpid */
	char err[512];
};

/* Runs body in a child named "sbx-test" that entered role's filter. */
static struct outcome in_role(const struct sandbox_role *role,
			      enum sandbox_mode mode, void (*body)(void))
{
	struct outcome o = { 0 };
	struct sandbox_filter f;
	int pipefd[2];
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(sandbox_filter_build(&f, role, mode), 0);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		prctl(PR_SET_NAME, "sbx-test", 0, 0, 0);
		if (sandbox_enter(&f))
			_exit(100);
		body();
		_exit(0);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], o.err + got, sizeof(o.err) - 1 - got)) > 0)
		got += (size_t)n;
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &o.status, 0), pid);
	sandbox_filter_free(&f);
	return o;
}

static void make_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
}

static void expect_killed(const struct sandbox_role *role, void (*body)(void),
			  long nr)
{
	struct outcome o = in_role(role, SANDBOX_ON, body);
	char want[256];

	snprintf(want, sizeof(want),
		 "vmm: seccomp: thread sbx-test (role %s) made system call "
		 "%ld, which its filter forbids; stopping\n",
		 role->name, nr);
	cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSYS,
		  "role %s: status %#x, not killed by SIGSYS (stderr: %s)",
		  role->name, o.status, o.err);
	cr_assert_str_eq(o.err, want);
}

static void expect_exit0(const struct sandbox_role *role,
			 enum sandbox_mode mode, void (*body)(void))
{
	struct outcome o = in_role(role, mode, body);

	cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
		  "role %s: status %#x (stderr: %s)", role->name, o.status,
		  o.err);
	cr_assert_str_eq(o.err, "");
}

static struct sandbox_role p9_passthrough, p9_mapped, serve_accept, serve_conn;

static void roles_init(void)
{
	struct sandbox_role unused;

	v9p_sandbox_role(FS9P_PASSTHROUGH, &p9_passthrough);
	v9p_sandbox_role(FS9P_MAPPED, &p9_mapped);
	serve9p_sandbox_roles(FS9P_PASSTHROUGH, &serve_accept, &serve_conn);
	serve9p_sandbox_roles(FS9P_MAPPED, &unused, &unused);
}

TestSuite(sandbox, .init = roles_init);

/* socket(2) is no role's business. */
Test(sandbox, socket_kills_every_role)
{
	const struct sandbox_role *roles[] = {
		&vcpu_role, &vm_main_role, &vblk_queue_role, &p9_passthrough,
		&p9_mapped, &serve_accept, &serve_conn,
	};

	for (unsigned i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		expect_killed(roles[i], make_socket, SYS_socket);
}

static void open_a_file(void)
{
	open("/etc/hostname", O_RDONLY);
}

/* Only the 9p roles open files, and only through the confined resolver;
 * the rest open nothing once the guest runs. */
Test(sandbox, open_kills_non_9p_roles)
{
	expect_killed(&vcpu_role, open_a_file, SYS_openat);
	expect_killed(&vm_main_role, open_a_file, SYS_openat);
	expect_killed(&vblk_queue_role, open_a_file, SYS_openat);
	expect_exit0(&p9_passthrough, SANDBOX_ON, open_a_file);
}

static void exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	     0);
}

static void exec_protect(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(3);
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

/* No role maps new code; plain mappings (malloc) go through. */
Test(sandbox, executable_memory_kills)
{
	expect_killed(&vcpu_role, exec_mapping, SYS_mmap);
	expect_killed(&p9_passthrough, exec_protect, SYS_mprotect);
	expect_killed(&serve_accept, exec_mapping, SYS_mmap);
}

static void tty_ioctl(void)
{
	int ws[4];

	ioctl(STDERR_FILENO, TIOCGWINSZ, ws);
}

static int test_eventfd = -1; /* made before the child enters */

static void vcpu_calls(void)
{
	int fd = test_eventfd;
	uint64_t v = 1;
	void *p = malloc(1 << 20);

	/* The ioctl numbers it lives on are let through (ENOTTY here). */
	if (fd < 0 || ioctl(fd, KVM_RUN, 0) != -1 || errno != ENOTTY)
		_exit(4);
	if (write(fd, &v, 8) != 8 || read(fd, &v, 8) != 8 || !p)
		_exit(5);
}

static void make_eventfd(void)
{
	eventfd(0, 0);
}

Test(sandbox, vcpu_ioctls_by_number)
{
	expect_killed(&vcpu_role, tty_ioctl, SYS_ioctl);
	test_eventfd = eventfd(0, EFD_NONBLOCK);
	cr_assert_geq(test_eventfd, 0);
	expect_exit0(&vcpu_role, SANDBOX_ON, vcpu_calls);
	close(test_eventfd);
	test_eventfd = -1;
	/* Creating one is not a vCPU's business. */
	expect_killed(&vcpu_role, make_eventfd, SYS_eventfd2);
}

static void other_signal(void)
{
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
}

/* The main thread kicks vCPUs with SIGUSR1 and nothing else. */
Test(sandbox, main_signals_only_the_kick)
{
	expect_killed(&vm_main_role, other_signal, SYS_tgkill);
}

static struct sandbox_filter conn_filter;

static void *enter_conn(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)sandbox_enter(&conn_filter);
}

/* 9p-serve's accept thread creates the connection threads, which enter
 * their own sandbox under the one they inherit (the lab's log-mode run
 * found capget, prctl and seccomp refused there). */
static void connection_enters_its_sandbox(void)
{
	pthread_t t;
	void *r = (void *)1;

	if (pthread_create(&t, NULL, enter_conn, NULL) || pthread_join(t, &r) ||
	    r)
		_exit(6);
}

Test(sandbox, serve9p_connection_enters_under_accept)
{
	cr_assert_eq(
		sandbox_filter_build(&conn_filter, &serve_conn, SANDBOX_ON), 0);
	expect_exit0(&serve_accept, SANDBOX_ON, connection_enters_its_sandbox);
	sandbox_filter_free(&conn_filter);
}

Test(sandbox, log_mode_lets_the_call_run)
{
	expect_exit0(&vblk_queue_role, SANDBOX_LOG, make_socket);
	expect_exit0(&vcpu_role, SANDBOX_OFF, make_socket);
}

static uint64_t effective_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return ~0ULL;
	return d[0].effective | (uint64_t)d[1].effective << 32;
}

static void report_caps(void)
{
	uint64_t c = effective_caps();

	/* Through the exit status: 0 none, 1 exactly the 9p set, 2 other. */
	_exit(c == 0 ? 0 : c == fs9p_passthrough_caps ? 1 : 2);
}

static int caps_status(const struct sandbox_role *role)
{
	struct outcome o = in_role(role, SANDBOX_OFF, report_caps);

	cr_assert(WIFEXITED(o.status));
	return WEXITSTATUS(o.status);
}

/* Capabilities go even with the filter off; the 9p passthrough roles
 * keep exactly theirs (when the tests run as root). */
Test(sandbox, capabilities_dropped_per_role)
{
	cr_assert_eq(caps_status(&vcpu_role), 0);
	cr_assert_eq(caps_status(&vm_main_role), 0);
	cr_assert_eq(caps_status(&vblk_queue_role), 0);
	cr_assert_eq(caps_status(&p9_mapped), 0);
	if (geteuid() == 0 && (effective_caps() & fs9p_passthrough_caps) ==
				      fs9p_passthrough_caps) {
		cr_assert_eq(caps_status(&p9_passthrough), 1);
		cr_assert_eq(caps_status(&serve_conn), 1);
	}
}

Test(sandbox, parse_mode)
{
	enum sandbox_mode m = SANDBOX_OFF;

	cr_assert_eq(sandbox_parse_mode("on", &m), 0);
	cr_assert_eq(m, SANDBOX_ON);
	cr_assert_eq(sandbox_parse_mode("log", &m), 0);
	cr_assert_eq(m, SANDBOX_LOG);
	cr_assert_eq(sandbox_parse_mode("off", &m), 0);
	cr_assert_eq(m, SANDBOX_OFF);
	cr_assert_eq(sandbox_parse_mode("ON", &m), -EINVAL);
	cr_assert_eq(sandbox_parse_mode("", &m), -EINVAL);
	cr_assert_eq(m, SANDBOX_OFF);
}
