#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
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

/* ---- save and restore ---- */

static char why[128];

/* A UART with every register set and a FIFO that wrapped around. */
static void busy_uart(void)
{
	uint8_t in[UART_FIFO_SIZE];

	for (int i = 0; i < UART_FIFO_SIZE; i++)
		in[i] = (uint8_t)('A' + i);
	uart_write(&u, UART_LCR, 0x83);
	uart_write(&u, UART_RBR_THR, 0x01); /* DLL: 115200 baud */
	uart_write(&u, UART_IER, 0x00);	    /* DLM */
	uart_write(&u, UART_LCR, 0x03);
	uart_write(&u, UART_IIR_FCR, 0xc1);
	uart_write(&u, UART_SCR, 0x5a);
	uart_write(&u, UART_IER, 0x05);
	cr_assert_eq(uart_receive(&u, in, 10), 10);
	for (int i = 0; i < 10; i++)
		uart_read(&u, UART_RBR_THR);
	/* head at 10: the next 16 bytes wrap around the end */
	cr_assert_eq(uart_receive(&u, in, 16), 16);
	cr_assert(s.level, "received data interrupt");
}

Test(uart, save_captures_every_field)
{
	struct uart_state st;

	busy_uart();
	memset(&st, 0xee, sizeof(st));
	uart_save(&u, &st);
	cr_assert_eq(sizeof(st), 32);
	cr_assert_eq(st.lcr, 0x03);
	cr_assert_eq(st.dll, 0x01);
	cr_assert_eq(st.dlm, 0x00);
	cr_assert_eq(st.fcr, 0xc1);
	cr_assert_eq(st.scr, 0x5a);
	cr_assert_eq(st.ier, 0x05);
	cr_assert_eq(st.mcr, 0x08);
	cr_assert_eq(st.msr, 0xb0);
	cr_assert_eq(st.lsr, 0x60);
	cr_assert_eq(st.rx_head, 10);
	cr_assert_eq(st.rx_count, 16);
	cr_assert_eq(st.irq_level, 1);
	cr_assert_eq(st.thr_interrupt, 0);
	cr_assert_eq(st.rx[10], 'A');
	cr_assert_eq(st.rx[9], 'P', "the 16th byte wrapped to slot 9");
	for (unsigned i = 0; i < sizeof(st.reserved); i++)
		cr_assert_eq(st.reserved[i], 0);
	cr_assert_eq(uart_state_check(&st, why, sizeof(why)), 0, "%s", why);
}

Test(uart, restore_round_trip_reads_the_same)
{
	struct uart_state st;
	struct uart v;
	struct sink t = { 0 };
	struct uart_backend b = { tx, irq, &t };

	busy_uart();
	uart_save(&u, &st);
	uart_init(&v, &b);
	cr_assert_eq(uart_restore(&v, &st, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(t.edges, 0, "restoring does not drive the line");
	cr_assert(!t.level);
	cr_assert_eq(uart_read(&v, UART_SCR), 0x5a);
	cr_assert_eq(uart_read(&v, UART_IER), 0x05);
	cr_assert_eq(uart_read(&v, UART_LCR), 0x03);
	cr_assert_eq(uart_read(&v, UART_IIR_FCR), 0xc4, "FIFO on, RX data");
	cr_assert_eq(uart_read(&v, UART_LSR), 0x61, "data ready");
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		cr_assert_eq(uart_read(&v, UART_RBR_THR), 'A' + i,
			     "byte %d in order across the wrap", i);
	cr_assert_eq(uart_read(&v, UART_LSR) & 0x01, 0);
	cr_assert(!t.level, "an emptied FIFO lowers the line");
	uart_write(&v, UART_LCR, 0x83);
	cr_assert_eq(uart_read(&v, UART_RBR_THR), 0x01, "divisor kept");
	uart_write(&v, UART_LCR, 0x03);
	uart_write(&v, UART_RBR_THR, 'z');
	cr_assert_eq(t.nout, 1, "the restored UART sends on its own backend");
	cr_assert_eq(s.nout, 0);
	uart_destroy(&v);
}

Test(uart, restore_then_save_is_identity)
{
	struct uart_state st, again;
	struct uart v;
	struct sink t = { 0 };
	struct uart_backend b = { tx, irq, &t };

	busy_uart();
	uart_save(&u, &st);
	uart_init(&v, &b);
	cr_assert_eq(uart_restore(&v, &st, why, sizeof(why)), 0);
	uart_save(&v, &again);
	cr_assert_eq(memcmp(&st, &again, sizeof(st)), 0);
	uart_destroy(&v);
}

Test(uart, hostile_states_are_refused_and_change_nothing)
{
	static const struct {
		size_t off;
		uint8_t value;
		const char *says;
	} bad[] = {
		{ offsetof(struct uart_state, rx_head), 16, "rx_head 16" },
		{ offsetof(struct uart_state, rx_head), 255, "rx_head 255" },
		{ offsetof(struct uart_state, rx_count), 17, "rx_count 17" },
		{ offsetof(struct uart_state, rx_count), 200, "rx_count 200" },
		{ offsetof(struct uart_state, thr_interrupt), 2,
		  "thr_interrupt 2" },
		{ offsetof(struct uart_state, irq_level), 0x80,
		  "irq_level 128" },
		{ offsetof(struct uart_state, ier), 0x10, "IER 16" },
		{ offsetof(struct uart_state, mcr), 0x20, "MCR 32" },
		{ offsetof(struct uart_state, fcr), 0x02, "FCR 2" },
		{ offsetof(struct uart_state, reserved) + 2, 1,
		  "reserved byte 1" },
	};
	struct uart_state good, st, after;

	busy_uart();
	uart_save(&u, &good);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned edges = s.edges;

		st = good;
		((uint8_t *)&st)[bad[i].off] = bad[i].value;
		why[0] = 0;
		cr_assert_eq(uart_state_check(&st, why, sizeof(why)), -EPROTO,
			     "%s accepted", bad[i].says);
		cr_assert_not_null(strstr(why, bad[i].says), "\"%s\"", why);
		cr_assert_eq(uart_restore(&u, &st, why, sizeof(why)), -EPROTO);
		uart_save(&u, &after);
		cr_assert_eq(memcmp(&after, &good, sizeof(good)), 0,
			     "%s changed the UART", bad[i].says);
		cr_assert_eq(s.edges, edges);
	}
	/* The extremes that are valid. */
	st = good;
	st.rx_head = UART_FIFO_SIZE - 1;
	st.rx_count = UART_FIFO_SIZE;
	cr_assert_eq(uart_state_check(&st, why, sizeof(why)), 0, "%s", why);
}

Test(uart, restored_full_fifo_at_the_last_slot_wraps)
{
	struct uart_state st;

	memset(&st, 0, sizeof(st));
	st.lsr = 0x60;
	st.rx_head = UART_FIFO_SIZE - 1;
	st.rx_count = UART_FIFO_SIZE;
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		st.rx[(UART_FIFO_SIZE - 1 + i) % UART_FIFO_SIZE] =
			(uint8_t)(0x30 + i);
	cr_assert_eq(uart_restore(&u, &st, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"x", 1), 0, "full");
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		cr_assert_eq(uart_read(&u, UART_RBR_THR), 0x30 + i);
	cr_assert_eq(uart_read(&u, UART_RBR_THR), 0, "empty reads 0");
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"y", 1), 1);
	cr_assert_eq(uart_read(&u, UART_RBR_THR), 'y');
}
