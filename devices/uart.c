/* Runs on vCPU threads (register access), the main thread (input,
 * restore) and the thread saving the VM (save); every entry point but the
 * pure uart_state_check takes u->lock. */
#include "uart.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO_ENABLED 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_ERRORS 0x1e
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80
/* The bits a register write keeps. */
#define IER_MASK 0x0f
#define MCR_MASK 0x1f
#define FCR_MASK 0xc9

void uart_init(struct uart *u, const struct uart_backend *backend)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->mcr = 0x08; /* OUT2 */
	u->dll = 12;   /* 9600 baud */
	u->backend = *backend;
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t pending_iir(const struct uart *u)
{
	if ((u->ier & IER_RLSI) && (u->lsr & LSR_ERRORS))
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thr_interrupt)
		return IIR_THRI;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	bool level = pending_iir(u) != IIR_NONE;

	if (level != u->irq_level) {
		u->irq_level = level;
		u->backend.irq(u->backend.opaque, level);
	}
}

static bool rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count == UART_FIFO_SIZE) {
		u->lsr |= LSR_OE;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count++) % UART_FIFO_SIZE] = byte;
	return true;
}

static uint8_t rx_pop(struct uart *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

static void transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte);
	else
		u->backend.tx(u->backend.opaque, byte);
	/* The byte leaves at once, so the THR is empty again. */
	u->thr_interrupt = true;
}

static uint8_t loopback_msr(const struct uart *u)
{
	/* In loopback the modem outputs drive the modem inputs. */
	return (uint8_t)(((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) |
			 ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
}

static uint8_t read_locked(struct uart *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR_THR: return (u->lcr & LCR_DLAB) ? u->dll : rx_pop(u);
	case UART_IER: return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR:
		v = pending_iir(u);
		if (v == IIR_THRI)
			u->thr_interrupt = false; /* reading IIR clears it */
		return v | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ENABLED : 0);
	case UART_LCR: return u->lcr;
	case UART_MCR: return u->mcr;
	case UART_LSR:
		v = u->lsr | (u->rx_count ? LSR_DR : 0);
		u->lsr &= (uint8_t)~LSR_ERRORS;
		return v;
	case UART_MSR: return (u->mcr & MCR_LOOP) ? loopback_msr(u) : u->msr;
	default: return u->scr;
	}
}

static void write_locked(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR raises the interrupt. */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thr_interrupt = true;
		u->ier = v & IER_MASK;
		break;
	case UART_IIR_FCR:
		u->fcr = v & FCR_MASK;
		if (v & FCR_CLEAR_RX)
			u->rx_count = 0;
		break;
	case UART_LCR: u->lcr = v; break;
	case UART_MCR: u->mcr = v & MCR_MASK; break;
	case UART_SCR: u->scr = v; break;
	default: /* LSR and MSR are read-only */ break;
	}
}

uint8_t uart_read(struct uart *u, unsigned reg)
{
	uint8_t v;

	pthread_mutex_lock(&u->lock);
	v = read_locked(u, reg & 7);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

void uart_write(struct uart *u, unsigned reg, uint8_t value)
{
	pthread_mutex_lock(&u->lock);
	write_locked(u, reg & 7, value);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len)
{
	unsigned n = 0;

	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & MCR_LOOP))
		while (n < len && u->rx_count < UART_FIFO_SIZE)
			rx_push(u, buf[n++]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

_Static_assert(sizeof(struct uart_state) == 16 + UART_FIFO_SIZE,
	       "the UART's section layout is part of the stream format");

void uart_save(struct uart *u, struct uart_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&u->lock);
	s->ier = u->ier;
	s->lcr = u->lcr;
	s->mcr = u->mcr;
	s->lsr = u->lsr;
	s->msr = u->msr;
	s->scr = u->scr;
	s->dll = u->dll;
	s->dlm = u->dlm;
	s->fcr = u->fcr;
	s->thr_interrupt = u->thr_interrupt;
	s->irq_level = u->irq_level;
	s->rx_head = (uint8_t)u->rx_head;
	s->rx_count = (uint8_t)u->rx_count;
	memcpy(s->rx, u->rx, sizeof(s->rx));
	pthread_mutex_unlock(&u->lock);
}

static int refuse(char *why, size_t why_len, const char *field, unsigned v,
		  const char *limit)
{
	snprintf(why, why_len, "%s %u, %s", field, v, limit);
	return -EPROTO;
}

int uart_state_check(const struct uart_state *s, char *why, size_t why_len)
{
	if (s->rx_head >= UART_FIFO_SIZE)
		return refuse(why, why_len, "rx_head", s->rx_head,
			      "at most 15");
	if (s->rx_count > UART_FIFO_SIZE)
		return refuse(why, why_len, "rx_count", s->rx_count,
			      "at most 16");
	if (s->thr_interrupt > 1)
		return refuse(why, why_len, "thr_interrupt", s->thr_interrupt,
			      "not 0 or 1");
	if (s->irq_level > 1)
		return refuse(why, why_len, "irq_level", s->irq_level,
			      "not 0 or 1");
	if (s->ier & ~IER_MASK)
		return refuse(why, why_len, "IER", s->ier,
			      "has bits the UART never keeps");
	if (s->mcr & ~MCR_MASK)
		return refuse(why, why_len, "MCR", s->mcr,
			      "has bits the UART never keeps");
	if (s->fcr & ~FCR_MASK)
		return refuse(why, why_len, "FCR", s->fcr,
			      "has bits the UART never keeps");
	for (unsigned i = 0; i < sizeof(s->reserved); i++)
		if (s->reserved[i])
			return refuse(why, why_len, "reserved byte",
				      s->reserved[i], "not 0");
	return 0;
}

int uart_restore(struct uart *u, const struct uart_state *s, char *why,
		 size_t why_len)
{
	int r = uart_state_check(s, why, why_len);

	if (r)
		return r;
	pthread_mutex_lock(&u->lock);
	u->ier = s->ier;
	u->lcr = s->lcr;
	u->mcr = s->mcr;
	u->lsr = s->lsr;
	u->msr = s->msr;
	u->scr = s->scr;
	u->dll = s->dll;
	u->dlm = s->dlm;
	u->fcr = s->fcr;
	u->thr_interrupt = s->thr_interrupt;
	u->irq_level = s->irq_level;
	u->rx_head = s->rx_head;
	u->rx_count = s->rx_count;
	memcpy(u->rx, s->rx, sizeof(u->rx));
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static void uart_io_read(void *opaque, uint64_t off, uint8_t *data,
			 unsigned size)
{
	data[0] = uart_read(opaque, (unsigned)off);
	for (unsigned i = 1; i < size; i++)
		data[i] = 0;
}

static void uart_io_write(void *opaque, uint64_t off, const uint8_t *data,
			  unsigned size)
{
	(void)size;
	uart_write(opaque, (unsigned)off, data[0]);
}

const struct io_ops uart_io_ops = {
	.read = uart_io_read,
	.write = uart_io_write,
};
