/* The test guest's 9P2000.L client; see p9.h. Runs on the boot CPU at
 * CPL3; all state is in the caller's struct p9.
 *
 * A request is one chain: the T-message (device-readable), Twrite's data
 * in a descriptor of its own, then the reply buffer (device-writable),
 * and for Tread/Treaddir the data buffer of its own after an 11-byte
 * reply header, the zero-copy layout Linux's virtio-9p client uses. */
#include "p9.h"

#define R_LERROR 7
#define T_LOPEN 12
#define T_LCREATE 14
#define T_GETATTR 24
#define T_READDIR 40
#define T_MKDIR 72
#define T_UNLINKAT 76
#define T_VERSION 100
#define T_ATTACH 104
#define T_WALK 110
#define T_READ 116
#define T_WRITE 118
#define T_CLUNK 120
#define NOTAG 0xffff
#define HDR 7
#define IO_HDR 11   /* size type tag count */
#define IO_SLACK 24 /* Twrite's header: the payload is msize minus this */
#define MAXWELEM 16
#define GETATTR_BASIC 0x7ffULL
#define F_MOUNT_TAG 0
#define QUEUE_SIZE 16

struct wr {
	uint8_t *p;
	uint32_t n, cap;
	bool over;
};

struct rd {
	const uint8_t *p;
	uint32_t n, len;
	bool short_;
};

static void put(struct wr *w, uint64_t v, unsigned bytes)
{
	if (w->n + bytes > w->cap) {
		w->over = true;
		return;
	}
	for (unsigned i = 0; i < bytes; i++)
		w->p[w->n++] = (uint8_t)(v >> 8 * i);
}

static void put_str(struct wr *w, const char *s)
{
	size_t len = strlen(s);

	put(w, len, 2);
	if (w->n + len > w->cap) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->n, s, len);
	w->n += (uint32_t)len;
}

static uint64_t get(struct rd *r, unsigned bytes)
{
	uint64_t v = 0;

	if (r->n + bytes > r->len) {
		r->short_ = true;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[r->n++] << 8 * i;
	return v;
}

static void get_qid(struct rd *r, struct p9_qid *q)
{
	struct p9_qid tmp;

	if (!q)
		q = &tmp;
	q->type = (uint8_t)get(r, 1);
	q->version = (uint32_t)get(r, 4);
	q->path = get(r, 8);
}

static struct wr begin(struct p9 *c, uint8_t type)
{
	struct wr w = { c->tx, 0, c->msize, false };

	put(&w, 0, 4);
	put(&w, type, 1);
	put(&w, type == T_VERSION ? NOTAG : c->tag, 2);
	return w;
}

static int proto(uint8_t type, const char *what, uint64_t a, uint64_t b)
{
	printf("guest: 9p: protocol: reply to T%u: %s (%lu, %lu)\n", type, what,
	       a, b);
	return P9_EPROTO_BAD;
}

/* Sends w's message (plus out/in data buffers) and waits for the reply;
 * checks the reply's size, type and tag and sets r to its body. 0,
 * -errno for an Rlerror, or P9_EPROTO_BAD. */
static int rpc(struct p9 *c, struct wr *w, const void *out, uint32_t out_len,
	       void *in, uint32_t in_len, struct rd *r)
{
	uint8_t type = c->tx[4];
	uint16_t tag = (uint16_t)(c->tx[5] | c->tx[6] << 8);
	uint32_t rx_cap = in ? IO_HDR : c->msize, len = 0, size, n = 0;
	struct vbuf bufs[4];
	struct vq *q = &c->dev.vqs[0];
	int head, got;

	if (w->over)
		return printf("guest: 9p: T%u does not fit msize\n", type),
		       P9_EPROTO_BAD;
	size = w->n + out_len;
	for (unsigned i = 0; i < 4; i++)
		c->tx[i] = (uint8_t)(size >> 8 * i);
	bufs[n++] = (struct vbuf){ c->tx, w->n, false };
	if (out)
		bufs[n++] = (struct vbuf){ (void *)out, out_len, false };
	bufs[n++] = (struct vbuf){ c->rx, rx_cap, true };
	if (in)
		bufs[n++] = (struct vbuf){ in, in_len, true };
	memset(c->rx, 0, HDR);
	if ((head = vq_add(q, bufs, n)) < 0)
		return printf("guest: 9p: ring full\n"), P9_EPROTO_BAD;
	vq_kick(&c->dev, q);
	got = vq_wait(&c->dev, q, &len, arg_u64("timeout_ms", 30000));
	if (type != T_VERSION && ++c->tag == NOTAG)
		c->tag = 0;
	c->requests++;
	if (got < 0)
		return printf("guest: 9p: no reply to T%u\n", type),
		       P9_EPROTO_BAD;
	if (got != head)
		return proto(type, "used id is not the request", (uint64_t)got,
			     (uint64_t)head);
	size = c->rx[0] | c->rx[1] << 8 | c->rx[2] << 16 |
	       (uint32_t)c->rx[3] << 24;
	if (len < HDR || size != len || len > rx_cap + (in ? in_len : 0))
		return proto(type, "used length vs size field", len, size);
	if ((uint16_t)(c->rx[5] | c->rx[6] << 8) != tag)
		return proto(type, "tag", c->rx[5] | c->rx[6] << 8, tag);
	*r = (struct rd){ c->rx, HDR, size < rx_cap ? size : rx_cap, false };
	if (c->rx[4] == R_LERROR) {
		uint32_t e = (uint32_t)get(r, 4);
		if (r->short_ || r->n != r->len || !e || size != IO_HDR)
			return proto(type, "malformed Rlerror", size, e);
		return -(int)e;
	}
	if (c->rx[4] != type + 1)
		return proto(type, "reply type", c->rx[4], type + 1u);
	return 0;
}

/* The body must have been read exactly. */
static int done(uint8_t type, const struct rd *r)
{
	if (r->short_)
		return proto(type, "body too short", r->len, r->n);
	if (r->n != r->len)
		return proto(type, "trailing bytes", r->len, r->n);
	return 0;
}

static int read_tag(struct p9 *c)
{
	uint32_t len = vdev_config8(&c->dev, 0) | vdev_config8(&c->dev, 1) << 8;

	if (!len || len > P9_TAG_MAX) {
		printf("guest: 9p: mount tag length %u\n", len);
		return -1;
	}
	for (uint32_t i = 0; i < len; i++)
		c->mount_tag[i] = (char)vdev_config8(&c->dev, 2 + i);
	c->mount_tag[len] = 0;
	return 0;
}

int p9_open(struct p9 *c)
{
	char t[16], spec[64];
	bool pci = !arg("transport", t, sizeof(t)) || !strncmp(t, "pci", 4);
	int f;

	memset(c, 0, sizeof(*c));
	if (pci ? vdev_find_pci(&c->dev, arg_u64("ecam", 0), VIRTIO_ID_9P)
		: !arg("virtio_mmio.device", spec, sizeof(spec)) ||
			    vdev_find_mmio(&c->dev, spec, VIRTIO_ID_9P))
		return -1;
	f = vdev_negotiate(&c->dev, 1ULL << F_MOUNT_TAG |
					    1ULL << VIRTIO_F_INDIRECT_DESC |
					    1ULL << VIRTIO_F_EVENT_IDX);
	if (f < 0)
		return -1;
	if (!(f & 1 << F_MOUNT_TAG)) {
		printf("guest: 9p: device does not offer MOUNT_TAG\n");
		return -1;
	}
	if (read_tag(c) || vdev_setup_queue(&c->dev, 0, QUEUE_SIZE, false, 0)) {
		printf("guest: 9p: queue setup failed\n");
		return -1;
	}
	vdev_driver_ok(&c->dev);
	return 0;
}

int p9_version(struct p9 *c, uint32_t msize)
{
	struct wr w;
	struct rd r;
	uint32_t got, vlen;
	int e;

	if (!c->tx) {
		c->tx = page_alloc(msize);
		c->rx = page_alloc(msize);
		if (!c->tx || !c->rx)
			return printf("guest: 9p: no memory\n"), -1;
	}
	c->msize = msize;
	w = begin(c, T_VERSION);
	put(&w, msize, 4);
	put_str(&w, "9P2000.L");
	if ((e = rpc(c, &w, NULL, 0, NULL, 0, &r)))
		return e;
	got = (uint32_t)get(&r, 4);
	vlen = (uint32_t)get(&r, 2);
	if (r.short_ || vlen != 8 || r.n + vlen != r.len ||
	    memcmp(r.p + r.n, "9P2000.L", 8))
		return proto(T_VERSION, "version string", vlen, r.len);
	if (got > msize || got < 4096)
		return proto(T_VERSION, "msize", got, msize);
	c->msize = got;
	c->iosize = got - IO_SLACK;
	return 0;
}

int p9_attach(struct p9 *c, uint32_t fid, const char *uname, uint32_t uid,
	      struct p9_qid *qid)
{
	struct wr w = begin(c, T_ATTACH);
	struct rd r;
	int e;

	put(&w, fid, 4);
	put(&w, P9_NOFID, 4);
	put_str(&w, uname);
	put_str(&w, "");
	put(&w, uid, 4);
	if ((e = rpc(c, &w, NULL, 0, NULL, 0, &r)))
		return e;
	get_qid(&r, qid);
	return done(T_ATTACH, &r);
}

int p9_walk(struct p9 *c, uint32_t fid, uint32_t newfid, unsigned n,
	    const char *const *names)
{
	struct wr w = begin(c, T_WALK);
	struct rd r;
	unsigned nq;
	int e;

	if (n > MAXWELEM)
		return P9_EPROTO_BAD;
	put(&w, fid, 4);
	put(&w, newfid, 4);
	put(&w, n, 2);
	for (unsigned i = 0; i < n; i++)
		put_str(&w, names[i]);
	if ((e = rpc(c, &w, NULL, 0, NULL, 0, &r)))
		return e;
	nq = (unsigned)get(&r, 2);
	if (nq > n || (n && !nq))
		return proto(T_WALK, "nwqid", nq, n);
	for (unsigned i = 0; i < nq; i++)
		get_qid(&r, NULL);
	return (e = done(T_WALK, &r)) ? e : (int)nq;
}

int p9_walk1(struct p9 *c, uint32_t fid, uint32_t newfid, const char *name)
{
	int e = p9_walk(c, fid, newfid, 1, &name);

	return e == 1 ? 0 : e < 0 ? e : P9_EPROTO_BAD;
}

/* Rlopen and Rlcreate: qid[13] iounit[4]. */
static int open_reply(struct p9 *c, struct wr *w, struct p9_qid *qid)
{
	uint8_t type = c->tx[4];
	struct rd r;
	int e;

	if ((e = rpc(c, w, NULL, 0, NULL, 0, &r)))
		return e;
	get_qid(&r, qid);
	get(&r, 4);
	return done(type, &r);
}

int p9_lcreate(struct p9 *c, uint32_t fid, const char *name, uint32_t flags,
	       uint32_t mode, struct p9_qid *qid)
{
	struct wr w = begin(c, T_LCREATE);

	put(&w, fid, 4);
	put_str(&w, name);
	put(&w, flags, 4);
	put(&w, mode, 4);
	put(&w, 0, 4); /* gid */
	return open_reply(c, &w, qid);
}

int p9_lopen(struct p9 *c, uint32_t fid, uint32_t flags, struct p9_qid *qid)
{
	struct wr w = begin(c, T_LOPEN);

	put(&w, fid, 4);
	put(&w, flags, 4);
	return open_reply(c, &w, qid);
}

/* Tread and Treaddir: fid[4] offset[8] count[4], reply count[4] data. */
static int64_t read_like(struct p9 *c, uint8_t type, uint32_t fid, uint64_t off,
			 void *buf, uint32_t count)
{
	struct wr w = begin(c, type);
	struct rd r;
	uint32_t got;
	int e;

	if (count > c->iosize)
		return P9_EPROTO_BAD;
	put(&w, fid, 4);
	put(&w, off, 8);
	put(&w, count, 4);
	if ((e = rpc(c, &w, NULL, 0, buf, count, &r)))
		return e;
	got = (uint32_t)get(&r, 4);
	if (r.short_ || got > count || r.len != IO_HDR ||
	    (uint32_t)(c->rx[0] | c->rx[1] << 8 | c->rx[2] << 16 |
		       (uint32_t)c->rx[3] << 24) != IO_HDR + got)
		return proto(type, "count vs size", got, count);
	return got;
}

int64_t p9_read(struct p9 *c, uint32_t fid, uint64_t off, void *buf,
		uint32_t count)
{
	return read_like(c, T_READ, fid, off, buf, count);
}

int64_t p9_readdir(struct p9 *c, uint32_t fid, uint64_t off, void *buf,
		   uint32_t count)
{
	return read_like(c, T_READDIR, fid, off, buf, count);
}

int64_t p9_write(struct p9 *c, uint32_t fid, uint64_t off, const void *buf,
		 uint32_t count)
{
	struct wr w = begin(c, T_WRITE);
	struct rd r;
	uint32_t got;
	int e;

	if (count > c->iosize)
		return P9_EPROTO_BAD;
	put(&w, fid, 4);
	put(&w, off, 8);
	put(&w, count, 4);
	if ((e = rpc(c, &w, buf, count, NULL, 0, &r)))
		return e;
	got = (uint32_t)get(&r, 4);
	if ((e = done(T_WRITE, &r)))
		return e;
	if (got > count)
		return proto(T_WRITE, "wrote more than sent", got, count);
	return got;
}

int p9_getattr(struct p9 *c, uint32_t fid, struct p9_attr *a)
{
	struct wr w = begin(c, T_GETATTR);
	struct rd r;
	int e;

	put(&w, fid, 4);
	put(&w, GETATTR_BASIC, 8);
	if ((e = rpc(c, &w, NULL, 0, NULL, 0, &r)))
		return e;
	a->valid = get(&r, 8);
	get_qid(&r, &a->qid);
	a->mode = (uint32_t)get(&r, 4);
	a->uid = (uint32_t)get(&r, 4);
	a->gid = (uint32_t)get(&r, 4);
	a->nlink = get(&r, 8);
	get(&r, 8); /* rdev */
	a->size = get(&r, 8);
	for (unsigned i = 0; i < 12; i++) /* blksize .. data_version */
		get(&r, 8);
	if ((e = done(T_GETATTR, &r)))
		return e;
	if ((a->valid & GETATTR_BASIC) != GETATTR_BASIC)
		return proto(T_GETATTR, "basic attributes not valid", a->valid,
			     GETATTR_BASIC);
	return 0;
}

int p9_mkdir(struct p9 *c, uint32_t dfid, const char *name, uint32_t mode,
	     struct p9_qid *qid)
{
	struct wr w = begin(c, T_MKDIR);
	struct rd r;
	int e;

	put(&w, dfid, 4);
	put_str(&w, name);
	put(&w, mode, 4);
	put(&w, 0, 4); /* gid */
	if ((e = rpc(c, &w, NULL, 0, NULL, 0, &r)))
		return e;
	get_qid(&r, qid);
	return done(T_MKDIR, &r);
}

/* Replies with an empty body: Runlinkat, Rclunk. */
static int empty_reply(struct p9 *c, struct wr *w)
{
	uint8_t type = c->tx[4];
	struct rd r;
	int e;

	if ((e = rpc(c, w, NULL, 0, NULL, 0, &r)))
		return e;
	return done(type, &r);
}

int p9_unlinkat(struct p9 *c, uint32_t dfid, const char *name, uint32_t flags)
{
	struct wr w = begin(c, T_UNLINKAT);

	put(&w, dfid, 4);
	put_str(&w, name);
	put(&w, flags, 4);
	return empty_reply(c, &w);
}

int p9_clunk(struct p9 *c, uint32_t fid)
{
	struct wr w = begin(c, T_CLUNK);

	put(&w, fid, 4);
	return empty_reply(c, &w);
}

int p9_dirent(const uint8_t *buf, uint32_t len, uint32_t *pos,
	      uint64_t *next_off, char *name, size_t name_size)
{
	struct rd r = { buf, *pos, len, false };
	uint32_t nlen;

	if (*pos == len)
		return 0;
	get_qid(&r, NULL);
	*next_off = get(&r, 8);
	get(&r, 1);
	nlen = (uint32_t)get(&r, 2);
	if (r.short_ || r.n + nlen > len || !nlen || nlen >= name_size) {
		printf("guest: 9p: protocol: malformed dirent at %u of %u\n",
		       *pos, len);
		return P9_EPROTO_BAD;
	}
	memcpy(name, buf + r.n, nlen);
	name[nlen] = 0;
	*pos = r.n + nlen;
	return 1;
}

const char *p9_strerror(int err, char *buf, size_t size)
{
	if (err == P9_EPROTO_BAD)
		snprintf(buf, size, "protocol violation");
	else if (err < 0)
		snprintf(buf, size, "Rlerror errno %d", -err);
	else
		snprintf(buf, size, "status %d", err);
	return buf;
}
