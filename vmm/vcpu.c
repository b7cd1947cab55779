/* Each vCPU's loop runs on its own thread ("vcpuN"); it owns its kvm_run
 * page. Creation and join run on the main thread, kicks on the main
 * thread (stop) and the API thread (pause). Device handlers called from
 * here take their own locks; a paused vCPU waits under the pause's lock
 * (pause.h); a full dirty ring is harvested under the dirty tracker's
 * (memory/dirty.h). */
#include "vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "pause.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

int vcpu_signals_init(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned id)
{
	void *run;
	int r;

	memset(v, 0, sizeof(*v));
	v->id = id;
	v->vm = vm;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		r = -errno;
		log_error("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return r;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   v->fd, 0);
	if (run == MAP_FAILED) {
		r = -errno;
		log_error("mapping kvm_run of vCPU %u: %s", id,
			  strerror(errno));
		return r;
	}
	v->run = run;
	r = mem_dirty_add_vcpu(&vm->dirty, id, v->fd);
	return r ? r : arch_vcpu_init(v);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len <= 8 ? run->mmio.len : 8;

	iobus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.is_write,
		     run->mmio.data, len);
}

static void handle_system_event(struct vcpu *v)
{
	struct lifecycle *life = &v->vm->life;

	if (v->run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
		lifecycle_stop(life, STOP_POWEROFF, 0);
	else
		lifecycle_stop(life, STOP_RESET, 0);
}

/* Returns false when the loop must end. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO: handle_mmio(v); return true;
	case KVM_EXIT_SYSTEM_EVENT: handle_system_event(v); return false;
	/* Its dirty ring is full: harvested and reset before it runs again
	 * (memory/dirty.h; re-entering first would exit again at once). */
	case KVM_EXIT_DIRTY_RING_FULL:
		if (!mem_dirty_ring_full(&v->vm->dirty, v->id))
			return true;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vCPU %u: KVM entry failed, reason %#llx", v->id,
			  (unsigned long long)run->fail_entry
				  .hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		log_error("vCPU %u: KVM internal error, suberror %u", v->id,
			  run->internal.suberror);
		break;
	default: {
		int r = arch_handle_exit(v);
		if (r >= 0)
			return r;
		log_error("vCPU %u: unexpected KVM exit reason %u", v->id,
			  run->exit_reason);
		break;
	}
	}
	lifecycle_stop(&v->vm->life, STOP_ERROR, 1);
	return false;
}

/* KVM finishes an exit (the data of an IN or an MMIO read into its
 * register, the instruction pointer past a port access) only when
 * KVM_RUN is entered again. A vCPU about to park, whose state a snapshot
 * or a migration may read, enters it once with immediate_exit set: KVM
 * completes the exit and returns EINTR without running the guest, so the
 * state saved never holds an instruction half done (QEMU does the same). */
static void complete_exit(struct vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) == 0)
		log_error("vCPU %u: KVM_RUN ran with immediate_exit set",
			  v->id);
}

/* Every exit a vCPU serves runs on its thread: KVM_RUN, interrupts
 * (the UART's line, MSI-X routes the driver programs), the ioeventfds a
 * virtio transport binds at DRIVER_OK, console output to stdout (poll(2)
 * when it is full), the eventfds that hand commands to queue workers,
 * and a full dirty ring's reset (its ring was mapped at creation). No
 * thread, file or ring is created here. */
static int vcpu_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = {
		KVM_RUN,       KVM_IRQ_LINE,	      KVM_SET_GSI_ROUTING,
		KVM_IOEVENTFD, KVM_RESET_DIRTY_RINGS,
	};
	int r = sandbox_allow_ioctls(ctx, ioctls,
				     sizeof(ioctls) / sizeof(ioctls[0]));

	return r ? r : sandbox_rules_eventfd_poll(ctx);
}

const struct sandbox_role vcpu_role = {
	.name = "vcpu",
	.rules = { vcpu_rules, arch_vcpu_rules },
};

int vcpu_sandbox_build(struct sandbox_filter *f, enum sandbox_mode mode)
{
	return sandbox_filter_build(f, &vcpu_role, mode);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct lifecycle *life = &v->vm->life;
	char name[16];
	sigset_t kick;
	bool exit_pending = false; /* the last KVM_RUN returned an exit */
	int r;

	/* Named here: the guest may be done before the creator could. */
	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	r = sandbox_enter(&v->vm->vcpu_sandbox);
	if (r) {
		log_error("vCPU %u: entering the sandbox: %s", v->id,
			  strerror(-r));
		lifecycle_stop(life, STOP_ERROR, 1);
		pause_vcpu_ended(&v->vm->pause);
		return NULL;
	}
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	while (!lifecycle_stopping(life)) {
		if (pause_requested(&v->vm->pause)) {
			if (exit_pending)
				complete_exit(v);
			exit_pending = false;
			pause_park(v->vm);
			/* The kick that parked this thread left immediate_exit
			 * set. Cleared before paused and the stop are looked
			 * at again (the fence orders the store before those
			 * loads): a kick after this store makes KVM_RUN return
			 * at once; one before it came after its request, which
			 * the loop's checks then see. */
			__atomic_store_n(&v->run->immediate_exit, 0,
					 __ATOMIC_SEQ_CST);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			exit_pending = false;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("vCPU %u: KVM_RUN: %s", v->id,
				  strerror(errno));
			lifecycle_stop(life, STOP_ERROR, 1);
			break;
		}
		exit_pending = true;
		if (!handle_exit(v))
			break;
	}
	pause_vcpu_ended(&v->vm->pause);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int r;

	pause_vcpu_starting(&v->vm->pause);
	r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r) {
		pause_vcpu_ended(&v->vm->pause);
		log_error("starting the thread of vCPU %u: %s", v->id,
			  strerror(r));
		return -r;
	}
	v->started = true;
	return 0;
}

int vcpu_kick_rules(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
				sandbox_arg_eq(0, (uint32_t)getpid()),
				sandbox_arg_eq(2, VCPU_KICK_SIGNAL));
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

/* A kick that lands just before the thread enters a blocking system call
 * (a console write to a full pipe) is lost; kicking again every 100 ms
 * bounds how long such a call can hold the stop up. */
void vcpu_join(struct vcpu *v)
{
	while (v->started) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 100 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(v->thread, NULL, &t) != ETIMEDOUT)
			v->started = false;
		else
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->vm->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
