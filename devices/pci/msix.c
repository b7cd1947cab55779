/* vCPU threads (table, PBA, capability) and device threads (notify), all
 * under m->lock; see msix.h. Routes (KVM_SET_GSI_ROUTING) are installed
 * only on vCPU threads, by the guest's own table and capability writes:
 * a device thread delivers through a route that is current or leaves the
 * vector pending, so its syscall set stays an eventfd write. */
#include "msix.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"

#define CAP_LEN 12
#define ENTRY_MASKED 1u

uint32_t msix_table_size(unsigned nvec)
{
	return nvec * MSIX_ENTRY_SIZE;
}

uint32_t msix_pba_size(unsigned nvec)
{
	return (nvec + 63) / 64 * 8;
}

int msix_init(struct msix *m, struct pci_device *dev, unsigned nvec,
	      unsigned bar, uint32_t table_off, uint32_t pba_off,
	      const struct msix_irq_ops *ops, void *opaque)
{
	uint8_t body[CAP_LEN - 2];

	if (!nvec || nvec > MSIX_MAX_VECTORS)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->dev = dev;
	m->nvec = nvec;
	m->ops = ops;
	m->opaque = opaque;
	for (unsigned v = 0; v < nvec; v++)
		m->table[v].ctrl = ENTRY_MASKED;
	pci_put_le(body, 2, nvec - 1);
	pci_put_le(body + 2, 4, table_off | bar);
	pci_put_le(body + 6, 4, pba_off | bar);
	m->cap = pci_add_cap(dev, PCI_CAP_ID_MSIX, body, CAP_LEN);
	if (!m->cap)
		return -ENOSPC;
	pci_wmask_set(dev, m->cap + PCI_MSIX_FLAGS, 2,
		      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	return 0;
}

void msix_destroy(struct msix *m)
{
	pthread_mutex_destroy(&m->lock);
}

static bool deliverable(const struct msix *m, unsigned vec)
{
	return m->enabled && !m->function_masked &&
	       !(m->table[vec].ctrl & ENTRY_MASKED);
}

/* vCPU threads: installs a changed message before its first use; m->lock
 * held. A route that cannot be installed leaves the vector stale, so the
 * next table or capability write tries again. */
static bool route_current(struct msix *m, unsigned vec)
{
	const struct msix_entry *e = &m->table[vec];

	if (!(m->route_stale & (1ULL << vec)))
		return true;
	if (m->ops->route(m->opaque, vec, e->addr, e->data))
		return false;
	m->route_stale &= ~(1ULL << vec);
	return true;
}

/* vCPU threads: routes vec if needed, then fires it. */
static void route_and_fire(struct msix *m, unsigned vec)
{
	if (route_current(m, vec)) {
		m->pending &= ~(1ULL << vec);
		m->ops->fire(m->opaque, vec);
	}
}

/* vCPU threads: routes every vector that can deliver (so device threads
 * find current routes) and fires what was held pending. */
static void refresh(struct msix *m)
{
	for (unsigned v = 0; v < m->nvec; v++) {
		if (!deliverable(m, v))
			continue;
		if (m->pending & (1ULL << v))
			route_and_fire(m, v);
		else
			route_current(m, v);
	}
}

void msix_config_written(struct msix *m, unsigned off, unsigned len)
{
	unsigned flags = m->cap + PCI_MSIX_FLAGS;
	uint32_t v;

	if (off + len <= flags || off >= flags + 2)
		return;
	v = pci_cfg_get(m->dev, flags, 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = v & PCI_MSIX_FLAGS_ENABLE;
	m->function_masked = v & PCI_MSIX_FLAGS_MASKALL;
	if (!m->enabled)
		m->pending = 0;
	refresh(m);
	pthread_mutex_unlock(&m->lock);
}

static void entry_write(struct msix *m, unsigned vec, unsigned reg, uint32_t v)
{
	struct msix_entry *e = &m->table[vec];

	switch (reg) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		e->addr = (e->addr & ~0xffffffffULL) | (v & ~3u);
		m->route_stale |= 1ULL << vec;
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		e->addr = (e->addr & 0xffffffffULL) | (uint64_t)v << 32;
		m->route_stale |= 1ULL << vec;
		break;
	case PCI_MSIX_ENTRY_DATA:
		e->data = v;
		m->route_stale |= 1ULL << vec;
		break;
	case PCI_MSIX_ENTRY_VECTOR_CTRL: e->ctrl = v & ENTRY_MASKED; break;
	}
	/* A message changed while unmasked (undefined by the spec, but a
	 * guest may) is routed now, here, not by the device thread. */
	if (deliverable(m, vec)) {
		if (m->pending & (1ULL << vec))
			route_and_fire(m, vec);
		else
			route_current(m, vec);
	}
}

static uint32_t entry_read(const struct msix *m, unsigned vec, unsigned reg)
{
	const struct msix_entry *e = &m->table[vec];

	switch (reg) {
	case PCI_MSIX_ENTRY_LOWER_ADDR: return (uint32_t)e->addr;
	case PCI_MSIX_ENTRY_UPPER_ADDR: return (uint32_t)(e->addr >> 32);
	case PCI_MSIX_ENTRY_DATA: return e->data;
	default: return e->ctrl;
	}
}

void msix_table_access(struct msix *m, uint64_t off, uint8_t *data,
		       unsigned size, bool is_write)
{
	unsigned vec = (unsigned)(off / MSIX_ENTRY_SIZE);

	if ((size != 4 && size != 8) || (off & (size - 1)) || vec >= m->nvec) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < size; i += 4) {
		unsigned reg = (unsigned)(off % MSIX_ENTRY_SIZE) + i;
		uint32_t v;
		if (is_write) {
			memcpy(&v, data + i, 4);
			entry_write(m, vec, reg, v);
		} else {
			v = entry_read(m, vec, reg);
			memcpy(data + i, &v, 4);
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned size)
{
	uint64_t pending;

	memset(data, 0, size);
	if ((size != 4 && size != 8) || (off & (size - 1)) || off >= 8)
		return;
	pthread_mutex_lock(&m->lock);
	pending = m->pending;
	pthread_mutex_unlock(&m->lock);
	pending >>= 8 * off;
	memcpy(data, &pending, size);
}

void msix_notify(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	/* A stale route is never installed here (see the top of the file):
	 * the vector waits, pending, for the vCPU write that routes it. */
	if (deliverable(m, vec) && !(m->route_stale & (1ULL << vec))) {
		m->pending &= ~(1ULL << vec);
		m->ops->fire(m->opaque, vec);
	} else if (m->enabled) {
		m->pending |= 1ULL << vec;
	}
	pthread_mutex_unlock(&m->lock);
}

_Static_assert(sizeof(struct msix_entry) == MSIX_ENTRY_SIZE, "stream layout");

void msix_save(struct msix *m, struct msix_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&m->lock);
	s->nvec = m->nvec;
	s->pending = m->pending;
	memcpy(s->table, m->table, m->nvec * sizeof(m->table[0]));
	pthread_mutex_unlock(&m->lock);
}

int msix_state_check(const struct msix *m, const struct msix_state *s,
		     const uint8_t *cfg, char *why, size_t why_len)
{
	bool enabled =
		(cfg[m->cap + PCI_MSIX_FLAGS + 1] << 8) & PCI_MSIX_FLAGS_ENABLE;

	uint64_t used = m->nvec == 64 ? ~0ULL : (1ULL << m->nvec) - 1;

	if (s->nvec != m->nvec || s->reserved) {
		snprintf(why, why_len, "MSI-X with %u vectors, this one %u",
			 s->nvec, m->nvec);
		return -EPROTO;
	}
	if (s->pending & ~used || (s->pending && !enabled)) {
		snprintf(why, why_len, "MSI-X pending bits %#llx",
			 (unsigned long long)s->pending);
		return -EPROTO;
	}
	for (unsigned v = 0; v < MSIX_MAX_VECTORS; v++) {
		const struct msix_entry *e = &s->table[v];
		bool bad = v < m->nvec
				   ? (e->ctrl & ~ENTRY_MASKED) || (e->addr & 3)
				   : e->addr || e->data || e->ctrl;
		if (bad) {
			snprintf(why, why_len, "MSI-X table entry %u", v);
			return -EPROTO;
		}
	}
	return 0;
}

void msix_restore(struct msix *m, const struct msix_state *s)
{
	uint32_t flags = pci_cfg_get(m->dev, m->cap + PCI_MSIX_FLAGS, 2);

	pthread_mutex_lock(&m->lock);
	memcpy(m->table, s->table, m->nvec * sizeof(m->table[0]));
	m->pending = s->pending;
	m->enabled = flags & PCI_MSIX_FLAGS_ENABLE;
	m->function_masked = flags & PCI_MSIX_FLAGS_MASKALL;
	m->route_stale = m->nvec == 64 ? ~0ULL : (1ULL << m->nvec) - 1;
	refresh(m);
	pthread_mutex_unlock(&m->lock);
}
