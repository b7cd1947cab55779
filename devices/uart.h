/* A 16550A UART: the register model, with transmit and interrupt-line
 * callbacks so it can run without a VM (tests) or on COM1 of one. */
#ifndef DEVICES_UART_H
#define DEVICES_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
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

/* State guarded by lock (uart_save/uart_restore copy it), taken by the
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

/* Saving and restoring (a snapshot, a migration): the registers and the
 * receive FIFO as a plain struct, the payload of the UART's stream
 * section byte for byte (32 bytes, UART_STATE_VERSION). The interrupt
 * level is the one last reported to the backend; restoring does not call
 * the backend (the interrupt controller's own state is restored beside
 * it), so the next change of the line is reported as usual. */
#define UART_STATE_VERSION 1

struct uart_state {
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t fcr;
	uint8_t thr_interrupt; /* 0 or 1 */
	uint8_t irq_level;     /* 0 or 1 */
	uint8_t rx_head;       /* below UART_FIFO_SIZE */
	uint8_t rx_count;      /* at most UART_FIFO_SIZE */
	uint8_t reserved[3];   /* 0 */
	uint8_t rx[UART_FIFO_SIZE];
};

/* Under the UART's lock; any thread. */
void uart_save(struct uart *u, struct uart_state *s);
/* Checks every field a register access would index with or that only
 * takes some values (FIFO head and count, flags, the bits the register
 * writes keep, reserved bytes). Pure: 0, or -EPROTO with why filled in. */
int uart_state_check(const struct uart_state *s, char *why, size_t why_len);
/* uart_state_check, then the state replaces the UART's under its lock
 * (the backend stays). 0, or -EPROTO with why filled in and the UART
 * unchanged. */
int uart_restore(struct uart *u, const struct uart_state *s, char *why,
		 size_t why_len);

/* Port I/O glue: attach with the UART as opaque, 8 ports. */
extern const struct io_ops uart_io_ops;

#endif
