/* Per-thread sandboxes: a seccomp filter and a capability set for each
 * thread role (vCPU, queue worker, 9p worker, main thread). The rules of
 * a role live beside the code of its thread; this module only compiles
 * them and installs them.
 *
 * - sandbox_filter_build compiles a role's rules into a BPF program on
 *   the main thread before the role's threads exist (it allocates and
 *   can fail with a clear message; the thread's own start cannot).
 * - sandbox_enter, called by the thread itself as its first act, drops
 *   the capabilities the role does not keep and installs the program.
 *   A thread's filter is inherited by the threads it creates, so every
 *   thread is created before its creator enters its own sandbox.
 *
 * A forbidden system call in mode SANDBOX_ON prints one line naming the
 * thread, its role and the call, then kills the process with SIGSYS.
 * SANDBOX_LOG lets it run and has the kernel log it (the audit record
 * type 1326 in the kernel log, naming the thread and call number).
 *
 * Threads: build/free on the main thread; enter on the thread itself;
 * the SIGSYS handler is installed once by the first build. */
#ifndef LIB_SANDBOX_H
#define LIB_SANDBOX_H

#include <linux/filter.h>
#include <seccomp.h>
#include <stdint.h>

enum sandbox_mode {
	SANDBOX_OFF, /* capabilities are still dropped */
	SANDBOX_ON,
	SANDBOX_LOG,
};

/* Adds allow rules for one concern of a role; 0 or a negative errno. */
typedef int (*sandbox_rules_fn)(scmp_filter_ctx ctx);

#define SANDBOX_MAX_RULE_SETS 6

struct sandbox_role {
	const char *name; /* e.g. "vcpu", for the violation line */
	/* Besides sandbox_rules_base, which every role gets. */
	sandbox_rules_fn rules[SANDBOX_MAX_RULE_SETS];
	/* CAP_* bits (1ULL << CAP_X) the thread keeps when it has them. */
	uint64_t keep_caps;
};

struct sandbox_filter {
	const struct sandbox_role *role;
	enum sandbox_mode mode;
	struct sock_fprog prog; /* empty in SANDBOX_OFF */
};

/* 0, or a negative errno after one log line. f is zeroed first, so
 * sandbox_filter_free is always safe afterwards. */
int sandbox_filter_build(struct sandbox_filter *f,
			 const struct sandbox_role *role,
			 enum sandbox_mode mode);
void sandbox_filter_free(struct sandbox_filter *f);

/* On the calling thread: drops capabilities, then installs the filter.
 * NULL (a thread started by a unit test) does nothing. 0 or -errno. */
int sandbox_enter(const struct sandbox_filter *f);

/* Process-wide and inherited by every thread and child created later:
 * execve can grant no privilege (setuid bits, file capabilities). Also
 * what lets an unprivileged process install seccomp filters. */
int sandbox_no_new_privs(void);

/* "on", "off" or "log". 0 or -EINVAL. */
int sandbox_parse_mode(const char *s, enum sandbox_mode *mode);

/* Rule helpers for the roles' rule functions. Argument arg's low 32 bits
 * equal value (file descriptors, signals, ioctl numbers are ints); or
 * has none of bits set. */
struct scmp_arg_cmp sandbox_arg_eq(unsigned arg, uint32_t value);
struct scmp_arg_cmp sandbox_arg_clear(unsigned arg, uint64_t bits);
int sandbox_allow(scmp_filter_ctx ctx, int nr);
/* ioctl(fd, request, ...) only with these request numbers. */
int sandbox_allow_ioctls(scmp_filter_ctx ctx, const unsigned long *requests,
			 unsigned n);
/* What every thread of this process does: futexes, memory allocation
 * (mappings never executable), clocks, its own exit, log lines on
 * stderr, signal masks and returns. */
int sandbox_rules_base(scmp_filter_ctx ctx);
/* Reads and writes of eventfds and poll(2)/ppoll(2) on them. */
int sandbox_rules_eventfd_poll(scmp_filter_ctx ctx);

#endif
