/* One-line diagnostics for the user: "vmm: <what failed>: <why>".
 * Thread-safe (a single fprintf per line). Lines a guest can trigger go
 * through log_guest with a struct log_limit owned by the device (or bus)
 * that logs, so a guest repeating a bad access cannot flood stderr. */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define log_error(...) log_line("vmm: ", __VA_ARGS__)
#define log_info(...) log_line("vmm: ", __VA_ARGS__)

__attribute__((format(printf, 2, 3))) void log_line(const char *prefix,
						    const char *fmt, ...);

/* At most LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW_NS; the first line
 * after a window with drops says how many were dropped. Zero-initialised
 * is ready; any thread (atomics only). */
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_WINDOW_NS 5000000000ULL

struct log_limit {
	uint64_t window_start_ns;
	uint32_t lines;	  /* printed in this window */
	uint32_t dropped; /* since the last printed line */
};

/* True when a line may be printed now; counts it. */
bool log_limit_allow(struct log_limit *l, uint32_t *dropped_before);

/* log_error for lines a guest can trigger. */
#define log_guest(limit, fmt, ...)                                             \
	do {                                                                   \
		uint32_t log_dropped_;                                         \
		if (log_limit_allow((limit), &log_dropped_)) {                 \
			if (log_dropped_)                                      \
				log_error("(%u similar lines dropped)",        \
					  log_dropped_);                       \
			log_error(fmt, ##__VA_ARGS__);                         \
		}                                                              \
	} while (0)

#endif
