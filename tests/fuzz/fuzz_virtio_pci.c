/* Sequences of accesses to a virtio-pci function (devices/virtio/pci.c,
 * devices/pci/pci.c, devices/pci/msix.c) in front of a virtio-blk device
 * whose two queue workers serve requests meanwhile: configuration space
 * through the 0xCF8/0xCFC ports and through ECAM (any slot, function,
 * register and width; the ports at any width, the address latch too),
 * BAR 0 wherever the guest moves it (common configuration, ISR, device
 * configuration, notification addresses, MSI-X table and PBA) at any
 * offset and width, the PCI configuration access
 * capability's window onto the BAR, the virtio state machine's registers
 * with chosen values, the driver's own set-up and requests. The machinery
 * and the device-independent invariants are in transport_fuzz.h; here,
 * after every operation:
 * - BAR 0 decodes where configuration space says (memory decoding on,
 *   its address) and the VMM was told so;
 * - the MSI-X state matches the capability's flags, the PBA holds only
 *   existing vectors, a vector fires only when deliverable with its route
 *   current, routes are installed only by the vCPU (fuzzer) thread, for
 *   existing vectors;
 * - the configuration and queue vectors are existing vectors or
 *   NO_VECTOR. */
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "devices/iobus.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "devices/virtio/pci.h"

#define T_OPS 10 /* the operations of this transport */
#include "tests/fuzz/transport_fuzz.h"

#define WINDOW 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define ECAM 0xe0000000ULL
#define HOME (WINDOW + 0x100000ULL) /* where the driver puts BAR 0 */
#define NVEC (NQ + 1)

static struct pci_bus pbus;
static struct virtio_pci vp;
static struct io_bus mmio = { .name = "mmio" }, ports = { .name = "port" };

/* ---- hooks ---- */

/* vCPU thread only, under the MSI-X lock. */
static int hook_route(void *o, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)o, (void)addr, (void)data;
	__atomic_add_fetch(&T.routes, 1, __ATOMIC_RELAXED);
	if (!pthread_equal(pthread_self(), T.self) || vec >= NVEC)
		__atomic_add_fetch(&T.bad_routes, 1, __ATOMIC_RELAXED);
	return T.route_fail ? -ENOSPC : 0;
}

/* Any thread, under the MSI-X lock: only a deliverable vector whose route
 * is current. */
static void hook_fire(void *o, unsigned vec)
{
	const struct msix *m = &vp.msix;
	bool ok = vec < m->nvec && m->enabled && !m->function_masked &&
		  !(m->table[vec].ctrl & 1) && !(m->route_stale & 1ULL << vec);

	(void)o;
	__atomic_add_fetch(&T.fires, 1, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_add_fetch(&T.bad_fires, 1, __ATOMIC_RELAXED);
}

/* vCPU thread, under the bus lock. */
static void hook_bar_moved(void *o, uint64_t gpa, bool mapped)
{
	(void)o;
	T.bar_gpa = gpa;
	T.bar_mapped = mapped;
}

static const struct virtio_pci_hooks hooks = {
	.irq = { hook_route, hook_fire },
	.notify = hook_notify,
	.bar_moved = hook_bar_moved,
};

/* The device reset, no worker running: a new function on a new bus. */
static void t_init(void)
{
	static bool have;

	if (have) {
		virtio_pci_destroy(&vp);
		pci_bus_destroy(&pbus);
	}
	pci_bus_init(&pbus, WINDOW, (uint32_t)WINDOW_SIZE);
	INVARIANT(virtio_pci_init(&vp, vdev(), &hooks, NULL) == 0);
	INVARIANT(pci_bus_attach(&pbus, &vp.pci) == 1);
	INVARIANT(vp.msix.nvec == NVEC);
	T.bar_gpa = 0;
	T.bar_mapped = false;
	have = true;
}

/* ---- access paths ---- */

/* Configuration space of slot/fn: ECAM or the 0xCF8/0xCFC ports. */
static void cfg_access(bool ecam, unsigned slot, unsigned fn, unsigned reg,
		       unsigned size, uint32_t *v, bool is_write)
{
	if (is_write)
		T.writes = true;
	if (ecam) {
		iobus_access(&mmio,
			     ECAM + ((uint64_t)slot << 15 | fn << 12 | reg),
			     is_write, (uint8_t *)v, size);
		return;
	}
	uint32_t a = 0x80000000u | slot << 11 | fn << 8 | (reg & 0xfc);
	iobus_access(&ports, PCI_CONFIG_PORT, true, (uint8_t *)&a, 4);
	iobus_access(&ports, PCI_CONFIG_PORT + 4 + (reg & 3), is_write,
		     (uint8_t *)v, size);
}

static void cfg_wr(unsigned reg, unsigned size, uint32_t v)
{
	cfg_access(true, 1, 0, reg, size, &v, true);
}

/* BAR 0 where it decodes now (or where it would: nothing answers). */
static void t_raw(bool is_write, uint64_t off, unsigned size, uint64_t *v)
{
	uint64_t at = __atomic_load_n(&vp.pci.mapped_at[0], __ATOMIC_ACQUIRE);

	if (is_write)
		T.writes = true;
	iobus_access(&mmio, (at ? at : HOME) + off, is_write, (uint8_t *)v,
		     size);
}

static void bar_wr(uint64_t off, unsigned size, uint64_t v)
{
	t_raw(true, off, size, &v);
}

static uint64_t bar_rd(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	t_raw(false, off, size, &v);
	return v;
}

static void t_write(enum vreg r, uint64_t v)
{
	switch (r) {
	case V_STATUS: bar_wr(VIRTIO_PCI_COMMON_STATUS, 1, v); break;
	case V_DFSEL: bar_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, v); break;
	case V_DF: bar_wr(VIRTIO_PCI_COMMON_DF, 4, v); break;
	case V_GFSEL: bar_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, v); break;
	case V_GF: bar_wr(VIRTIO_PCI_COMMON_GF, 4, v); break;
	case V_QSEL: bar_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, v); break;
	case V_QNUM: bar_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, v); break;
	case V_QDESC: bar_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 8, v); break;
	case V_QAVAIL: bar_wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 8, v); break;
	case V_QUSED: bar_wr(VIRTIO_PCI_COMMON_Q_USEDLO, 8, v); break;
	case V_QREADY: bar_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, v); break;
	case V_QVECTOR: bar_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, v); break;
	case V_CFGVECTOR: bar_wr(VIRTIO_PCI_COMMON_MSIX, 2, v); break;
	case V_NOTIFY:
		bar_wr(VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULTIPLIER * (v % 0x400),
		       2, v);
		break;
	default: bar_wr(VPCI_ISR_OFF, 1, v); break;
	}
}

static uint64_t t_read(enum vreg r)
{
	switch (r) {
	case V_STATUS: return bar_rd(VIRTIO_PCI_COMMON_STATUS, 1);
	case V_DF: return bar_rd(VIRTIO_PCI_COMMON_DF, 4);
	case V_QNUM: return bar_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2);
	case V_QREADY: return bar_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2);
	case V_ISR: return bar_rd(VPCI_ISR_OFF, 1);
	default: return bar_rd(VIRTIO_PCI_COMMON_NUMQ, 2);
	}
}

/* BAR 0 at HOME with memory decoding, MSI-X on with a vector per queue
 * and one for configuration changes. */
static void t_enable(void)
{
	cfg_wr(PCI_BASE_ADDRESS_0, 4, (uint32_t)HOME);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_wr(vp.msix.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	for (unsigned v = 0; v < NVEC; v++) {
		uint64_t e = VPCI_MSIX_TABLE_OFF + 16ULL * v;
		bar_wr(e + PCI_MSIX_ENTRY_LOWER_ADDR, 8, 0xfee00000ULL);
		bar_wr(e + PCI_MSIX_ENTRY_DATA, 4, 0x40 + v);
		bar_wr(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	}
	T.route_fail = false;
}

/* ---- the operations of virtio-pci ---- */

static unsigned cfg_slot(struct fin *in)
{
	static const unsigned slots[] = { 1, 1, 1, 1, 0, 2, 31, 1 };

	return slots[fin_u8(in) & 7];
}

/* Any configuration access: port or ECAM, slot, function, register and
 * width (3 and 8 included, which both paths refuse). */
static void op_cfg(struct fin *in, bool is_write)
{
	static const unsigned widths[] = { 1, 2, 4, 4, 3, 8, 1, 2 };
	uint8_t b = fin_u8(in);
	bool ecam = b & 1;
	unsigned slot = cfg_slot(in), fn = b & 2 ? fin_u8(in) & 7 : 0;
	unsigned reg = fin_u16(in) % (ecam ? 0x1000 : 0x100);
	unsigned size = widths[(b >> 2) & 7];
	uint32_t v = is_write ? fin_u32(in) : 0;
	uint64_t wide = v;

	if (b & 0x20)
		reg &= ~(size - 1) & 0xfff;
	if ((b & 0x41) == 0x40) {
		/* Any access to the eight ports, the address latch too. */
		TRACE("port %s %#x/%u = %#x", is_write ? "write" : "read",
		      PCI_CONFIG_PORT + (reg & 7), size, v);
		if (is_write)
			T.writes = true;
		iobus_access(&ports, PCI_CONFIG_PORT + (reg & 7), is_write,
			     (uint8_t *)&wide, size);
		return;
	}
	TRACE("cfg %s %s %u.%u %#x/%u = %#x", ecam ? "ecam" : "port",
	      is_write ? "write" : "read", slot, fn, reg, size, v);
	/* A buffer of 8 bytes: the paths refuse width 8, and must. */
	cfg_access(ecam, slot, fn, reg, size, (uint32_t *)&wide, is_write);
}

static void op_msix_table(struct fin *in)
{
	static const unsigned widths[] = { 4, 8, 4, 1, 2, 4, 8, 4 };
	uint8_t b = fin_u8(in);
	unsigned vec = b & 0x80 ? fin_u8(in) : fin_u8(in) % (NVEC + 2);
	unsigned reg = b & 0x40 ? fin_u8(in) % 16 : 4 * (b & 3);
	uint64_t off = VPCI_MSIX_TABLE_OFF + 16ULL * vec + reg, v;
	unsigned size = widths[(b >> 2) & 7];

	if (b & 0x20)
		off = VPCI_MSIX_PBA_OFF + fin_u8(in) % 16;
	v = reg == PCI_MSIX_ENTRY_VECTOR_CTRL && !(b & 0x10) ? fin_u8(in) & 1
							     : fin_u64(in);
	TRACE("msix %s %#lx/%u = %#lx", b & 0x10 ? "read" : "write",
	      (unsigned long)off, size, (unsigned long)v);
	t_raw(!(b & 0x10), off, size, &v);
}

static void op_bar(struct fin *in)
{
	static const uint32_t v[] = {
		0xffffffff, 0,		0xc0000000, 0xc0008000, 0xcfff8000,
		0xd0000000, 0x00001000, 0xfee00000, 0xc0000004, 0xc0004000,
	};
	uint8_t b = fin_u8(in);
	uint32_t x = b & 0x80	? fin_u32(in)
		     : b & 0x40 ? (uint32_t)(WINDOW + 0x8000ULL * fin_u16(in))
				: v[b % 10];
	unsigned bar = b & 0x20 ? fin_u8(in) % 6 : 0;

	TRACE("BAR %u = %#x", bar, x);
	cfg_wr(PCI_BASE_ADDRESS_0 + 4 * bar, 4, x);
}

static void op_command(struct fin *in)
{
	uint8_t b = fin_u8(in);
	uint32_t v =
		b < 0xc0 ? (b & 1 ? PCI_COMMAND_MEMORY : 0) | PCI_COMMAND_MASTER
			 : fin_u16(in);

	TRACE("command %#x", v);
	cfg_wr(PCI_COMMAND, 2, v);
}

static void op_msix_flags(struct fin *in)
{
	static const uint16_t v[] = { PCI_MSIX_FLAGS_ENABLE,
				      PCI_MSIX_FLAGS_ENABLE |
					      PCI_MSIX_FLAGS_MASKALL,
				      PCI_MSIX_FLAGS_MASKALL,
				      0,
				      0xffff,
				      PCI_MSIX_FLAGS_ENABLE,
				      0x4000,
				      0x8000 };
	uint8_t b = fin_u8(in);
	unsigned cap = vp.msix.cap;
	uint16_t x = v[b & 7];

	TRACE("msix flags %#x (%u)", x, (b >> 3) & 3);
	switch ((b >> 3) & 3) {
	case 0: cfg_wr(cap + PCI_MSIX_FLAGS, 2, x); break;
	case 1: cfg_wr(cap + PCI_MSIX_FLAGS + 1, 1, x >> 8); break;
	default:
		cfg_wr(cap, 4,
		       pci_cfg_get(&vp.pci, cap, 2) | (uint32_t)x << 16);
		break;
	}
}

/* The PCI configuration access capability (4.1.4.7): BAR, offset and
 * length set, then a read or write of its data field. */
static void op_window(struct fin *in)
{
	static const uint32_t offs[] = {
		VIRTIO_PCI_COMMON_STATUS,
		VIRTIO_PCI_COMMON_Q_SELECT,
		VIRTIO_PCI_COMMON_Q_SIZE,
		VIRTIO_PCI_COMMON_Q_ENABLE,
		VIRTIO_PCI_COMMON_Q_MSIX,
		VIRTIO_PCI_COMMON_Q_DESCLO,
		VIRTIO_PCI_COMMON_Q_AVAILHI,
		VIRTIO_PCI_COMMON_Q_USEDLO,
		VIRTIO_PCI_COMMON_GF,
		VPCI_ISR_OFF,
		VPCI_DEVICE_OFF,
		VPCI_NOTIFY_OFF,
		VPCI_NOTIFY_OFF + 4,
		VPCI_MSIX_TABLE_OFF + 12,
		VPCI_MSIX_PBA_OFF,
		VPCI_BAR_SIZE - 4,
	};
	static const uint32_t lens[] = { 1, 2, 4, 4, 4, 3, 0, 8 };
	unsigned cap = vp.cfg_cap, data = cap + sizeof(struct virtio_pci_cap);
	uint8_t b = fin_u8(in);
	uint32_t off = b & 0x80 ? fin_u32(in) : offs[b & 15];
	uint32_t len = lens[(b >> 4) & 7], v = fin_u32(in);
	uint8_t how = fin_u8(in);

	cfg_wr(cap + VIRTIO_PCI_CAP_BAR, 1, how & 0x80 ? fin_u8(in) : 0);
	cfg_wr(cap + VIRTIO_PCI_CAP_OFFSET, 4, off);
	cfg_wr(cap + VIRTIO_PCI_CAP_LENGTH, 4, len);
	TRACE("window %#x/%u %s %#x", off, len, how & 1 ? "read" : "write", v);
	if (how & 1)
		cfg_access(how & 2, 1, 0, data + (how & 4 ? 2 : 0),
			   how & 4 ? 2 : 4, &v, false);
	else
		cfg_access(how & 2, 1, 0, data + (how & 4 ? 1 : 0),
			   how & 4 ? 1 : 4, &v, true);
}

static void op_vectors(struct fin *in)
{
	static const uint16_t v[] = { 0, 1, 2, 3, 4, 0xffff, 0x7fff, 0x8000 };
	uint8_t b = fin_u8(in);
	uint16_t x = b & 0x80 ? fin_u16(in) : v[b & 7];

	TRACE("%s vector %#x", b & 8 ? "queue" : "config", x);
	t_write(b & 8 ? V_QVECTOR : V_CFGVECTOR, x);
}

static void t_op(unsigned op, struct fin *in)
{
	switch (op) {
	case 0: op_cfg(in, true); break;
	case 1: op_cfg(in, false); break;
	case 2: op_msix_table(in); break;
	case 3: op_bar(in); break;
	case 4: op_command(in); break;
	case 5: op_msix_flags(in); break;
	case 6: op_window(in); break;
	case 7:
		T.route_fail = fin_u8(in) & 1;
		TRACE("route failures %d", T.route_fail);
		break;
	case 8: op_vectors(in); break;
	default: {
		/* Common configuration, device configuration, ISR, notify,
		 * MSI-X: any offset below 0x40 or anywhere in the BAR. */
		uint8_t b = fin_u8(in);
		uint64_t off = b & 1 ? fin_u8(in) % 0x40
				     : fin_u16(in) % (VPCI_BAR_SIZE + 0x100);
		uint64_t v = b & 2 ? fin_u64(in) : 0;
		unsigned size = 1u << ((b >> 2) & 3);
		TRACE("bar %s %#lx/%u = %#lx", b & 2 ? "write" : "read",
		      (unsigned long)off, size, (unsigned long)v);
		t_raw(b & 2, off, size, &v);
		break;
	}
	}
}

/* ---- the transport's invariants ---- */

static bool vector_ok(uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < NVEC;
}

static void t_check(void)
{
	const struct pci_device *d = &vp.pci;
	struct msix *m = &vp.msix;
	bool decode = pci_cfg_get(d, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
	uint32_t at = decode ? pci_cfg_get(d, PCI_BASE_ADDRESS_0, 4) &
				       PCI_BASE_ADDRESS_MEM_MASK
			     : 0;
	uint16_t flags = (uint16_t)pci_cfg_get(d, m->cap + PCI_MSIX_FLAGS, 2);

	INVARIANTF(d->mapped_at[0] == at && T.bar_mapped == (at != 0) &&
			   (!at || T.bar_gpa == at),
		   "BAR 0 at %#x decodes at %#x, reported %#lx (%d)", at,
		   d->mapped_at[0], (unsigned long)T.bar_gpa, T.bar_mapped);
	pthread_mutex_lock(&m->lock);
	INVARIANTF(m->enabled == !!(flags & PCI_MSIX_FLAGS_ENABLE) &&
			   m->function_masked ==
				   !!(flags & PCI_MSIX_FLAGS_MASKALL),
		   "MSI-X flags %#x, state enabled %d masked %d", flags,
		   m->enabled, m->function_masked);
	INVARIANT(!(m->pending >> NVEC) && !(m->route_stale >> NVEC));
	if (!m->enabled)
		INVARIANT(!m->pending);
	pthread_mutex_unlock(&m->lock);
	INVARIANT(vector_ok(
		__atomic_load_n(&vp.config_vector, __ATOMIC_ACQUIRE)));
	for (unsigned q = 0; q < NQ; q++)
		INVARIANT(vector_ok(__atomic_load_n(&vp.queue_vector[q],
						    __ATOMIC_ACQUIRE)));
	INVARIANT(!__atomic_load_n(&T.bad_fires, __ATOMIC_RELAXED));
	INVARIANT(!__atomic_load_n(&T.bad_routes, __ATOMIC_RELAXED));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	transport_fuzz_init();
	INVARIANT(iobus_attach(&ports, PCI_CONFIG_PORT, 8, &pci_config_port_ops,
			       &pbus) == 0);
	INVARIANT(iobus_attach(&mmio, ECAM, PCI_ECAM_BUS_SIZE, &pci_ecam_ops,
			       &pbus) == 0);
	INVARIANT(iobus_attach(&mmio, WINDOW, WINDOW_SIZE, &pci_mmio_ops,
			       &pbus) == 0);
	t_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_input(data, size);
	return 0;
}
