/* The i8254 model (arch/x86/pit.c) as a hostile guest and a hostile
 * stream drive it: the input's first bytes are a saved state offered to
 * pit_restore (refused or taken), the rest a sequence of port accesses
 * to 0x40-0x43 and 0x61, of any width, with the clock moving between
 * them. Invariants: a periodic timer is never armed below the minimum
 * period, an armed timer's first expiry is never 0 (that would disarm
 * it), port 0x61's NMI bits read 0, the rest of a wide read is 0, and
 * every state the PIT saves its own restore takes back. */
#include <stdint.h>
#include <string.h>

#include "arch/x86/pit.h"
#include "fuzz.h"
#include "tests/unit/pit_fake.h"

/* Every arm sets the fake's last one: each access and a restore arm at
 * most once, so checking after each checks them all. */
static void check_arm(const struct pit_fake *f)
{
	INVARIANT(f->period == 0 || f->period >= PIT_MIN_PERIOD_NS);
	INVARIANT(f->period == 0 || f->first >= PIT_MIN_PERIOD_NS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pit_fake f = { .now = 1000000000 };
	const struct pit_backend be = pit_fake_backend(&f);
	struct kvm_pit_state2 st;
	struct pit p;
	char why[128];

	pit_init(&p, &be);
	if (size >= sizeof(st)) {
		memcpy(&st, data, sizeof(st));
		(void)pit_restore(&p, &st, why, sizeof(why));
		check_arm(&f);
		data += sizeof(st);
		size -= sizeof(st);
	}
	/* Each access: op (bit 0 write, bits 1-2 width, bits 3-5 port),
	 * value, clock step in units of 2^(byte & 31) ns. */
	for (; size >= 3; data += 3, size -= 3) {
		static const uint16_t ports[] = { 0x40, 0x41, 0x42, 0x43,
						  0x61 };
		unsigned port = ports[((data[0] >> 3) & 7) % 5];
		unsigned width = 1u << ((data[0] >> 1) & 3);
		uint8_t buf[8];

		memset(buf, data[1], sizeof(buf));
		f.now += (uint64_t)(data[2] >> 5) << (data[2] & 31);
		if (data[0] & 1) {
			if (port == PIT_SPEAKER_PORT)
				pit_speaker_ops.write(&p, 0, buf, width);
			else
				pit_io_ops.write(&p, port - PIT_PORT, buf,
						 width);
			check_arm(&f);
			continue;
		}
		if (port == PIT_SPEAKER_PORT) {
			pit_speaker_ops.read(&p, 0, buf, width);
			INVARIANT((buf[0] & 0xc0) == 0);
		} else {
			pit_io_ops.read(&p, port - PIT_PORT, buf, width);
		}
		for (unsigned i = 1; i < width; i++)
			INVARIANT(buf[i] == 0);
		f.pending = data[1] & 3;
		pit_timer_expired(&p);
	}
	pit_save(&p, &st);
	INVARIANT(pit_restore(&p, &st, why, sizeof(why)) == 0);
	pit_destroy(&p);
	return 0;
}
