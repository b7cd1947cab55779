#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/rtc.h"

Test(rtc, bcd_time_of_a_known_instant)
{
	struct rtc rtc;
	time_t t = 1795318411; /* 2026-11-22 03:33:31 UTC, a Sunday */

	rtc_init(&rtc);
	cr_assert_eq(rtc_register(&rtc, 0x00, t), 0x31);
	cr_assert_eq(rtc_register(&rtc, 0x02, t), 0x33);
	cr_assert_eq(rtc_register(&rtc, 0x04, t), 0x03);
	cr_assert_eq(rtc_register(&rtc, 0x06, t), 0x01);
	cr_assert_eq(rtc_register(&rtc, 0x07, t), 0x22);
	cr_assert_eq(rtc_register(&rtc, 0x08, t), 0x11);
	cr_assert_eq(rtc_register(&rtc, 0x09, t), 0x26);
	cr_assert_eq(rtc_register(&rtc, 0x32, t), 0x20);
	cr_assert_eq(rtc_register(&rtc, 0x0a, t) & 0x80, 0,
		     "no update in progress");
	cr_assert_eq(rtc_register(&rtc, 0x0b, t), 0x02, "24h BCD");
	cr_assert_eq(rtc_register(&rtc, 0x0d, t), 0x80, "valid RAM and time");
}

static uint8_t bcd_of(int v)
{
	return (uint8_t)((v / 10 % 10) << 4 | v % 10);
}

/* The calendar arithmetic against glibc's gmtime_r (here, on the test's
 * thread, it may read /etc/localtime) over 400 years in uneven steps,
 * leap days and century years included. */
Test(rtc, fields_match_gmtime_over_four_centuries)
{
	struct rtc rtc;
	unsigned checked = 0;

	rtc_init(&rtc);
	for (int64_t t = 0; t < 13000000000LL; t += 86400 * 13 + 3607) {
		struct tm tm;
		time_t tt = (time_t)t;

		gmtime_r(&tt, &tm);
		cr_assert_eq(rtc_register(&rtc, 0x00, tt), bcd_of(tm.tm_sec));
		cr_assert_eq(rtc_register(&rtc, 0x02, tt), bcd_of(tm.tm_min));
		cr_assert_eq(rtc_register(&rtc, 0x04, tt), bcd_of(tm.tm_hour));
		cr_assert_eq(rtc_register(&rtc, 0x06, tt),
			     bcd_of(tm.tm_wday + 1));
		cr_assert_eq(rtc_register(&rtc, 0x07, tt), bcd_of(tm.tm_mday),
			     "t=%lld", (long long)t);
		cr_assert_eq(rtc_register(&rtc, 0x08, tt),
			     bcd_of(tm.tm_mon + 1));
		cr_assert_eq(rtc_register(&rtc, 0x09, tt),
			     bcd_of(tm.tm_year % 100));
		cr_assert_eq(rtc_register(&rtc, 0x32, tt),
			     bcd_of((tm.tm_year + 1900) / 100));
		checked++;
	}
	cr_assert_gt(checked, 10000);
	/* 2000-02-29 and 2100-03-01 (2100 is no leap year) */
	cr_assert_eq(rtc_register(&rtc, 0x07, 951782400), 0x29);
	cr_assert_eq(rtc_register(&rtc, 0x08, 951782400), 0x02);
	cr_assert_eq(rtc_register(&rtc, 0x07, 4107542400), 0x01);
	cr_assert_eq(rtc_register(&rtc, 0x08, 4107542400), 0x03);
}

Test(rtc, nvram_through_ports)
{
	struct rtc rtc;
	uint8_t v = 0x40, data = 0;

	rtc_init(&rtc);
	rtc_io_ops.write(&rtc, 0, &v, 1);
	v = 0xab;
	rtc_io_ops.write(&rtc, 1, &v, 1);
	v = 0x80 | 0x40; /* NMI mask bit is not part of the index */
	rtc_io_ops.write(&rtc, 0, &v, 1);
	rtc_io_ops.read(&rtc, 1, &data, 1);
	cr_assert_eq(data, 0xab);
	v = 0x00; /* seconds cannot be overwritten */
	rtc_io_ops.write(&rtc, 0, &v, 1);
	v = 0x99;
	rtc_io_ops.write(&rtc, 1, &v, 1);
	cr_assert_eq(rtc.nvram[0], 0);
}

/* ---- save and restore ---- */

static char why[128];

static void port_write(struct rtc *rtc, uint8_t index, uint8_t value)
{
	rtc_io_ops.write(rtc, 0, &index, 1);
	rtc_io_ops.write(rtc, 1, &value, 1);
}

static uint8_t port_read(struct rtc *rtc, uint8_t index)
{
	uint8_t data = 0;

	rtc_io_ops.write(rtc, 0, &index, 1);
	rtc_io_ops.read(rtc, 1, &data, 1);
	return data;
}

Test(rtc, save_restore_round_trip)
{
	struct rtc a, b;
	struct rtc_state st, again;
	uint8_t idx = 0x45, data = 0;

	rtc_init(&a);
	rtc_init(&b);
	port_write(&a, 0x10, 0x11);
	port_write(&a, 0x7f, 0x22);
	port_write(&a, 0x40, 0x33);
	rtc_io_ops.write(&a, 0, &idx, 1); /* the selected index is state */
	memset(&st, 0xee, sizeof(st));
	rtc_save(&a, &st);
	cr_assert_eq(sizeof(st), 136);
	cr_assert_eq(st.index, 0x45);
	cr_assert_eq(st.nvram[0x10], 0x11);
	cr_assert_eq(st.nvram[0x7f], 0x22);
	cr_assert_eq(st.nvram[0x40], 0x33);
	cr_assert_eq(st.nvram[0x41], 0);
	for (unsigned i = 0; i < sizeof(st.reserved); i++)
		cr_assert_eq(st.reserved[i], 0);

	cr_assert_eq(rtc_restore(&b, &st, why, sizeof(why)), 0, "%s", why);
	rtc_io_ops.read(&b, 0, &data, 1);
	cr_assert_eq(data, 0x45, "index restored");
	cr_assert_eq(port_read(&b, 0x10), 0x11);
	cr_assert_eq(port_read(&b, 0x7f), 0x22);
	cr_assert_eq(port_read(&b, 0x40), 0x33);
	rtc_io_ops.write(&b, 0, &idx, 1);
	rtc_save(&b, &again);
	cr_assert_eq(memcmp(&st, &again, sizeof(st)), 0);
}

Test(rtc, hostile_states_are_refused_and_change_nothing)
{
	struct rtc rtc;
	struct rtc_state good, st, after;

	rtc_init(&rtc);
	port_write(&rtc, 0x20, 0x99);
	rtc_save(&rtc, &good);
	st = good;
	st.index = 0x80; /* rtc_io_write would store into nvram[0x80] */
	cr_assert_eq(rtc_state_check(&st, why, sizeof(why)), -EPROTO);
	cr_assert_str_eq(why, "index 128, at most 127");
	cr_assert_eq(rtc_restore(&rtc, &st, why, sizeof(why)), -EPROTO);
	st.index = 0xff;
	cr_assert_eq(rtc_restore(&rtc, &st, why, sizeof(why)), -EPROTO);
	cr_assert_str_eq(why, "index 255, at most 127");
	st = good;
	st.reserved[6] = 3;
	cr_assert_eq(rtc_restore(&rtc, &st, why, sizeof(why)), -EPROTO);
	cr_assert_str_eq(why, "reserved byte 6 is 3, not 0");
	rtc_save(&rtc, &after);
	cr_assert_eq(memcmp(&after, &good, sizeof(good)), 0);
	cr_assert_eq(after.index, 0x20);
	cr_assert_eq(after.nvram[0x20], 0x99);
	/* The highest index is valid, and a write through it stays in the
	 * NVRAM. */
	st = good;
	st.index = 0x7f;
	cr_assert_eq(rtc_restore(&rtc, &st, why, sizeof(why)), 0, "%s", why);
	rtc_io_ops.write(&rtc, 1, &(uint8_t){ 0x5c }, 1);
	cr_assert_eq(rtc.nvram[0x7f], 0x5c);
}
