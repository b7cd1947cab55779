/* Main thread. It builds the VM, starts the vCPU threads (and the API
 * thread with --api), then serves the console input, signals, the board's
 * timer (arch_event_fd) and the stop request in one poll loop; the API thread ends on the stop and the vCPU
 * threads on the lifecycle flag plus a kick, and both are joined here. */
#include "run.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "devices/console.h"
#include "arch/arch.h"
#include "block/block.h"
#include "lib/log.h"
#include "incoming.h"
#include "snapshot.h"
#include "vcpu.h"
#include "vmstate.h"

/* Bytes read from the console that the UART FIFO has not taken yet. */
struct input_buffer {
	uint8_t data[256];
	size_t off, len;
};

static int block_signals(sigset_t *handled)
{
	sigset_t all;

	sigemptyset(handled);
	sigaddset(handled, SIGINT);
	sigaddset(handled, SIGTERM);
	all = *handled;
	sigaddset(&all, SIGUSR1); /* the vCPU kick: unblocked in vCPU threads */
	sigaddset(&all, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &all, NULL))
		return -EINVAL;
	return vcpu_signals_init();
}

static int create_vcpus(struct vm *vm, const struct vm_config *cfg)
{
	vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	vm->nr_vcpus = cfg->cpus;
	for (unsigned i = 0; i < cfg->cpus; i++) {
		int r = vcpu_create(&vm->vcpus[i], vm, i);
		if (r)
			return r;
	}
	return 0;
}

static void stop_vcpus(struct vm *vm)
{
	pause_release(&vm->pause);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

static void feed_input(struct vm *vm, struct input_buffer *in)
{
	in->off += uart_receive(vm->console, in->data + in->off,
				(unsigned)(in->len - in->off));
	if (in->off == in->len)
		in->off = in->len = 0;
}

/* Returns false at end of input. */
static bool read_console(struct vm *vm, struct console *con,
			 struct input_buffer *in)
{
	uint8_t raw[sizeof(in->data)];
	bool quit;
	ssize_t n = read(con->in_fd, raw, sizeof(raw));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	in->len = console_filter(con, raw, (size_t)n, in->data, &quit);
	in->off = 0;
	if (quit)
		lifecycle_stop(&vm->life, STOP_CONSOLE, 0);
	feed_input(vm, in);
	return true;
}

static void serve(struct vm *vm, struct console *con, int sig_fd)
{
	struct input_buffer in = { .len = 0 };
	bool input_open = true;

	while (!lifecycle_stopping(&vm->life)) {
		bool pending = in.len > in.off;
		struct pollfd fds[4] = {
			{ vm->life.stop_fd, POLLIN, 0 },
			{ sig_fd, POLLIN, 0 },
			{ input_open && !pending ? con->in_fd : -1, POLLIN, 0 },
			{ arch_event_fd(vm), POLLIN, 0 },
		};
		/* A full FIFO is retried shortly: the guest drains it. */
		if (poll(fds, 4, pending ? 5 : -1) < 0 && errno != EINTR)
			break;
		if (fds[3].revents & POLLIN)
			arch_event_ready(vm);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				lifecycle_stop(&vm->life, STOP_SIGNAL,
					       128 + (int)si.ssi_signo);
		}
		if (pending)
			feed_input(vm, &in);
		else if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
			input_open = read_console(vm, con, &in);
	}
}

static void print_reports(const struct vm *vm, const struct vm_config *cfg)
{
	uint64_t ns =
		__atomic_load_n(&vm->life.boot_marker_ns, __ATOMIC_RELAXED);
	struct rusage ru;

	/* The absolute CLOCK_MONOTONIC time lets a benchmark that noted the
	 * time of exec compute exec-to-first-instruction. */
	if (cfg->boot_time && ns)
		fprintf(stderr, "vmm: boot-time: %.3f ms (monotonic %llu ns)\n",
			ns / 1e6, (unsigned long long)(vm->life.start_ns + ns));
	else if (cfg->boot_time)
		fprintf(stderr, "vmm: boot-time: the guest never wrote the "
				"boot marker port\n");
	/* One fixed word per mechanism: tests assert which one ended the run. */
	if (cfg->stats)
		fprintf(stderr, "vmm: stats: stopped by %s\n",
			lifecycle_source_name(lifecycle_source(&vm->life)));
	if (cfg->stats && vm->kernel_note)
		fprintf(stderr, "vmm: stats: kernel booted as %s\n",
			vm->kernel_note);
	if (cfg->stats && getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(stderr,
			"vmm: stats: peak RSS %ld KiB, guest RAM "
			"resident %llu KiB\n",
			ru.ru_maxrss,
			(unsigned long long)mem_resident_bytes(&vm->mem) >> 10);
	if (cfg->stats)
		vm_devices_stats(&vm->devices, stderr);
}

static int exit_status(const struct vm *vm, const struct vm_config *cfg)
{
	enum stop_reason reason = lifecycle_reason(&vm->life);
	int status = __atomic_load_n(&vm->life.status, __ATOMIC_ACQUIRE);

	print_reports(vm, cfg);
	/* An operator's quit is not the guest ending without its status:
	 * 0 even with --expect-exit-code. */
	if (reason == STOP_EXIT_PORT || reason == STOP_ERROR ||
	    reason == STOP_SIGNAL || reason == STOP_QUIT ||
	    reason == STOP_MIGRATED)
		return status;
	if (cfg->expect_exit_code) {
		log_error("the guest ended (%s) without writing the exit port",
			  reason == STOP_POWEROFF ? "poweroff"
			  : reason == STOP_RESET  ? "reset"
						  : "console quit");
		return EXIT_NO_EXIT_CODE;
	}
	return 0;
}

/* The main thread once the guest runs: the poll loop (console input,
 * signalfd, stop eventfd, the board's timer), the UART's and the board
 * timer's interrupt lines, kicking and
 * joining the vCPUs, restoring the terminal, then tearing down (closing
 * and unmapping) and the --stats report. It opens nothing. A migration
 * running at a stop has its socket shut down, so that its thread ends. */
static int main_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = {
		KVM_IRQ_LINE, KVM_IOEVENTFD, /* unbound when a device goes */
		TCGETS, TCSETS,		     /* console_restore */
	};
	static const int calls[] = {
		SCMP_SYS(close),
		SCMP_SYS(getrusage),
		SCMP_SYS(mincore),    /* guest RAM resident, for --stats */
		SCMP_SYS(newfstatat), /* stdio's first use of a stream */
		SCMP_SYS(fstat),
		SCMP_SYS(shutdown), /* a migration's socket, at a stop */
	};
	int r = sandbox_allow_ioctls(ctx, ioctls,
				     sizeof(ioctls) / sizeof(ioctls[0]));

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	if (!r)
		r = vcpu_kick_rules(ctx); /* stopping kicks */
	return r ? r : sandbox_rules_eventfd_poll(ctx);
}

const struct sandbox_role vm_main_role = {
	.name = "main",
	/* The disks are closed at teardown (block/block.h). */
	.rules = { main_rules, blk_close_rules },
};

/* --restore or --incoming: the state read (RAM in place, the rest kept
 * in l for vmstate_load_apply); *peer is the incoming connection. */
static int load_state(const struct vm_config *cfg, int sig_fd,
		      struct vmstate_load *l, int *peer)
{
	int r;

	if (cfg->restore)
		return snapshot_load(cfg->restore, l) ? EXIT_VMM_ERROR : 0;
	r = incoming_receive(cfg->incoming, sig_fd, l);
	if (r == -EINTR)
		return 128 + SIGTERM;
	if (r < 0)
		return r == -EINVAL || r == -EEXIST || r == -EADDRINUSE
			       ? EXIT_USAGE
			       : EXIT_VMM_ERROR;
	*peer = r;
	return 0;
}

static int setup(struct vm *vm, const struct vm_config *cfg, int sig_fd,
		 struct vmstate_load *l, int *peer)
{
	int r;

	/* First: a bad --api is refused before anything else is done. */
	if (cfg->api_path) {
		r = api_server_open(&vm->api, cfg->api_path, cfg->seccomp);
		if (r)
			return r == -ENOMEM || r == -ENFILE || r == -EMFILE
				       ? EXIT_VMM_ERROR
				       : EXIT_USAGE;
		if (migrator_init(&vm->migrator, cfg->seccomp))
			return EXIT_VMM_ERROR;
	}
	if (cfg->restore && snapshot_open(cfg->restore, l))
		return EXIT_USAGE;
	r = vm_create(vm, cfg);
	if (r)
		return EXIT_VMM_ERROR;
	vm->nr_vcpus = cfg->cpus;
	if (arch_board_attach(vm, STDOUT_FILENO) ||
	    vdevs_init(vm, cfg->transport))
		return EXIT_VMM_ERROR;
	r = vm_devices_attach(vm, cfg->devices, cfg->nr_devices, cfg->seccomp,
			      cfg->incoming != NULL);
	if (r)
		return r == -ENOENT || r == -EACCES || r == -EINVAL ||
				       r == -EISDIR
			       ? EXIT_USAGE
			       : EXIT_VMM_ERROR;
	if (!(cfg->restore || cfg->incoming)) {
		if (arch_write_tables(vm))
			return EXIT_VMM_ERROR;
		if (arch_load_kernel(vm, cfg))
			return EXIT_USAGE;
	}
	/* Before a state is read: a migration's source is paused from its
	 * last pages until the reply, so what can be done while it is still
	 * running is done first. A snapshot's RAM mapped over the slots
	 * later shows through them (KVM follows the mapping). */
	if (mem_register_kvm(&vm->mem, vm->vm_fd))
		return EXIT_VMM_ERROR;
	if (vcpu_sandbox_build(&vm->vcpu_sandbox, cfg->seccomp) ||
	    sandbox_filter_build(&vm->main_sandbox, &vm_main_role,
				 cfg->seccomp))
		return EXIT_VMM_ERROR;
	if (cfg->restore || cfg->incoming) {
		/* The RAM (firmware tables and kernel included) and every
		 * register come from the state; nothing is loaded. */
		r = load_state(cfg, sig_fd, l, peer);
		if (r)
			return r;
		/* The source has quiesced and handed its disks over (the END
		 * came): take them over before any device state is applied
		 * and before a queue worker starts. A failure ends the run
		 * (status 1) and the source resumes. */
		if (cfg->incoming && vm_devices_activate(&vm->devices))
			return EXIT_VMM_ERROR;
	}
	/* The vCPUs only now, just before their state is written: KVM (before
	 * Linux 6.7) takes a TSC written within a second of what the vCPU's
	 * TSC would read since its creation for a synchronisation and keeps
	 * its own value; created before a migration stream of seconds, the
	 * guest's TSC could jump by up to a second. */
	if (create_vcpus(vm, cfg))
		return EXIT_VMM_ERROR;
	if (!(cfg->restore || cfg->incoming))
		return 0;
	if (vmstate_load_apply(l))
		return EXIT_VMM_ERROR;
	/* Committed: once told, the source ends its run. */
	if (*peer >= 0) {
		r = incoming_takeover(*peer);
		*peer = -1;
		if (r)
			return EXIT_VMM_ERROR;
	}
	return 0;
}

static int run_vcpus(struct vm *vm, const struct vm_config *cfg, int sig_fd)
{
	struct console con;
	int r = console_open(&con, STDIN_FILENO);

	if (r) {
		log_error("console: %s", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < vm->nr_vcpus && !r; i++)
		r = vcpu_start(&vm->vcpus[i]);
	if (!r && cfg->api_path)
		r = migrator_start(&vm->migrator, vm);
	if (!r && cfg->api_path)
		r = api_server_start(&vm->api, vm);
	/* Last: a thread's filter is inherited by threads it creates. */
	if (!r) {
		r = sandbox_enter(&vm->main_sandbox);
		if (r)
			log_error("main thread: entering the sandbox: %s",
				  strerror(-r));
	}
	if (r)
		lifecycle_stop(&vm->life, STOP_ERROR, EXIT_VMM_ERROR);
	else
		serve(vm, &con, sig_fd);
	/* Before the vCPUs are joined: a pause in progress kicks them. */
	api_server_join(&vm->api);
	migrator_stop(&vm->migrator);
	stop_vcpus(vm);
	console_restore(&con);
	return 0;
}

static void teardown(struct vm *vm, const struct vm_config *cfg)
{
	if (cfg->api_path) {
		api_server_close(&vm->api);
		migrator_destroy(&vm->migrator);
	}
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm_devices_destroy(&vm->devices);
	vdevs_destroy(&vm->vdevs);
	arch_vm_destroy(vm);
	vm_destroy(vm);
	lifecycle_destroy(&vm->life);
	pause_destroy(&vm->pause);
	sandbox_filter_free(&vm->vcpu_sandbox);
	sandbox_filter_free(&vm->main_sandbox);
}

int vm_run(const struct vm_config *cfg, uint64_t start_ns)
{
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .api.listen_fd = -1 };
	struct vmstate_load load;
	sigset_t handled;
	int sig_fd, status, peer = -1;

	if (sandbox_no_new_privs() || block_signals(&handled) ||
	    lifecycle_init(&vm.life, start_ns) || pause_init(&vm.pause)) {
		log_error("setting up signals: %s", strerror(errno));
		return EXIT_VMM_ERROR;
	}
	sig_fd = signalfd(-1, &handled, SFD_CLOEXEC);
	vmstate_load_init(&load, &vm, -1);
	status = sig_fd < 0 ? EXIT_VMM_ERROR
			    : setup(&vm, cfg, sig_fd, &load, &peer);
	vmstate_load_free(&load);
	if (!status)
		status = run_vcpus(&vm, cfg, sig_fd) ? EXIT_VMM_ERROR
						     : exit_status(&vm, cfg);
	teardown(&vm, cfg);
	/* A destination that failed after the END: its disks closed first
	 * (what a takeover's open wrote, undone), then the source learns
	 * it must go on (peer >= 0 only then). */
	if (peer >= 0)
		close(peer);
	if (sig_fd >= 0)
		close(sig_fd);
	return status;
}
