/* One-line diagnostics for the user: "vmm: <what failed>: <why>".
 * Thread-safe (a single fprintf per line); no state. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdio.h>

#define log_error(...) log_line("vmm: ", __VA_ARGS__)
#define log_info(...) log_line("vmm: ", __VA_ARGS__)

__attribute__((format(printf, 2, 3))) void log_line(const char *prefix,
						    const char *fmt, ...);

#endif
