/* The host side of the serial console: raw mode on a terminal (restored on
 * every exit path of the run), and the Ctrl-A escape: Ctrl-A x quits,
 * Ctrl-A Ctrl-A sends one Ctrl-A. */
#ifndef DEVICES_CONSOLE_H
#define DEVICES_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/* Owned by the main thread. */
struct console {
	int in_fd;
	bool raw; /* terminal settings changed, restore them */
	struct termios saved;
	bool escape; /* the last byte was Ctrl-A */
};

/* Puts in_fd in raw mode when it is a terminal. 0 or -errno. */
int console_open(struct console *c, int in_fd);
void console_restore(struct console *c);

/* Filters n input bytes into out (at least n bytes), handling the escape.
 * Returns the bytes for the guest; *quit is set on Ctrl-A x. Pure apart
 * from c->escape. */
size_t console_filter(struct console *c, const uint8_t *in, size_t n,
		      uint8_t *out, bool *quit);

#endif
