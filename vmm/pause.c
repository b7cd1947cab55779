/* Pause and resume of the vCPUs (pause.h). vm_pause/vm_resume run on the
 * API thread, the holds on the migration worker, pause_park on vCPU threads, the counters' set-up and
 * pause_release on the main thread; everything under struct vm_pause's
 * lock, which is a leaf (nothing else is taken while it is held). */
#include "pause.h"

#include <errno.h>
#include <time.h>

#include "vcpu.h"
#include "vm.h"

/* How often a pause that is still waiting kicks the vCPUs again: a kick
 * that lands just before a vCPU enters a blocking call is lost (as for a
 * stop, vcpu_join). */
#define PAUSE_REKICK_NS (100 * 1000 * 1000)
#define PAUSE_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000)

int pause_init(struct vm_pause *p)
{
	pthread_condattr_t ca;
	int r;

	p->paused = false;
	p->parked = p->running = p->held = 0;
	r = pthread_mutex_init(&p->lock, NULL);
	if (r)
		return -r;
	/* CLOCK_MONOTONIC: a wall-clock step must not stretch the wait. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r) {
		pthread_mutex_destroy(&p->lock);
		return -r;
	}
	return 0;
}

void pause_destroy(struct vm_pause *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

void pause_vcpu_starting(struct vm_pause *p)
{
	pthread_mutex_lock(&p->lock);
	p->running++;
	pthread_mutex_unlock(&p->lock);
}

void pause_vcpu_ended(struct vm_pause *p)
{
	pthread_mutex_lock(&p->lock);
	p->running--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

bool pause_requested(struct vm_pause *p)
{
	return __atomic_load_n(&p->paused, __ATOMIC_SEQ_CST);
}

void pause_park(struct vm *vm)
{
	struct vm_pause *p = &vm->pause;

	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (p->paused && !lifecycle_stopping(&vm->life))
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
}

static void kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

static void after_ns(struct timespec *t, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	ns += (uint64_t)t->tv_nsec;
	t->tv_sec += (time_t)(ns / 1000000000);
	t->tv_nsec = (long)(ns % 1000000000);
}

/* Called with the lock held and paused set. */
static int wait_parked(struct vm *vm)
{
	struct vm_pause *p = &vm->pause;
	uint64_t deadline = monotonic_ns() + PAUSE_TIMEOUT_NS;

	while (p->parked < p->running) {
		struct timespec t;

		if (lifecycle_stopping(&vm->life))
			return -ESHUTDOWN;
		if (monotonic_ns() >= deadline)
			return -ETIMEDOUT;
		after_ns(&t, PAUSE_REKICK_NS);
		if (pthread_cond_timedwait(&p->cond, &p->lock, &t) == ETIMEDOUT)
			kick_all(vm);
	}
	return 0;
}

/* Called with the lock held. */
static int pause_locked(struct vm *vm)
{
	struct vm_pause *p = &vm->pause;
	int r;

	if (p->paused)
		return -EALREADY;
	if (lifecycle_stopping(&vm->life))
		return -ESHUTDOWN;
	/* Set before the kick: a vCPU clears its immediate_exit, then
	 * looks at paused (vcpu.c), so it either sees this or the kick. */
	__atomic_store_n(&p->paused, true, __ATOMIC_SEQ_CST);
	kick_all(vm);
	r = wait_parked(vm);
	if (r) {
		/* Not paused after all: the vCPUs that parked run on. */
		__atomic_store_n(&p->paused, false, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&p->cond);
	}
	return r;
}

static void resume_locked(struct vm_pause *p)
{
	__atomic_store_n(&p->paused, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&p->cond);
}

int vm_pause(struct vm *vm)
{
	int r;

	pthread_mutex_lock(&vm->pause.lock);
	r = pause_locked(vm);
	pthread_mutex_unlock(&vm->pause.lock);
	return r;
}

int vm_resume(struct vm *vm)
{
	struct vm_pause *p = &vm->pause;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->paused)
		r = -EALREADY;
	else if (p->held)
		r = -EBUSY;
	else
		resume_locked(p);
	pthread_mutex_unlock(&p->lock);
	return r;
}

int vm_pause_hold(struct vm *vm, bool *was_paused)
{
	struct vm_pause *p = &vm->pause;
	int r;

	pthread_mutex_lock(&p->lock);
	*was_paused = p->paused;
	r = p->paused ? 0 : pause_locked(vm);
	if (!r)
		p->held++;
	pthread_mutex_unlock(&p->lock);
	return r;
}

void vm_pause_unhold(struct vm *vm, bool resume)
{
	struct vm_pause *p = &vm->pause;

	pthread_mutex_lock(&p->lock);
	p->held--;
	if (resume && !p->held)
		resume_locked(p);
	pthread_mutex_unlock(&p->lock);
}

bool vm_paused(struct vm *vm)
{
	return pause_requested(&vm->pause);
}

void pause_release(struct vm_pause *p)
{
	/* The stop is already visible (lifecycle); taking the lock orders
	 * this wake-up after a parked thread's check of it. */
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
