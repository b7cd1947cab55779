/* Sequences of register accesses to a virtio-mmio window
 * (devices/virtio/mmio.c) in front of a virtio-blk device whose two queue
 * workers serve requests meanwhile: every register at every offset and
 * width (through the MMIO bus, as a vCPU's exits reach it), the virtio
 * state machine's registers with chosen values, the driver's own set-up
 * and requests, device configuration space. The machinery and the
 * device-independent invariants are in transport_fuzz.h; here, after every
 * operation: InterruptStatus holds only the two defined bits, and the
 * identification and queue registers read what the device is. */
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <stdint.h>
#include <string.h>

#include "devices/iobus.h"
#include "devices/virtio/mmio.h"

#define T_OPS 3 /* the operations of this transport */
#include "tests/fuzz/transport_fuzz.h"

#define MMIO_BASE 0xd0000000ULL

static struct virtio_mmio mmio;
static struct io_bus bus = { .name = "mmio" };

static void hook_irq(void *o)
{
	(void)o;
	__atomic_add_fetch(&T.irqs, 1, __ATOMIC_RELAXED);
}

static void t_init(void)
{
	virtio_mmio_init(&mmio, vdev(), hook_irq, hook_notify, NULL);
}

static void wr(uint64_t off, unsigned size, uint64_t v)
{
	T.writes = true;
	iobus_access(&bus, MMIO_BASE + off, true, (uint8_t *)&v, size);
}

static uint64_t rd(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	iobus_access(&bus, MMIO_BASE + off, false, (uint8_t *)&v, size);
	return v;
}

static void t_raw(bool is_write, uint64_t off, unsigned size, uint64_t *v)
{
	if (is_write)
		T.writes = true;
	iobus_access(&bus, MMIO_BASE + off, is_write, (uint8_t *)v, size);
}

static void ring(uint64_t lo, uint64_t v)
{
	wr(lo, 4, (uint32_t)v);
	wr(lo + 4, 4, v >> 32);
}

static void t_write(enum vreg r, uint64_t v)
{
	switch (r) {
	case V_STATUS: wr(VIRTIO_MMIO_STATUS, 4, v); break;
	case V_DFSEL: wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, v); break;
	case V_DF: wr(VIRTIO_MMIO_DEVICE_FEATURES, 4, v); break;
	case V_GFSEL: wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, v); break;
	case V_GF: wr(VIRTIO_MMIO_DRIVER_FEATURES, 4, v); break;
	case V_QSEL: wr(VIRTIO_MMIO_QUEUE_SEL, 4, v); break;
	case V_QNUM: wr(VIRTIO_MMIO_QUEUE_NUM, 4, v); break;
	case V_QDESC: ring(VIRTIO_MMIO_QUEUE_DESC_LOW, v); break;
	case V_QAVAIL: ring(VIRTIO_MMIO_QUEUE_AVAIL_LOW, v); break;
	case V_QUSED: ring(VIRTIO_MMIO_QUEUE_USED_LOW, v); break;
	case V_QREADY: wr(VIRTIO_MMIO_QUEUE_READY, 4, v); break;
	case V_NOTIFY: wr(VIRTIO_MMIO_QUEUE_NOTIFY, 4, v); break;
	case V_ISR: wr(VIRTIO_MMIO_INTERRUPT_ACK, 4, v); break;
	default: break; /* no MSI-X vectors here */
	}
}

static uint64_t t_read(enum vreg r)
{
	switch (r) {
	case V_STATUS: return rd(VIRTIO_MMIO_STATUS, 4);
	case V_DF: return rd(VIRTIO_MMIO_DEVICE_FEATURES, 4);
	case V_QNUM: return rd(VIRTIO_MMIO_QUEUE_NUM_MAX, 4);
	case V_QREADY: return rd(VIRTIO_MMIO_QUEUE_READY, 4);
	case V_ISR: return rd(VIRTIO_MMIO_INTERRUPT_STATUS, 4);
	default: return rd(0x0fc, 4); /* reserved: reads 0 */
	}
}

static void t_enable(void)
{
}

/* A read of a register with a defined value, checked. */
static void op_check_read(struct fin *in)
{
	static const uint64_t regs[] = {
		VIRTIO_MMIO_MAGIC_VALUE,      VIRTIO_MMIO_VERSION,
		VIRTIO_MMIO_DEVICE_ID,	      VIRTIO_MMIO_VENDOR_ID,
		VIRTIO_MMIO_QUEUE_NUM_MAX,    VIRTIO_MMIO_QUEUE_READY,
		VIRTIO_MMIO_STATUS,	      VIRTIO_MMIO_DEVICE_FEATURES,
		VIRTIO_MMIO_QUEUE_DESC_LOW,   VIRTIO_MMIO_QUEUE_NUM,
		VIRTIO_MMIO_INTERRUPT_STATUS,
	};
	struct virtio_dev *vd = vdev();
	uint64_t off = regs[fin_u8(in) % 11];
	uint32_t v = (uint32_t)rd(off, 4), sel = mmio.queue_sel;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: INVARIANT(v == 0x74726976); break;
	case VIRTIO_MMIO_VERSION: INVARIANT(v == 2); break;
	case VIRTIO_MMIO_DEVICE_ID: INVARIANT(v == VIRTIO_ID_BLOCK); break;
	case VIRTIO_MMIO_VENDOR_ID: INVARIANT(v == VIRTIO_MMIO_VENDOR); break;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		INVARIANT(v == (sel < NQ ? VBLK_QUEUE_SIZE : 0));
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		INVARIANT(v == (sel < NQ && vd->vqs[sel].ready));
		break;
	case VIRTIO_MMIO_STATUS: /* a worker may set NEEDS_RESET meanwhile */
		INVARIANT((v | VIRTIO_CONFIG_S_NEEDS_RESET) ==
			  (__atomic_load_n(&vd->status, __ATOMIC_SEQ_CST) |
			   VIRTIO_CONFIG_S_NEEDS_RESET));
		break;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		INVARIANT(v ==
			  virtio_features_word(vd, mmio.device_features_sel));
		break;
	case VIRTIO_MMIO_INTERRUPT_STATUS: INVARIANT(!(v & ~3u)); break;
	default: INVARIANT(v == 0); break; /* write-only registers */
	}
}

/* Device configuration space, any offset and width. */
static void op_config(struct fin *in, bool is_write)
{
	uint64_t off = VIRTIO_MMIO_CONFIG + fin_u8(in) % 0x50, v = fin_u64(in);
	unsigned size = width(in);

	TRACE("config %s %#lx/%u", is_write ? "write" : "read",
	      (unsigned long)off, size);
	t_raw(is_write, off, size, &v);
}

static void t_op(unsigned op, struct fin *in)
{
	switch (op) {
	case 0: op_check_read(in); break;
	case 1: op_config(in, false); break;
	default: op_config(in, true); break;
	}
}

static void t_check(void)
{
	INVARIANT(!(__atomic_load_n(&mmio.interrupt_status, __ATOMIC_SEQ_CST) &
		    ~3u));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	transport_fuzz_init();
	INVARIANT(iobus_attach(&bus, MMIO_BASE, VIRTIO_MMIO_WINDOW,
			       &virtio_mmio_ops, &mmio) == 0);
	t_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_input(data, size);
	return 0;
}
