/* MC146818 CMOS real-time clock at ports 0x70/0x71, reading the host's
 * UTC time in BCD, so the guest's wall clock starts right. No alarms or
 * periodic interrupts. */
#ifndef DEVICES_RTC_H
#define DEVICES_RTC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "devices/iobus.h"

#define RTC_PORT 0x70
#define RTC_PORT_LEN 2
#define RTC_NVRAM_SIZE 128

struct rtc {
	pthread_mutex_t lock; /* index is shared by the vCPUs */
	uint8_t index;
	uint8_t nvram[RTC_NVRAM_SIZE];
};

void rtc_init(struct rtc *rtc);

/* The register value for index at host time t. Pure, for tests. */
uint8_t rtc_register(const struct rtc *rtc, uint8_t index, time_t t);

/* Saving and restoring: the selected index and the NVRAM as a plain
 * struct, the payload of the RTC's stream section byte for byte (136
 * bytes, RTC_STATE_VERSION). The time registers are the host's clock,
 * not state. */
#define RTC_STATE_VERSION 1

struct rtc_state {
	uint8_t index;	     /* below RTC_NVRAM_SIZE */
	uint8_t reserved[7]; /* 0 */
	uint8_t nvram[RTC_NVRAM_SIZE];
};

/* Under rtc->lock; any thread. */
void rtc_save(struct rtc *rtc, struct rtc_state *s);
/* Pure: 0, or -EPROTO with why naming the bad field. */
int rtc_state_check(const struct rtc_state *s, char *why, size_t why_len);
/* rtc_state_check, then the state replaces the RTC's under its lock.
 * 0, or -EPROTO with why filled in and the RTC unchanged. */
int rtc_restore(struct rtc *rtc, const struct rtc_state *s, char *why,
		size_t why_len);

extern const struct io_ops rtc_io_ops;

#endif
