/* Runs on any thread; stderr is the only state and each line is written
 * with one call, so lines from different threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <string.h>

void log_line(const char *prefix, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%s", prefix);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n + 2 > sizeof(buf))
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	buf[n] = 0;
	fputs(buf, stderr);
}
