/* Main thread only. */
#include "console.h"

#include <errno.h>
#include <unistd.h>

int console_open(struct console *c, int in_fd)
{
	struct termios raw;

	c->in_fd = in_fd;
	c->raw = false;
	c->escape = false;
	if (!isatty(in_fd))
		return 0;
	if (tcgetattr(in_fd, &c->saved) < 0)
		return -errno;
	raw = c->saved;
	cfmakeraw(&raw);
	if (tcsetattr(in_fd, TCSANOW, &raw) < 0)
		return -errno;
	c->raw = true;
	return 0;
}

void console_restore(struct console *c)
{
	if (c->raw)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
	c->raw = false;
}

size_t console_filter(struct console *c, const uint8_t *in, size_t n,
		      uint8_t *out, bool *quit)
{
	size_t o = 0;

	*quit = false;
	for (size_t i = 0; i < n; i++) {
		if (!c->escape && in[i] == CONSOLE_ESCAPE) {
			c->escape = true;
			continue;
		}
		if (c->escape) {
			c->escape = false;
			if (in[i] == 'x' || in[i] == 'X') {
				*quit = true;
				return o;
			}
			if (in[i] != CONSOLE_ESCAPE)
				out[o++] = CONSOLE_ESCAPE;
		}
		out[o++] = in[i];
	}
	return o;
}
