/* MC146818 CMOS real-time clock at ports 0x70/0x71, reading the host's
 * UTC time in BCD, so the guest's wall clock starts right. No alarms or
 * periodic interrupts. */
#ifndef DEVICES_RTC_H
#define DEVICES_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "devices/iobus.h"

#define RTC_PORT 0x70
#define RTC_PORT_LEN 2

struct rtc {
	pthread_mutex_t lock; /* index is shared by the vCPUs */
	uint8_t index;
	uint8_t nvram[128];
};

void rtc_init(struct rtc *rtc);

/* The register value for index at host time t. Pure, for tests. */
uint8_t rtc_register(const struct rtc *rtc, uint8_t index, time_t t);

extern const struct io_ops rtc_io_ops;

#endif
