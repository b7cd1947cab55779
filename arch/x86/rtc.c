/* vCPU threads; rtc->lock guards the index and NVRAM. */
#include "rtc.h"

#include <string.h>

#define REG_STATUS_A 0x0a
#define REG_STATUS_B 0x0b
#define REG_STATUS_C 0x0c
#define REG_STATUS_D 0x0d
#define REG_CENTURY 0x32

void rtc_init(struct rtc *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
}

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

uint8_t rtc_register(const struct rtc *rtc, uint8_t index, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (index) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case REG_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	case REG_STATUS_A: return 0x26; /* 32 kHz base, no update in progress */
	case REG_STATUS_B: return 0x02; /* 24-hour, BCD, no interrupts */
	case REG_STATUS_C: return 0x00;
	case REG_STATUS_D: return 0x80; /* battery good */
	default: return rtc->nvram[index & 0x7f];
	}
}

static void rtc_io_read(void *opaque, uint64_t off, uint8_t *data,
			unsigned size)
{
	struct rtc *rtc = opaque;

	memset(data, 0, size);
	pthread_mutex_lock(&rtc->lock);
	data[0] = off ? rtc_register(rtc, rtc->index, time(NULL)) : rtc->index;
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_io_write(void *opaque, uint64_t off, const uint8_t *data,
			 unsigned size)
{
	struct rtc *rtc = opaque;

	(void)size;
	pthread_mutex_lock(&rtc->lock);
	if (!off)
		rtc->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
	else if (rtc->index > REG_STATUS_D && rtc->index != REG_CENTURY)
		rtc->nvram[rtc->index] = data[0];
	pthread_mutex_unlock(&rtc->lock);
}

const struct io_ops rtc_io_ops = {
	.read = rtc_io_read,
	.write = rtc_io_write,
};
