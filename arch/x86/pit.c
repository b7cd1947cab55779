/* vCPU threads (port access), the thread serving channel 0's timer
 * (pit_timer_expired), the thread saving the VM (pit_save) and the main
 * thread at start-up (pit_init, pit_restore); p->lock guards the state
 * and orders the backend's arms. Every field of the state may hold any
 * value a stream gave it: a mode or access state the chip does not have
 * takes the default path, never an index. */
#include "pit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

#define NS_PER_S 1000000000ULL

/* PIT ticks in ns nanoseconds, without overflowing for any ns. */
static uint64_t ticks_in(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_S);
}

static uint64_t ns_of_ticks(uint64_t ticks)
{
	return (uint64_t)((unsigned __int128)ticks * NS_PER_S / PIT_HZ);
}

static uint64_t elapsed_ticks(const struct pit *p,
			      const struct kvm_pit_channel_state *c)
{
	int64_t ns = (int64_t)p->be.now_ns(p->be.opaque) - c->count_load_time;

	return ns > 0 ? ticks_in((uint64_t)ns) : 0;
}

/* The counter as the chip would show it now (KVM's pit_get_count). */
static uint16_t counter(const struct pit *p,
			const struct kvm_pit_channel_state *c)
{
	uint64_t d = elapsed_ticks(p, c);

	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5: return (uint16_t)(c->count - d);
	case 3: return (uint16_t)(c->count - (2 * d) % c->count);
	default: return (uint16_t)(c->count - d % c->count);
	}
}

/* The OUT pin (KVM's pit_get_out). */
static unsigned out_pin(const struct pit *p,
			const struct kvm_pit_channel_state *c)
{
	uint64_t d = elapsed_ticks(p, c);

	switch (c->mode) {
	case 1: return d < c->count;
	case 2: return d % c->count == 0 && d != 0;
	case 3: return d % c->count < (c->count + 1) / 2;
	case 4:
	case 5: return d == c->count;
	default: return d >= c->count;
	}
}

static void arm_channel0(struct pit *p)
{
	const struct kvm_pit_channel_state *c = &p->st.channels[0];
	uint64_t interval = ns_of_ticks(c->count);

	if (interval == 0)
		interval = 1; /* 0 would disarm */
	switch (c->mode) {
	case 0:
	case 1:
	case 4: p->be.arm(p->be.opaque, interval, 0); break;
	case 2:
	case 3:
		if (interval < PIT_MIN_PERIOD_NS)
			interval = PIT_MIN_PERIOD_NS;
		p->be.arm(p->be.opaque, interval, interval);
		break;
	default: p->be.arm(p->be.opaque, 0, 0);
	}
}

/* Counting restarts from val (0 is 65536); channel 0 arms its timer. */
static void load_count(struct pit *p, unsigned ch, uint32_t val)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];

	c->count = val ? val : 0x10000;
	c->count_load_time = (int64_t)p->be.now_ns(p->be.opaque);
	if (ch == 0)
		arm_channel0(p);
}

static void latch_count(struct pit *p, unsigned ch)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];

	if (!c->count_latched) {
		c->latched_count = counter(p, c);
		c->count_latched = c->rw_mode;
	}
}

static void latch_status(struct pit *p, unsigned ch)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];

	if (!c->status_latched) {
		c->status =
			(uint8_t)(out_pin(p, c) << 7 | (c->rw_mode & 3) << 4 |
				  (c->mode & 7) << 1 | (c->bcd & 1));
		c->status_latched = 1;
	}
}

static void control_word(struct pit *p, uint8_t val)
{
	unsigned ch = val >> 6, access = (val >> 4) & 3;
	struct kvm_pit_channel_state *c;

	if (ch == 3) { /* read-back: bit 5 clear latches counts, bit 4 status */
		for (ch = 0; ch < 3; ch++) {
			if (!(val & (2 << ch)))
				continue;
			if (!(val & 0x20))
				latch_count(p, ch);
			if (!(val & 0x10))
				latch_status(p, ch);
		}
		return;
	}
	c = &p->st.channels[ch];
	if (access == 0) {
		latch_count(p, ch);
		return;
	}
	c->rw_mode = c->read_state = c->write_state = (uint8_t)access;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4; /* 6 and 7 are modes 2 and 3 */
	c->bcd = val & 1;
}

static void write_count(struct pit *p, unsigned ch, uint8_t val)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];

	switch (c->write_state) {
	case RW_MSB: load_count(p, ch, (uint32_t)val << 8); break;
	case RW_WORD0:
		c->write_latch = val;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		load_count(p, ch, c->write_latch | (uint32_t)val << 8);
		c->write_state = RW_WORD0;
		break;
	default: load_count(p, ch, val);
	}
}

static uint8_t read_count(struct pit *p, unsigned ch)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];
	uint8_t ret;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->count_latched) {
		switch (c->count_latched) {
		case RW_MSB:
			c->count_latched = 0;
			return (uint8_t)(c->latched_count >> 8);
		case RW_WORD0:
			c->count_latched = RW_MSB;
			return (uint8_t)c->latched_count;
		default: c->count_latched = 0; return (uint8_t)c->latched_count;
		}
	}
	switch (c->read_state) {
	case RW_MSB: return (uint8_t)(counter(p, c) >> 8);
	case RW_WORD0: c->read_state = RW_WORD1; return (uint8_t)counter(p, c);
	case RW_WORD1:
		ret = (uint8_t)(counter(p, c) >> 8);
		c->read_state = RW_WORD0;
		return ret;
	default: return (uint8_t)counter(p, c);
	}
}

/* Modes 1, 2, 3 and 5 restart counting on a rising gate; 0 and 4 would
 * only pause, which KVM does not model either. */
static void set_gate(struct pit *p, unsigned ch, uint8_t val)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];

	switch (c->mode) {
	case 1:
	case 2:
	case 3:
	case 5:
		if (c->gate < val)
			c->count_load_time =
				(int64_t)p->be.now_ns(p->be.opaque);
		break;
	default: break;
	}
	c->gate = val;
}

static void pit_io_read(void *opaque, uint64_t off, uint8_t *data,
			unsigned size)
{
	struct pit *p = opaque;

	memset(data, 0, size);
	if (off == 3)
		return; /* the control word is write-only */
	pthread_mutex_lock(&p->lock);
	data[0] = read_count(p, (unsigned)off);
	pthread_mutex_unlock(&p->lock);
}

static void pit_io_write(void *opaque, uint64_t off, const uint8_t *data,
			 unsigned size)
{
	struct pit *p = opaque;

	(void)size;
	pthread_mutex_lock(&p->lock);
	if (off == 3)
		control_word(p, data[0]);
	else
		write_count(p, (unsigned)off, data[0]);
	pthread_mutex_unlock(&p->lock);
}

const struct io_ops pit_io_ops = {
	.read = pit_io_read,
	.write = pit_io_write,
};

/* Port 0x61: bit 0 channel 2's gate, bit 1 speaker data (kept, no
 * sound), bit 4 the DRAM refresh toggle (every 2^14 ns, as KVM's), bit 5
 * channel 2's OUT; the rest reads 0 (no NMI sources). */
static void speaker_read(void *opaque, uint64_t off, uint8_t *data,
			 unsigned size)
{
	struct pit *p = opaque;
	const struct kvm_pit_channel_state *c2 = &p->st.channels[2];
	unsigned refresh;

	(void)off;
	memset(data, 0, size);
	pthread_mutex_lock(&p->lock);
	refresh = (unsigned)(p->be.now_ns(p->be.opaque) >> 14) & 1;
	data[0] =
		(uint8_t)(out_pin(p, c2) << 5 | refresh << 4 |
			  !!(p->st.flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON) << 1 |
			  (c2->gate & 1));
	pthread_mutex_unlock(&p->lock);
}

static void speaker_write(void *opaque, uint64_t off, const uint8_t *data,
			  unsigned size)
{
	struct pit *p = opaque;

	(void)off, (void)size;
	pthread_mutex_lock(&p->lock);
	if (data[0] & 2)
		p->st.flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	else
		p->st.flags &= ~(uint32_t)KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	set_gate(p, 2, data[0] & 1);
	pthread_mutex_unlock(&p->lock);
}

const struct io_ops pit_speaker_ops = {
	.read = speaker_read,
	.write = speaker_write,
};

void pit_init(struct pit *p, const struct pit_backend *be)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->be = *be;
	for (unsigned ch = 0; ch < 3; ch++) {
		p->st.channels[ch].mode = 0xff; /* none until programmed */
		p->st.channels[ch].gate = ch != 2;
		load_count(p, ch, 0);
	}
}

void pit_destroy(struct pit *p)
{
	pthread_mutex_destroy(&p->lock);
}

void pit_timer_expired(struct pit *p)
{
	uint64_t n;

	/* Under the lock: an arm forgets earlier expirations, so what is
	 * read here belongs to the channel's current programming. */
	pthread_mutex_lock(&p->lock);
	n = p->be.expirations(p->be.opaque);
	pthread_mutex_unlock(&p->lock);
	if (n)
		p->be.irq0(p->be.opaque);
}

void pit_save(struct pit *p, struct kvm_pit_state2 *s)
{
	pthread_mutex_lock(&p->lock);
	*s = p->st;
	pthread_mutex_unlock(&p->lock);
}

int pit_restore(struct pit *p, const struct kvm_pit_state2 *s, char *why,
		size_t why_len)
{
	/* KVM would have stopped channel 0's interrupt for the HPET; this
	 * board has none to take over. */
	if (s->flags & KVM_PIT_FLAGS_HPET_LEGACY) {
		snprintf(why, why_len,
			 "HPET legacy mode set; this board has "
			 "no HPET");
		return -EPROTO;
	}
	for (unsigned ch = 0; ch < 3; ch++) {
		if (s->channels[ch].count > 0x10000) {
			snprintf(why, why_len,
				 "channel %u count %u, at most 65536", ch,
				 s->channels[ch].count);
			return -EPROTO;
		}
	}
	pthread_mutex_lock(&p->lock);
	p->st = *s;
	for (unsigned ch = 0; ch < 3; ch++)
		load_count(p, ch, p->st.channels[ch].count);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
