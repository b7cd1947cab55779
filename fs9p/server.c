/* fs9p_handle: checks a T-message's header against in_len and the
 * session's msize, runs its handler from a table indexed by type, and
 * writes the R-message header (or an Rlerror) into m->out. Runs on any
 * worker thread, several at once for one session; it keeps no state of
 * its own (handlers lock what they share: see fid.c, qid.c). */
#include <errno.h>

#include "internal.h"
#include "lib/bytes.h"
#include "proto.h"

typedef int (*op_fn)(struct req *r);

static const op_fn ops[256] = {
	[P9_TSTATFS] = op_statfs,
	[P9_TLOPEN] = op_lopen,
	[P9_TLCREATE] = op_lcreate,
	[P9_TSYMLINK] = op_symlink,
	[P9_TMKNOD] = op_mknod,
	[P9_TRENAME] = op_rename,
	[P9_TREADLINK] = op_readlink,
	[P9_TGETATTR] = op_getattr,
	[P9_TSETATTR] = op_setattr,
	[P9_TXATTRWALK] = op_xattrwalk,
	[P9_TXATTRCREATE] = op_xattrcreate,
	[P9_TREADDIR] = op_readdir,
	[P9_TFSYNC] = op_fsync,
	[P9_TLOCK] = op_lock,
	[P9_TGETLOCK] = op_getlock,
	[P9_TLINK] = op_link,
	[P9_TMKDIR] = op_mkdir,
	[P9_TRENAMEAT] = op_renameat,
	[P9_TUNLINKAT] = op_unlinkat,
	[P9_TVERSION] = op_version,
	[P9_TAUTH] = op_auth,
	[P9_TATTACH] = op_attach,
	[P9_TFLUSH] = op_flush,
	[P9_TWALK] = op_walk,
	[P9_TREAD] = op_read,
	[P9_TWRITE] = op_write,
	[P9_TCLUNK] = op_clunk,
	[P9_TREMOVE] = op_remove,
};

static size_t out_capacity(const struct fs9p_msg *m)
{
	size_t t = iov_total(m->out, m->nout);

	return t < m->out_len ? t : m->out_len;
}

/* Writes the reply header over the first 7 bytes; the reply's length. */
static size_t finish(struct req *r, uint8_t type)
{
	uint8_t h[FS9P_HDR_SIZE];

	put32(h, (uint32_t)r->out.pos);
	h[4] = type;
	put16(h + 5, r->tag);
	iov_copy_in(r->m->out, r->m->nout, 0, h, sizeof(h));
	return r->out.pos;
}

static size_t reply_error(struct req *r, int err)
{
	r->out.pos = FS9P_HDR_SIZE;
	r->out.overflow = false;
	p9_put32(&r->out, (uint32_t)err);
	return finish(r, P9_RLERROR);
}

/* Checks the header: 0 with r->in covering the message, or -errno. */
static int check_header(struct req *r)
{
	const struct fs9p_msg *m = r->m;
	uint32_t size;

	r->in = (struct p9_in){ m->in, m->nin, m->in_len, 0 };
	if (iov_total(m->in, m->nin) < m->in_len)
		r->in.len = iov_total(m->in, m->nin);
	if (p9_get32(&r->in, &size) || p9_get8(&r->in, &r->type) ||
	    p9_get16(&r->in, &r->tag))
		return -EINVAL;
	if (size < FS9P_HDR_SIZE || size > r->in.len)
		return -EINVAL; /* the size field lies */
	if (size > r->msize)
		return -EMSGSIZE;
	r->in.len = size;
	return 0;
}

size_t fs9p_handle(struct fs9p_session *s, const struct fs9p_msg *m)
{
	struct req r = { .s = s, .ex = s->ex, .m = m, .tag = P9_NOTAG };
	size_t cap = out_capacity(m);
	int err;

	r.msize = fs9p_session_msize(s);
	if (cap > r.msize)
		cap = r.msize;
	if (cap < FS9P_HDR_SIZE + 4)
		return 0;
	r.out = (struct p9_out){ m->out, m->nout, cap, FS9P_HDR_SIZE, false };
	err = check_header(&r);
	if (err)
		return reply_error(&r, -err);
	if (!ops[r.type] || (r.type & 1))
		return reply_error(&r, EOPNOTSUPP);
	err = ops[r.type](&r);
	if (!err && r.out.overflow)
		err = -ERANGE; /* a reply that does not fit in msize */
	if (err)
		return reply_error(&r, -err);
	return finish(&r, r.type + 1);
}

int fs9p_peek(const struct fs9p_msg *m, uint8_t *type, uint16_t *tag,
	      uint16_t *oldtag)
{
	struct p9_in in = { m->in, m->nin, m->in_len, 4 };
	uint8_t t;
	uint16_t tg, old;

	if (iov_total(m->in, m->nin) < m->in_len)
		in.len = iov_total(m->in, m->nin);
	if (p9_get8(&in, &t) || p9_get16(&in, &tg))
		return -EINVAL;
	if (t == FS9P_TFLUSH) {
		if (p9_get16(&in, &old))
			return -EINVAL;
		*oldtag = old;
	}
	*type = t;
	*tag = tg;
	return 0;
}

size_t fs9p_reply_flush(const struct fs9p_msg *m, uint16_t tag)
{
	uint8_t h[FS9P_HDR_SIZE];

	if (out_capacity(m) < FS9P_HDR_SIZE)
		return 0;
	put32(h, FS9P_HDR_SIZE);
	h[4] = FS9P_RFLUSH;
	put16(h + 5, tag);
	iov_copy_in(m->out, m->nout, 0, h, sizeof(h));
	return FS9P_HDR_SIZE;
}
