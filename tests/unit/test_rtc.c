#include <criterion/criterion.h>
#include <errno.h>
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
