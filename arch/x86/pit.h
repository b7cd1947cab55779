/* The i8254 programmable interval timer at ports 0x40-0x43 and the
 * speaker port 0x61 (channel 2's gate and output), emulated in vmm
 * rather than by KVM: destroying a VM that has KVM's in-kernel PIT
 * waits for SRCU grace periods, the most of vmm's start-up-to-exit time
 * above the bare-KVM floor (README, "The start-up floor"). Modelled on
 * KVM's arch/x86/kvm/i8254.c, whose guest-visible behaviour and state
 * layout it keeps: counter modes 0-5, latches, read-back, the gate, and
 * channel 0's interrupt on ISA IRQ 0, one-shot in modes 0, 1 and 4 and
 * periodic in modes 2 and 3. Ticks a guest did not take in time are
 * merged, not reinjected (QEMU's userspace PIT does the same).
 *
 * The model makes no system call itself: time, channel 0's timer and the
 * interrupt come through struct pit_backend, so tests drive it with a
 * fake clock. */
#ifndef ARCH_X86_PIT_H
#define ARCH_X86_PIT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/iobus.h"

#define PIT_PORT 0x40
#define PIT_PORT_LEN 4
#define PIT_SPEAKER_PORT 0x61
#define PIT_HZ 1193182
/* KVM's min_timer_period_us: a periodic channel 0 faster than this
 * would have the thread serving the timer do nothing else. */
#define PIT_MIN_PERIOD_NS 200000

struct pit_backend {
	uint64_t (*now_ns)(void *opaque); /* a monotonic clock */
	/* Channel 0's timer: first expiry first_ns from now, then every
	 * period_ns (0: once); first_ns 0 disarms it. Expirations counted
	 * before are forgotten. */
	void (*arm)(void *opaque, uint64_t first_ns, uint64_t period_ns);
	/* Expirations since the last call or arm; 0 when none. */
	uint64_t (*expirations)(void *opaque);
	void (*irq0)(void *opaque); /* one edge on ISA IRQ 0 */
	void *opaque;
};

/* The state is KVM's own struct kvm_pit_state2, count_load_time in the
 * backend's clock: the PIT's stream section (version 1) as it was when
 * KVM kept the PIT, so streams written then still restore. */
struct pit {
	pthread_mutex_t lock; /* st, and the order of the backend's arms */
	struct kvm_pit_state2 st;
	struct pit_backend be;
};

/* Power-on state (KVM's kvm_pit_reset): channels in no mode, channel 2's
 * gate low, channel 0's timer disarmed. Main thread, before the vCPUs. */
void pit_init(struct pit *p, const struct pit_backend *be);
void pit_destroy(struct pit *p);

/* Channel 0's timer expired: the backend's expirations, and one IRQ 0
 * edge if there were any. The thread that waits for the timer. */
void pit_timer_expired(struct pit *p);

/* Under p->lock; any thread. */
void pit_save(struct pit *p, struct kvm_pit_state2 *s);
/* Beyond the stream check's (arch/x86/state_check.c): 0, or -EPROTO with
 * why naming what this PIT cannot take. On success the state replaces
 * the PIT's, every channel's count reloaded now (as KVM_SET_PIT2 does:
 * a saved load time is another clock's) and channel 0's timer armed
 * from it. Main thread, before the vCPUs run. */
int pit_restore(struct pit *p, const struct kvm_pit_state2 *s, char *why,
		size_t why_len);

/* Ports 0x40-0x43 (PIT_PORT, PIT_PORT_LEN) and 0x61 (PIT_SPEAKER_PORT,
 * length 1); vCPU threads. */
extern const struct io_ops pit_io_ops;
extern const struct io_ops pit_speaker_ops;

#endif
