/* vm_pause / vm_resume (vmm/pause.c) with test threads standing in for
 * the vCPU loops: no KVM, no kick needed (the fake loops look at the
 * pause flag every millisecond). What matters: pause returns only once
 * every running thread is parked, the wrong-state answers, and that a
 * stop ends a pause in progress and a parked thread (no deadlock). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "vmm/pause.h"
#include "vmm/vm.h"

static struct vm vm;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	cr_assert_eq(lifecycle_init(&vm.life, monotonic_ns()), 0);
	cr_assert_eq(pause_init(&vm.pause), 0);
}

static void teardown(void)
{
	pause_destroy(&vm.pause);
	lifecycle_destroy(&vm.life);
}

TestSuite(pause, .init = setup, .fini = teardown);

/* A vCPU loop without KVM_RUN. */
static void *fake_vcpu(void *arg)
{
	(void)arg;
	while (!lifecycle_stopping(&vm.life)) {
		if (pause_requested(&vm.pause))
			pause_park(&vm);
		else
			usleep(1000);
	}
	pause_vcpu_ended(&vm.pause);
	return NULL;
}

static void start(pthread_t *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		pause_vcpu_starting(&vm.pause);
		cr_assert_eq(pthread_create(&t[i], NULL, fake_vcpu, NULL), 0);
	}
}

static void stop(pthread_t *t, unsigned n)
{
	lifecycle_stop(&vm.life, STOP_SIGNAL, 143);
	pause_release(&vm.pause);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static unsigned parked(void)
{
	unsigned n;

	pthread_mutex_lock(&vm.pause.lock);
	n = vm.pause.parked;
	pthread_mutex_unlock(&vm.pause.lock);
	return n;
}

Test(pause, pause_waits_for_every_thread_then_resume)
{
	pthread_t t[3];

	start(t, 3);
	cr_assert_not(vm_paused(&vm));
	cr_assert_eq(vm_pause(&vm), 0);
	cr_assert_eq(parked(), 3, "pause returned before every thread parked");
	cr_assert(vm_paused(&vm));
	cr_assert_eq(vm_pause(&vm), -EALREADY);
	cr_assert_eq(vm_resume(&vm), 0);
	cr_assert_not(vm_paused(&vm));
	cr_assert_eq(vm_resume(&vm), -EALREADY);
	/* Again: the threads left their park and can be parked anew. */
	cr_assert_eq(vm_pause(&vm), 0);
	cr_assert_eq(parked(), 3);
	cr_assert_eq(vm_resume(&vm), 0);
	stop(t, 3);
}

/* A stop while paused releases the parked threads. */
Test(pause, stop_while_paused_ends_the_threads, .timeout = 10)
{
	pthread_t t[2];

	start(t, 2);
	cr_assert_eq(vm_pause(&vm), 0);
	stop(t, 2);
	cr_assert_eq(vm.pause.running, 0);
	cr_assert_eq(vm.pause.parked, 0);
}

Test(pause, pause_when_stopping_is_refused)
{
	lifecycle_stop(&vm.life, STOP_SIGNAL, 143);
	cr_assert_eq(vm_pause(&vm), -ESHUTDOWN);
	cr_assert_not(vm_paused(&vm));
}

static void *stop_later(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	lifecycle_stop(&vm.life, STOP_SIGNAL, 143);
	return NULL;
}

/* A thread that never parks (it is stuck elsewhere) and then a stop: the
 * pause gives up with -ESHUTDOWN instead of waiting forever. */
Test(pause, stop_during_a_pause_ends_it, .timeout = 10)
{
	pthread_t t;

	pause_vcpu_starting(&vm.pause); /* a vCPU that never looks */
	cr_assert_eq(pthread_create(&t, NULL, stop_later, NULL), 0);
	cr_assert_eq(vm_pause(&vm), -ESHUTDOWN);
	cr_assert_not(vm_paused(&vm), "a failed pause left the flag set");
	pthread_join(t, NULL);
}

/* Threads that end while a pause waits are not waited for. */
Test(pause, ended_threads_are_not_waited_for, .timeout = 10)
{
	pthread_t t[2];

	start(t, 2);
	pause_vcpu_starting(&vm.pause); /* one more that ends at once */
	pause_vcpu_ended(&vm.pause);
	cr_assert_eq(vm_pause(&vm), 0);
	cr_assert_eq(parked(), 2);
	cr_assert_eq(vm_resume(&vm), 0);
	stop(t, 2);
}
