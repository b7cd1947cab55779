/* A 16550A UART: the register model, with transmit and interrupt-line
 * callbacks so it can run without a VM (tests) or on COM1 of one. */
#ifndef DEVICES_UART_H
#define DEVICES_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iobus.h"

#define UART_FIFO_SIZE 16

enum uart_reg {
	UART_RBR_THR,
	UART_IER,
	UART_IIR_FCR,
	UART_LCR,
	UART_MCR,
	UART_LSR,
	UART_MSR,
	UART_SCR
};

/* Called with the UART lock held; tx must not call back into the UART. */
struct uart_backend {
	void (*tx)(void *opaque, uint8_t byte); /* a byte the guest sent */
	void (*irq)(void *opaque, bool level);	/* interrupt line changed */
	void *opaque;
};

/* State: a plain struct (save/restore later) guarded by lock, taken by the
 * vCPU thread on register access and by the main thread on input. */
struct uart {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thr_interrupt; /* THR-empty interrupt pending */
	bool irq_level;
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	struct uart_backend backend;
};

void uart_init(struct uart *u, const struct uart_backend *backend);
void uart_destroy(struct uart *u);

/* Register access by the guest; reg is 0..7. */
uint8_t uart_read(struct uart *u, unsigned reg);
void uart_write(struct uart *u, unsigned reg, uint8_t value);

/* Queues input for the guest; returns how many bytes fit in the FIFO. The
 * caller keeps the rest and offers it again later, so nothing is lost. */
unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len);

/* Port I/O glue: attach with the UART as opaque, 8 ports. */
extern const struct io_ops uart_io_ops;

#endif
