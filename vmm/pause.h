/* Pausing a running VM: every vCPU thread leaves KVM_RUN (a kick, as for
 * a stop) and parks on the pause's condition variable until resumed.
 * Threads: vm_pause/vm_resume on the API thread; pause_park and
 * pause_vcpu_ended on vCPU threads; the rest on the main thread. State
 * under struct vm_pause's lock; `paused` is also read without it by the
 * vCPU loop (atomic). The virtio queue threads are not paused: they only
 * serve requests the guest made before it stopped, and an idle guest
 * makes none. */
#ifndef VMM_PAUSE_H
#define VMM_PAUSE_H

#include <pthread.h>
#include <stdbool.h>

struct vm;

struct vm_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* parked or running changed, or paused cleared */
	bool paused;	     /* requested (atomic for the vCPU loop's peek) */
	unsigned parked;     /* vCPU threads waiting in pause_park */
	unsigned running;    /* vCPU threads started and not yet ended */
	unsigned held;	     /* vm_pause_hold()s: resume is refused */
};

int pause_init(struct vm_pause *p);
void pause_destroy(struct vm_pause *p);

/* Main thread, before starting a vCPU thread: one more to park. */
void pause_vcpu_starting(struct vm_pause *p);
/* vCPU thread, when its loop ends: one fewer to wait for. */
void pause_vcpu_ended(struct vm_pause *p);

/* vCPU loop: true when it must park before entering KVM_RUN again. */
bool pause_requested(struct vm_pause *p);
/* vCPU thread: waits until resumed or the run stops. */
void pause_park(struct vm *vm);

/* Returns once every running vCPU thread is parked: 0; -EALREADY when
 * paused already; -ESHUTDOWN when the run is stopping (before or while
 * waiting); -ETIMEDOUT when a vCPU did not stop within 10 s (a console
 * write blocked on a full stdout), after resuming the others. */
int vm_pause(struct vm *vm);
/* 0, -EALREADY when not paused, or -EBUSY while a hold lasts. Wakes
 * the vCPUs and returns. */
int vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);
/* A pause the API's resume cannot end (a snapshot or a migration's last
 * phase reads the vCPUs' state): pauses unless paused already (then
 * *was_paused), and holds the pause until vm_pause_unhold, which
 * resumes when asked and no other hold is left. 0 or vm_pause's errors;
 * meanwhile vm_resume returns -EBUSY. */
int vm_pause_hold(struct vm *vm, bool *was_paused);
void vm_pause_unhold(struct vm *vm, bool resume);

/* Main thread, stopping the run: parked vCPUs wake and see the stop (a
 * kick signal does not end a wait on a condition variable). */
void pause_release(struct vm_pause *p);

#endif
