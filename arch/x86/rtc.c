/* vCPU threads (port access), the thread saving the VM (rtc_save) and
 * the main thread restoring it (rtc_restore); rtc->lock guards the index
 * and NVRAM. */
#include "rtc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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

/* UTC calendar fields of t, by arithmetic (Howard Hinnant's
 * civil_from_days). Not gmtime_r: glibc's first call of it reads
 * /etc/localtime, and this runs on a vCPU thread, whose sandbox opens no
 * file. */
static void utc_fields(time_t t, struct tm *tm)
{
	int64_t days = t / 86400, secs = t % 86400;
	int64_t era, doe, yoe, doy, mp, y;

	if (secs < 0) { /* before 1970 */
		secs += 86400;
		days--;
	}
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = (int)((days % 7 + 11) % 7); /* 1970-01-01: Thursday */
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	y = yoe + era * 400 + (tm->tm_mon < 2);
	tm->tm_year = (int)(y - 1900);
}

uint8_t rtc_register(const struct rtc *rtc, uint8_t index, time_t t)
{
	struct tm tm;

	utc_fields(t, &tm);
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

_Static_assert(sizeof(struct rtc_state) == 8 + RTC_NVRAM_SIZE,
	       "the RTC's section layout is part of the stream format");

void rtc_save(struct rtc *rtc, struct rtc_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&rtc->lock);
	s->index = rtc->index;
	memcpy(s->nvram, rtc->nvram, sizeof(s->nvram));
	pthread_mutex_unlock(&rtc->lock);
}

int rtc_state_check(const struct rtc_state *s, char *why, size_t why_len)
{
	/* rtc_io_write stores into nvram[index]. */
	if (s->index >= RTC_NVRAM_SIZE) {
		snprintf(why, why_len, "index %u, at most %u", s->index,
			 RTC_NVRAM_SIZE - 1);
		return -EPROTO;
	}
	for (unsigned i = 0; i < sizeof(s->reserved); i++) {
		if (s->reserved[i]) {
			snprintf(why, why_len, "reserved byte %u is %u, not 0",
				 i, s->reserved[i]);
			return -EPROTO;
		}
	}
	return 0;
}

int rtc_restore(struct rtc *rtc, const struct rtc_state *s, char *why,
		size_t why_len)
{
	int r = rtc_state_check(s, why, why_len);

	if (r)
		return r;
	pthread_mutex_lock(&rtc->lock);
	rtc->index = s->index;
	memcpy(rtc->nvram, s->nvram, sizeof(rtc->nvram));
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}
