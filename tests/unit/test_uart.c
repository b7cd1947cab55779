#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "devices/uart.h"

struct sink {
	uint8_t out[256];
	unsigned nout;
	bool level;
	unsigned edges; /* rising edges of the interrupt line */
};

static void tx(void *o, uint8_t b)
{
	struct sink *s = o;
	s->out[s->nout++] = b;
}

static void irq(void *o, bool level)
{
	struct sink *s = o;
	if (level && !s->level)
		s->edges++;
	s->level = level;
}

static struct uart u;
static struct sink s;

static void setup(void)
{
	struct uart_backend b = { tx, irq, &s };
	memset(&s, 0, sizeof(s));
	uart_init(&u, &b);
}

TestSuite(uart, .init = setup);

Test(uart, reset_state)
{
	cr_assert_eq(uart_read(&u, UART_LSR), 0x60, "THRE and TEMT");
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0x0f, 0x01, "no interrupt");
	cr_assert_eq(uart_read(&u, UART_IER), 0);
	cr_assert(!s.level);
}

Test(uart, transmit_goes_out_in_order)
{
	const char *msg = "hello";
	for (const char *p = msg; *p; p++)
		uart_write(&u, UART_RBR_THR, (uint8_t)*p);
	cr_assert_eq(s.nout, 5);
	cr_assert_eq(memcmp(s.out, msg, 5), 0);
	cr_assert(!s.level, "THRI disabled: no interrupt");
}

Test(uart, thre_interrupt_raised_on_enable_and_cleared_by_iir_read)
{
	uart_write(&u, UART_IER, 0x02);
	cr_assert(s.level);
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0x0f, 0x02);
	cr_assert(!s.level, "reading IIR clears THRE");
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0x0f, 0x01);
	/* Linux's THRE test: disable then re-enable re-asserts THRE. */
	uart_write(&u, UART_IER, 0);
	uart_write(&u, UART_IER, 0x02);
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0x0f, 0x02);
	/* Each byte sent empties the THR again: a new edge. */
	unsigned before = s.edges;
	uart_write(&u, UART_RBR_THR, 'x');
	cr_assert_eq(s.edges, before + 1);
}

Test(uart, receive_fifo_data_ready_and_interrupt)
{
	uint8_t in[20];
	for (int i = 0; i < 20; i++)
		in[i] = (uint8_t)('a' + i);
	uart_write(&u, UART_IER, 0x01);
	cr_assert_eq(uart_receive(&u, in, 20), UART_FIFO_SIZE, "FIFO holds 16");
	cr_assert(s.level);
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0x0f, 0x04);
	cr_assert(uart_read(&u, UART_LSR) & 0x01);
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		cr_assert_eq(uart_read(&u, UART_RBR_THR), 'a' + i);
	cr_assert_eq(uart_read(&u, UART_LSR) & 0x01, 0);
	cr_assert(!s.level);
	cr_assert_eq(uart_receive(&u, in + 16, 4), 4, "the rest fits later");
	cr_assert_eq(uart_read(&u, UART_RBR_THR), 'q');
}

Test(uart, fifo_clear_drops_input)
{
	uart_receive(&u, (const uint8_t *)"abc", 3);
	uart_write(&u, UART_IIR_FCR, 0x03);
	cr_assert_eq(uart_read(&u, UART_LSR) & 0x01, 0);
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0xc0, 0xc0, "FIFOs enabled");
}

Test(uart, divisor_latch)
{
	uart_write(&u, UART_LCR, 0x83);
	uart_write(&u, UART_RBR_THR, 0x01);
	uart_write(&u, UART_IER, 0x02);
	cr_assert_eq(uart_read(&u, UART_RBR_THR), 0x01);
	cr_assert_eq(uart_read(&u, UART_IER), 0x02);
	cr_assert_eq(s.nout, 0, "DLL write is not a transmit");
	uart_write(&u, UART_LCR, 0x03);
	cr_assert_eq(uart_read(&u, UART_IER), 0, "IER untouched by DLM");
}

Test(uart, loopback_and_scratch)
{
	uart_write(&u, UART_SCR, 0x5a);
	cr_assert_eq(uart_read(&u, UART_SCR), 0x5a);
	uart_write(&u, UART_MCR, 0x10 | 0x0f);
	cr_assert_eq(uart_read(&u, UART_MSR) & 0xf0, 0xf0);
	uart_write(&u, UART_RBR_THR, 'L');
	cr_assert_eq(s.nout, 0, "loopback does not transmit");
	cr_assert_eq(uart_read(&u, UART_RBR_THR), 'L');
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"x", 1), 0,
		     "no outside input in loopback");
}

Test(uart, overrun_sets_line_status)
{
	uint8_t in[UART_FIFO_SIZE + 1] = { 0 };
	uart_write(&u, UART_MCR, 0x10);
	for (int i = 0; i < UART_FIFO_SIZE + 1; i++)
		uart_write(&u, UART_RBR_THR, in[i]);
	uart_write(&u, UART_IER, 0x04);
	cr_assert_eq(uart_read(&u, UART_IIR_FCR) & 0x0f, 0x06);
	cr_assert(uart_read(&u, UART_LSR) & 0x02, "OE");
	cr_assert_eq(uart_read(&u, UART_LSR) & 0x02, 0, "cleared by reading");
}
