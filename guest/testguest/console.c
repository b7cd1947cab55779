/* COM1 output, polled: wait for an empty transmit holding register. */
#include <stdarg.h>

#include "guest.h"

#define COM1 0x3f8
#define LSR_THRE 0x20

/* Waits for the transmitter once, then hands over the whole buffer in
 * one rep outsb: a VMM's UART model (vmm's, QEMU's) takes bytes as fast as
 * they come, and a string instruction is one exit, or one trap where port
 * I/O is emulated (see exit.c). */
void console_write(const char *s, size_t n)
{
	while (!(inb(COM1 + 5) & LSR_THRE))
		cpu_relax();
	__asm__ volatile("rep outsb"
			 : "+S"(s), "+c"(n)
			 : "d"((uint16_t)COM1)
			 : "memory");
}

void console_putc(char c)
{
	console_write(&c, 1);
}

struct out {
	char *buf;
	size_t size, len;
};

static void emit(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void emit_num(struct out *o, uint64_t v, unsigned base, int width,
		     char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		emit(o, pad);
	while (n)
		emit(o, tmp[--n]);
}

static void format(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, longs = 0;
		char pad = ' ';
		if (*fmt != '%') {
			emit(o, *fmt);
			continue;
		}
		if (*++fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			longs++, fmt++;
		switch (*fmt) {
		case 'd': {
			int64_t v =
				longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (v < 0) {
				emit(o, '-');
				v = -v;
			}
			emit_num(o, (uint64_t)v, 10, width, pad);
			break;
		}
		case 'u':
			emit_num(o,
				 longs ? va_arg(ap, uint64_t)
				       : va_arg(ap, unsigned),
				 10, width, pad);
			break;
		case 'x':
			emit_num(o,
				 longs ? va_arg(ap, uint64_t)
				       : va_arg(ap, unsigned),
				 16, width, pad);
			break;
		case 's':
			for (const char *s = va_arg(ap, const char *); *s; s++)
				emit(o, *s);
			break;
		case 'c': emit(o, (char)va_arg(ap, int)); break;
		default: emit(o, *fmt); break;
		}
	}
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct out o = { buf, size, 0 };
	va_list ap;

	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int printf(const char *fmt, ...)
{
	char buf[256];
	struct out o = { buf, sizeof(buf), 0 };
	va_list ap;

	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	console_write(buf, o.len < sizeof(buf) ? o.len : sizeof(buf) - 1);
	return (int)o.len;
}
