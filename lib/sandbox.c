/* Compiling and installing the per-role sandboxes (sandbox.h).
 * Threads: build/free on the main thread; sandbox_enter on each thread
 * for itself. The thread-local name and role are written by their own
 * thread only, and read by its own SIGSYS handler. */
#include "sandbox.h"

#include <errno.h>
#include <malloc.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

static __thread const char *sandbox_thread_role;

/* Async-signal-safe: appends text. */
static size_t put_text(char *buf, size_t at, size_t size, const char *s)
{
	while (*s && at + 1 < size)
		buf[at++] = *s++;
	return at;
}

static size_t put_number(char *buf, size_t at, size_t size, long v)
{
	char digits[24];
	int n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		digits[n++] = '-';
	while (n && at + 1 < size)
		buf[at++] = digits[--n];
	return at;
}

/* A forbidden call in SANDBOX_ON: one line, then death by SIGSYS (the
 * default action, restored here) so that the parent sees which signal
 * ended it. Only calls that every filter allows. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[200], name[16] = "?";
	size_t n = 0;
	sigset_t set;

	(void)uc;
	prctl(PR_GET_NAME, name, 0, 0, 0);
	name[sizeof(name) - 1] = 0;
	n = put_text(line, n, sizeof(line), "vmm: seccomp: thread ");
	n = put_text(line, n, sizeof(line), name);
	n = put_text(line, n, sizeof(line), " (role ");
	n = put_text(line, n, sizeof(line),
		     sandbox_thread_role ? sandbox_thread_role : "?");
	n = put_text(line, n, sizeof(line), ") made system call ");
	n = put_number(line, n, sizeof(line), si->si_syscall);
	n = put_text(line, n, sizeof(line),
		     ", which its filter forbids; stopping\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing more to say */
	}
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* glibc shrinks a thread's malloc arena only after it has read
 * /proc/sys/vm/overcommit_memory, the first time, on whichever thread
 * frees: a sandboxed thread may not open it (seen in the lab, a queue
 * thread freeing a qcow2 cluster buffer). Arenas then keep up to 64 MiB
 * of free memory at their top instead of trimming it; the freed memory
 * is reused by the next allocations. */
static void keep_heaps(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

static int install_sigsys_handler(void)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO };

	sa.sa_sigaction = on_sigsys;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

/* Spelled out: libseccomp's SCMP_A*_32 macros leave fields to the
 * compiler, which clang's -Wmissing-field-initializers refuses. */
struct scmp_arg_cmp sandbox_arg_eq(unsigned arg, uint32_t value)
{
	return (struct scmp_arg_cmp){ .arg = arg,
				      .op = SCMP_CMP_MASKED_EQ,
				      .datum_a = 0xffffffffu,
				      .datum_b = value };
}

struct scmp_arg_cmp sandbox_arg_clear(unsigned arg, uint64_t bits)
{
	return (struct scmp_arg_cmp){ .arg = arg,
				      .op = SCMP_CMP_MASKED_EQ,
				      .datum_a = bits,
				      .datum_b = 0 };
}

int sandbox_allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

int sandbox_allow_ioctls(scmp_filter_ctx ctx, const unsigned long *requests,
			 unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int r = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			sandbox_arg_eq(1, (uint32_t)requests[i]));
		if (r)
			return r;
	}
	return 0;
}

int sandbox_rules_base(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		SCMP_SYS(exit),
		SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(restart_syscall),
		SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(futex),
		SCMP_SYS(munmap),
		SCMP_SYS(madvise),
		SCMP_SYS(brk),
		SCMP_SYS(mremap),
		SCMP_SYS(clock_gettime),
		SCMP_SYS(clock_nanosleep),
		SCMP_SYS(nanosleep),
		SCMP_SYS(gettid),
		SCMP_SYS(getpid),
		SCMP_SYS(sched_yield),
		/* malloc sizes its arenas by the CPUs it may run on */
		SCMP_SYS(sched_getaffinity),
		/* ASan's runtime drops a thread's alternate signal stack when
		 * the thread ends (seen in the lab with SANITIZE builds) */
		SCMP_SYS(sigaltstack),
	};
	int r = 0;

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	/* Memory, never executable: no new code in a sandboxed thread. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     sandbox_arg_clear(2, PROT_EXEC));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     sandbox_arg_clear(2, PROT_EXEC));
	/* Log lines. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
				     sandbox_arg_eq(0, STDERR_FILENO));
	/* The SIGSYS handler's line names the thread. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     sandbox_arg_eq(0, PR_GET_NAME));
	/* The SIGSYS handler's own way out: the default action of SIGSYS
	 * restored, sent to this thread of this process. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				     SCMP_SYS(rt_sigaction), 1,
				     sandbox_arg_eq(0, SIGSYS));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
				     sandbox_arg_eq(0, (uint32_t)getpid()),
				     sandbox_arg_eq(2, SIGSYS));
	return r;
}

int sandbox_rules_eventfd_poll(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		SCMP_SYS(read),
		SCMP_SYS(write),
		SCMP_SYS(poll),
		SCMP_SYS(ppoll),
	};
	int r = 0;

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	return r;
}

/* libseccomp 2.5 exports a filter only to a file descriptor. */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("vmm-seccomp", MFD_CLOEXEC);
	off_t size;
	void *insns;
	int r;

	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	size = r ? 0 : lseek(fd, 0, SEEK_END);
	if (!r && (size <= 0 || size % sizeof(struct sock_filter) ||
		   size / sizeof(struct sock_filter) > BPF_MAXINSNS))
		r = -E2BIG;
	insns = r ? NULL : malloc((size_t)size);
	if (!r && !insns)
		r = -ENOMEM;
	if (!r && pread(fd, insns, (size_t)size, 0) != size)
		r = -EIO;
	close(fd);
	if (r) {
		free(insns);
		return r;
	}
	prog->filter = insns;
	prog->len = (unsigned short)(size / sizeof(struct sock_filter));
	return 0;
}

static int compile(struct sandbox_filter *f, const struct sandbox_role *role)
{
	uint32_t deny = f->mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx = seccomp_init(deny);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = sandbox_rules_base(ctx);
	for (unsigned i = 0; i < SANDBOX_MAX_RULE_SETS && role->rules[i] && !r;
	     i++)
		r = role->rules[i](ctx);
	if (!r)
		r = export_program(ctx, &f->prog);
	seccomp_release(ctx);
	return r;
}

int sandbox_filter_build(struct sandbox_filter *f,
			 const struct sandbox_role *role,
			 enum sandbox_mode mode)
{
	int r = 0;

	memset(f, 0, sizeof(*f));
	f->role = role;
	f->mode = mode;
	if (mode == SANDBOX_OFF)
		return 0;
	keep_heaps();
	if (mode == SANDBOX_ON)
		r = install_sigsys_handler();
	if (!r)
		r = compile(f, role);
	if (r)
		log_error("seccomp: building the filter of the %s threads: %s",
			  role->name, strerror(-r));
	return r;
}

void sandbox_filter_free(struct sandbox_filter *f)
{
	free(f->prog.filter);
	f->prog.filter = NULL;
	f->prog.len = 0;
}

/* Keeps only the role's capabilities in this thread (capabilities are
 * per thread): effective, permitted, inheritable and ambient. */
static int drop_capabilities(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	/* Zeroed although capget fills both: valgrind's model of the call
	 * marks only the first as written. */
	struct __user_cap_data_struct data[2] = { 0 };
	uint64_t eff, perm;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	perm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	if (!(perm & ~keep) && !data[0].inheritable && !data[1].inheritable)
		return 0;
	eff &= keep;
	perm &= keep;
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(eff >> (32 * i));
		data[i].permitted = (uint32_t)(perm >> (32 * i));
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL)
		return -errno;
	return 0;
}

int sandbox_enter(const struct sandbox_filter *f)
{
	int r;

	if (!f)
		return 0;
	r = drop_capabilities(f->role->keep_caps);
	if (r || f->mode == SANDBOX_OFF)
		return r;
	sandbox_thread_role = f->role->name;
	/* Whatever else the process did, a filter needs no_new_privs. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->prog))
		return -errno;
	return 0;
}

int sandbox_no_new_privs(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}

int sandbox_parse_mode(const char *s, enum sandbox_mode *mode)
{
	if (!strcmp(s, "on"))
		*mode = SANDBOX_ON;
	else if (!strcmp(s, "off"))
		*mode = SANDBOX_OFF;
	else if (!strcmp(s, "log"))
		*mode = SANDBOX_LOG;
	else
		return -EINVAL;
	return 0;
}
