/* The i8254 model (arch/x86/pit.c) on a fake clock: counters, latches,
 * read-back, the speaker port, channel 0's timer and interrupt, and
 * hostile saved states. Expected values are worked out from the 8254's
 * rules (and KVM's i8254.c, which the model follows) by hand. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/pit.h"
#include "pit_fake.h"

static struct pit_fake f;
static struct pit p;

static void setup(void)
{
	const struct pit_backend be = pit_fake_backend(&f);

	memset(&f, 0, sizeof(f));
	f.now = 1000000000; /* 1 s: load times are never 0 */
	pit_init(&p, &be);
}

static void teardown(void)
{
	pit_destroy(&p);
}

TestSuite(pit, .init = setup, .fini = teardown);

static void out(uint16_t port, uint8_t v)
{
	if (port == PIT_SPEAKER_PORT)
		pit_speaker_ops.write(&p, 0, &v, 1);
	else
		pit_io_ops.write(&p, port - PIT_PORT, &v, 1);
}

static uint8_t in(uint16_t port)
{
	uint8_t v[4] = { 0xee, 0xee, 0xee, 0xee };

	if (port == PIT_SPEAKER_PORT)
		pit_speaker_ops.read(&p, 0, v, 1);
	else
		pit_io_ops.read(&p, port - PIT_PORT, v, 1);
	return v[0];
}

static uint16_t in16(uint16_t port)
{
	uint8_t lo = in(port);

	return (uint16_t)(lo | in(port) << 8);
}

/* Control word: channel, access (1 LSB, 2 MSB, 3 LSB then MSB), mode. */
static void program(unsigned ch, unsigned access, unsigned mode, uint16_t n)
{
	out(0x43, (uint8_t)(ch << 6 | access << 4 | mode << 1));
	if (access & 1)
		out((uint16_t)(0x40 + ch), (uint8_t)n);
	if (access & 2)
		out((uint16_t)(0x40 + ch), (uint8_t)(n >> 8));
}

Test(pit, power_on_leaves_the_timer_disarmed_and_channel_2_gated_off)
{
	cr_assert_eq(f.first, 0);
	cr_assert_eq(f.period, 0);
	cr_assert_eq(in(0x61) & 0x01, 0, "channel 2's gate starts low");
	cr_assert_eq(in(0x43), 0, "the control word reads 0");
}

Test(pit, mode_2_arms_a_periodic_timer_of_the_count)
{
	program(0, 3, 2, 1193);
	cr_assert_eq(f.first, 999847, "1193 ticks of 1.193182 MHz in ns");
	cr_assert_eq(f.period, 999847);
	program(0, 3, 3, 0); /* 0 counts 65536 */
	cr_assert_eq(f.first, 54925401);
	cr_assert_eq(f.period, 54925401);
}

Test(pit, one_shot_modes_arm_once_and_an_unknown_mode_disarms)
{
	program(0, 3, 0, 1193);
	cr_assert_eq(f.first, 999847);
	cr_assert_eq(f.period, 0, "mode 0 fires once");
	program(0, 3, 4, 2);
	cr_assert_eq(f.first, 1676);
	cr_assert_eq(f.period, 0, "mode 4 fires once");
	program(0, 3, 5, 100);
	cr_assert_eq(f.first, 0, "mode 5 has no timer (as KVM's)");
}

Test(pit, a_periodic_timer_is_held_to_the_minimum_period)
{
	program(0, 3, 2, 2);
	cr_assert_eq(f.first, PIT_MIN_PERIOD_NS);
	cr_assert_eq(f.period, PIT_MIN_PERIOD_NS);
}

Test(pit, the_control_word_alone_does_not_rearm)
{
	program(0, 3, 2, 1193);
	unsigned arms = f.arms;
	out(0x43, 0x34); /* channel 0, LSB then MSB, mode 2: no count yet */
	cr_assert_eq(f.arms, arms);
	out(0x40, 0x00);
	cr_assert_eq(f.arms, arms, "half a count loads nothing");
	out(0x40, 0x10);
	cr_assert_eq(f.arms, arms + 1);
	cr_assert_eq(f.first, (uint64_t)0x1000 * 1000000000 / PIT_HZ);
}

Test(pit, mode_2_counts_down_and_reloads)
{
	program(0, 3, 2, 1193);
	f.now += 500000; /* 596 ticks */
	cr_assert_eq(in16(0x40), 1193 - 596);
	f.now += 1000000000; /* exactly 1193182 ticks in all: 596 + 1193182 */
	cr_assert_eq(in16(0x40), 1193 - (596 + 1193182) % 1193);
}

Test(pit, mode_3_counts_down_by_two)
{
	program(2, 3, 3, 1000);
	f.now += 100000; /* 119 ticks */
	cr_assert_eq(in16(0x42), 1000 - 238);
}

Test(pit, mode_0_counts_through_zero_and_wraps)
{
	program(2, 3, 0, 100);
	f.now += 200000; /* 238 ticks */
	cr_assert_eq(in16(0x42), (uint16_t)(100 - 238));
}

Test(pit, lsb_only_and_msb_only_access)
{
	program(2, 1, 0, 0x34);
	cr_assert_eq(in(0x42), 0x34, "LSB access reads the low byte");
	cr_assert_eq(in(0x42), 0x34, "and only the low byte");
	program(2, 2, 0, 0x1200);
	cr_assert_eq(in(0x42), 0x12, "MSB access: count 0x1200");
}

Test(pit, a_latched_count_holds_until_read)
{
	program(2, 3, 0, 5000);
	f.now += 1000000; /* 1193 ticks */
	out(0x43, 0x80);  /* latch channel 2 */
	f.now += 1000000;
	out(0x43, 0x80); /* a second latch before reading is ignored */
	cr_assert_eq(in16(0x42), 5000 - 1193);
	cr_assert_eq(in16(0x42), 5000 - 2386, "read through once consumed");
}

Test(pit, read_back_latches_status_before_count)
{
	program(2, 3, 0, 100);
	/* Read-back, count and status (bits 5, 4 clear), channel 2. */
	out(0x43, 0xc8);
	cr_assert_eq(in(0x42), 0x30, "OUT low, LSB then MSB, mode 0, binary");
	cr_assert_eq(in16(0x42), 100);
	f.now += 1000000; /* past the count: OUT high */
	out(0x43, 0xe8);  /* status only */
	cr_assert_eq(in(0x42), 0xb0);
	cr_assert_eq(in16(0x42), (uint16_t)(100 - 1193), "count not latched");
}

Test(pit, modes_6_and_7_are_modes_2_and_3)
{
	out(0x43, 0xbc); /* channel 2, LSB then MSB, mode 6 */
	out(0x43, 0xe8);
	cr_assert_eq(in(0x42), 0x34, "mode 2 in the status");
	out(0x43, 0xbe); /* mode 7 */
	out(0x43, 0xe8);
	cr_assert_eq(in(0x42) & 0x0e, 3 << 1, "mode 3 in the status");
}

/* Linux's pit_calibrate_tsc: channel 2 in mode 0 gated through port
 * 0x61, waiting for OUT2 (bit 5). */
Test(pit, port_61_gates_channel_2_and_shows_out2)
{
	out(0x61, 0x01);
	cr_assert_eq(in(0x61) & 0x23, 0x01, "gate high, speaker off, OUT low");
	program(2, 3, 0, 11932); /* 10 ms */
	f.now += 9999000;
	cr_assert_eq(in(0x61) & 0x20, 0, "OUT2 still low at 9.999 ms");
	f.now += 2000;
	cr_assert_eq(in(0x61) & 0x20, 0x20, "OUT2 high at 10.001 ms");
	out(0x61, 0x03);
	cr_assert_eq(in(0x61) & 0x03, 0x03, "speaker data kept");
}

Test(pit, a_rising_gate_restarts_mode_2_but_not_mode_0)
{
	program(2, 3, 2, 1000);
	f.now += 100000; /* 119 ticks */
	out(0x61, 0x01);
	cr_assert_eq(in16(0x42), 1000, "mode 2 restarted by the gate");
	f.now += 100000;
	out(0x61, 0x01);
	cr_assert_eq(in16(0x42), 1000 - 119, "a gate staying high is no edge");
	program(2, 3, 0, 1000);
	out(0x61, 0x00);
	f.now += 100000;
	out(0x61, 0x01);
	cr_assert_eq(in16(0x42), 1000 - 119, "mode 0 keeps counting");
}

Test(pit, the_refresh_bit_toggles_with_time)
{
	uint8_t a = in(0x61) & 0x10;

	f.now += 1 << 14;
	cr_assert_neq(in(0x61) & 0x10, a);
}

Test(pit, reads_of_any_width_fill_the_rest_with_zero)
{
	uint8_t v[4] = { 0xee, 0xee, 0xee, 0xee };

	program(0, 1, 0, 0x42);
	pit_io_ops.read(&p, 0, v, 4);
	cr_assert_eq(v[0], 0x42);
	cr_assert_eq(v[1] | v[2] | v[3], 0);
}

Test(pit, an_expiry_is_one_irq0_edge_however_many_ticks_passed)
{
	program(0, 3, 2, 1193);
	pit_timer_expired(&p);
	cr_assert_eq(f.irqs, 0, "no expiration, no edge");
	f.pending = 5;
	pit_timer_expired(&p);
	cr_assert_eq(f.irqs, 1, "missed ticks merged into one edge");
	pit_timer_expired(&p);
	cr_assert_eq(f.irqs, 1, "expirations consumed");
}

Test(pit, save_and_restore_reload_counts_at_the_restore)
{
	struct kvm_pit_state2 s;
	char why[128] = "";

	program(0, 3, 2, 1193);
	program(2, 3, 0, 5000);
	f.now += 1000000;
	pit_save(&p, &s);
	cr_assert_eq(s.channels[0].count, 1193);
	cr_assert_eq(s.channels[0].mode, 2);
	cr_assert_eq(s.channels[2].count, 5000);

	f.now += 7000000000; /* restored 7 s later, into a fresh PIT */
	teardown();
	setup();
	f.now = 99000000000ULL;
	f.first = f.period = 0;
	cr_assert_eq(pit_restore(&p, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(f.first, 999847, "channel 0 periodic again");
	cr_assert_eq(f.period, 999847);
	cr_assert_eq(in16(0x42), 5000, "counting restarts at the restore");
}

Test(pit, a_hostile_state_is_refused_or_made_harmless)
{
	struct kvm_pit_state2 s, before;
	char why[128] = "";

	pit_save(&p, &before);
	memset(&s, 0, sizeof(s));
	s.channels[1].count = 0x10001;
	cr_assert_eq(pit_restore(&p, &s, why, sizeof(why)), -EPROTO);
	cr_assert_str_eq(why, "channel 1 count 65537, at most 65536");
	memset(&s, 0, sizeof(s));
	s.flags = KVM_PIT_FLAGS_HPET_LEGACY;
	cr_assert_eq(pit_restore(&p, &s, why, sizeof(why)), -EPROTO);
	cr_assert_str_eq(why, "HPET legacy mode set; this board has no HPET");
	pit_save(&p, &s);
	cr_assert_eq(memcmp(&s, &before, sizeof(s)), 0, "refused: unchanged");

	/* Every byte field at its worst, count 0: accepted as KVM would,
	 * and nothing divides by zero or indexes out of range. */
	memset(&s, 0xff, sizeof(s));
	memset(s.reserved, 0, sizeof(s.reserved));
	s.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	for (unsigned ch = 0; ch < 3; ch++)
		s.channels[ch].count = 0;
	cr_assert_eq(pit_restore(&p, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(f.first, 0, "mode 255 has no timer");
	for (unsigned ch = 0; ch < 3; ch++) {
		for (unsigned i = 0; i < 6; i++)
			(void)in((uint16_t)(0x40 + ch));
		out((uint16_t)(0x40 + ch), 1);
	}
	pit_save(&p, &s);
	cr_assert_eq(s.channels[0].count, 1,
		     "a write with write state 255 "
		     "loads the byte, as LSB access");
	cr_assert_eq(in(0x61) & 0x02, 0x02);
}
