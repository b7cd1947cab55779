/* Called on the thread that owns the struct virtqueue (see virtqueue.h):
 * the vCPU thread configuring the queue under the device lock, or the
 * queue's worker on its own copy; no locks. Guest ring fields are read
 * and written with atomics because the driver changes them concurrently
 * on its vCPUs. */
#include "virtqueue.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <string.h>

#include "lib/checked.h"

/* Guest ring layout sizes (virtio 1.x 2.7.5, 2.7.6, 2.7.8). */
static uint64_t desc_bytes(uint16_t n)
{
	return 16ULL * n;
}
static uint64_t avail_bytes(uint16_t n)
{
	return 6 + 2ULL * n;
}
static uint64_t used_bytes(uint16_t n)
{
	return 6 + 8ULL * n;
}

int vq_enable(struct virtqueue *vq, const struct guest_mem *mem, uint16_t max)
{
	uint16_t n = vq->size;

	vq->ready = false;
	if (!n || n > max || n > VQ_MAX_SIZE || (n & (n - 1)) ||
	    vq->desc % 16 || vq->avail % 2 || vq->used % 4 ||
	    !mem_is_ram(mem, vq->desc, desc_bytes(n)) ||
	    !mem_is_ram(mem, vq->avail, avail_bytes(n)) ||
	    !mem_is_ram(mem, vq->used, used_bytes(n)))
		return -EINVAL;
	vq->mem = mem;
	vq->broken = false;
	vq->last_avail = vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->ready = true;
	return 0;
}

static int broken(struct virtqueue *vq)
{
	vq->broken = true;
	return -EINVAL;
}

/* The rings were checked to be RAM at enable time, and the queue's user
 * serves from its own copy of the layout; a ring outside RAM here would
 * still only break the queue, never dereference NULL. */
static int load16(struct virtqueue *vq, gpa_t gpa, uint16_t *v)
{
	uint16_t *p = mem_ptr(vq->mem, gpa, 2);

	if (!p)
		return broken(vq);
	*v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	return 0;
}

static int store16(struct virtqueue *vq, gpa_t gpa, uint16_t v)
{
	uint16_t *p = mem_ptr_for_write(vq->mem, gpa, 2);

	if (!p)
		return broken(vq);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	return 0;
}

/* Walking state of one chain: the budget counts the descriptors read, so
 * a loop cannot run forever: at most the queue size in the ring, at most
 * the table's entries in an indirect table. */
struct walk {
	struct vq_chain *c;
	unsigned budget;
	bool seen_in;
};

static int add_buffer(const struct virtqueue *vq, struct walk *w,
		      const struct vring_desc *d)
{
	struct vq_chain *c = w->c;
	bool in = d->flags & VRING_DESC_F_WRITE;
	void *p;

	if (!in && w->seen_in)
		return -EINVAL; /* readable after writable */
	if (!d->len)
		return 0;
	p = mem_ptr(vq->mem, d->addr, d->len);
	if (!p || c->n_out + c->n_in == VQ_MAX_SEGS)
		return -EINVAL;
	c->iov[c->n_out + c->n_in] = (struct iovec){ p, d->len };
	if (in) {
		w->seen_in = true;
		c->n_in++;
		c->in_bytes += d->len;
	} else {
		c->n_out++;
		c->out_bytes += d->len;
	}
	return 0;
}

static int read_desc(const struct virtqueue *vq, gpa_t table, uint32_t n,
		     uint16_t i, struct vring_desc *d)
{
	if (i >= n || mem_read(vq->mem, table + 16ULL * i, d, sizeof(*d)))
		return -EINVAL;
	return 0;
}

static int walk_indirect(const struct virtqueue *vq, struct walk *w,
			 const struct vring_desc *ind)
{
	uint32_t n = ind->len / 16;
	struct vring_desc d;
	uint16_t i = 0;

	/* Linux may put more segments in a table than the ring holds. */
	if (!vq->indirect || (ind->flags & VRING_DESC_F_NEXT) ||
	    ind->len % 16 || !n || n > VQ_MAX_INDIRECT ||
	    !mem_is_ram(vq->mem, ind->addr, ind->len))
		return -EINVAL;
	w->budget = n;
	for (;;) {
		if (!w->budget-- || read_desc(vq, ind->addr, n, i, &d) ||
		    (d.flags & VRING_DESC_F_INDIRECT) || add_buffer(vq, w, &d))
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static int walk_chain(const struct virtqueue *vq, struct walk *w, uint16_t head)
{
	struct vring_desc d;
	uint16_t i = head;

	for (;;) {
		if (!w->budget-- || read_desc(vq, vq->desc, vq->size, i, &d))
			return -EINVAL;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* An indirect table is the whole chain (2.7.5.3.1). */
			if (i != head || (d.flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			return walk_indirect(vq, w, &d);
		}
		if (add_buffer(vq, w, &d))
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	struct walk w = { .c = c, .budget = vq->size };
	uint16_t avail_idx, head;

	if (vq->broken || !vq->ready || !vq->size)
		return -EINVAL;
	if (load16(vq, vq->avail + 2, &avail_idx))
		return -EINVAL;
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		return broken(vq);
	if (load16(vq, vq->avail + 4 + 2ULL * (vq->last_avail % vq->size),
		   &head))
		return -EINVAL;
	if (head >= vq->size)
		return broken(vq);
	memset(c, 0, offsetof(struct vq_chain, iov));
	c->mem = vq->mem;
	c->head = head;
	if (walk_chain(vq, &w, head))
		return broken(vq);
	vq->last_avail++;
	return 1;
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem e = { .id = head, .len = written };
	gpa_t slot;

	if (vq->broken || !vq->ready || !vq->size)
		return -EINVAL;
	slot = vq->used + 4 + 8ULL * (vq->used_idx % vq->size);
	if (mem_write(vq->mem, slot, &e, sizeof(e)))
		return broken(vq);
	vq->used_idx++;
	return store16(vq, vq->used + 2, vq->used_idx);
}

bool vq_should_notify(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, event;
	bool valid = vq->signalled_valid;

	if (!vq->ready || vq->broken)
		return false;
	/* Nothing used since the last decision (or since the queue was
	 * enabled): nothing to tell. */
	if (valid ? old == vq->used_idx : !vq->used_idx)
		return false;
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	/* The driver's flags and used_event must be read after used->idx was
	 * published, or an interrupt could be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !load16(vq, vq->avail, &event) &&
		       !(event & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	if (load16(vq, vq->avail + 4 + 2ULL * vq->size, &event))
		return false;
	return vring_need_event(event, vq->used_idx, old);
}

bool vq_set_notification(struct virtqueue *vq, bool enable)
{
	uint16_t avail_idx;
	int r = 0;

	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx) {
		if (enable)
			r = store16(vq, vq->used + 4 + 8ULL * vq->size,
				    vq->last_avail);
	} else {
		r = store16(vq, vq->used, enable ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	if (r || !enable)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !load16(vq, vq->avail + 2, &avail_idx) &&
	       avail_idx != vq->last_avail;
}

bool vq_has_avail(struct virtqueue *vq)
{
	uint16_t avail_idx;

	return vq->ready && !vq->broken &&
	       !load16(vq, vq->avail + 2, &avail_idx) &&
	       avail_idx != vq->last_avail;
}

static int chain_copy(const struct guest_mem *mem, const struct iovec *iov,
		      unsigned n, uint64_t off, void *buf, uint64_t len,
		      bool to_chain)
{
	uint8_t *b = buf;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t take;
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		if (to_chain) {
			memcpy((uint8_t *)iov[i].iov_base + off, b, take);
			mem_mark_dirty_host(
				mem, (uint8_t *)iov[i].iov_base + off, take);
		} else
			memcpy(b, (uint8_t *)iov[i].iov_base + off, take);
		b += take;
		len -= take;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

int vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst,
		  uint64_t len)
{
	return chain_copy(c->mem, c->iov, c->n_out, off, dst, len, false);
}

int vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src,
		   uint64_t len)
{
	return chain_copy(c->mem, c->iov + c->n_out, c->n_in, off, (void *)src,
			  len, true);
}

void vq_mark_dirty(const struct guest_mem *mem, const struct iovec *iov,
		   unsigned n, uint64_t bytes)
{
	for (unsigned i = 0; i < n && bytes; i++) {
		uint64_t take = iov[i].iov_len < bytes ? iov[i].iov_len : bytes;
		mem_mark_dirty_host(mem, iov[i].iov_base, take);
		bytes -= take;
	}
}
