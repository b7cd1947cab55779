/* vCPU threads: one per vCPU, named "vcpuN", each running KVM_RUN and
 * dispatching exits to the port and MMIO buses. Stopped by the lifecycle
 * flag plus a kick (immediate_exit and a signal), then joined; paused the
 * same way by the pause flag (pause.h). */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "vm.h"

struct vcpu {
	unsigned id; /* also its interrupt controller id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct vm *vm;
};

/* Installs the kick signal's handler; call once before any vCPU starts,
 * with the signal blocked in the calling thread. */
int vcpu_signals_init(void);

/* The sandbox every vCPU thread enters first (vm->vcpu_sandbox). */
extern const struct sandbox_role vcpu_role;
int vcpu_sandbox_build(struct sandbox_filter *f, enum sandbox_mode mode);

/* Creates vCPU id of vm and sets it up (arch_vcpu_init). */
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned id);
int vcpu_start(struct vcpu *v);
/* Makes a running or about-to-run KVM_RUN return. Any thread. */
void vcpu_kick(struct vcpu *v);
/* The rule a kicking thread's sandbox role needs: the kick signal, to
 * this process's threads only. */
int vcpu_kick_rules(scmp_filter_ctx ctx);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
