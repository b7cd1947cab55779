/* Session-level messages: Tversion, Tauth, Tattach, Tflush, Tclunk. Any
 * worker thread; the fid table locks itself (fid.c). Tversion resets the
 * session; the client sends it before anything else, when no other
 * request is in flight. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto.h"

int op_version(struct req *r)
{
	uint32_t msize;
	char version[32];
	int err;

	if ((err = p9_get32(&r->in, &msize)))
		return err;
	err = p9_get_str(&r->in, version, sizeof(version));
	if (err && err != -ENAMETOOLONG)
		return err;
	if (msize < FS9P_MSIZE_MIN)
		return -EINVAL; /* the Linux client needs at least 4096 */
	if (msize > r->s->max_msize)
		msize = r->s->max_msize;
	fid_clunk_all(&r->s->fids);
	atomic_store(&r->s->msize, msize);
	p9_put32(&r->out, msize);
	if (err || strcmp(version, "9P2000.L")) {
		atomic_store(&r->s->proto, FS9P_PROTO_UNKNOWN);
		p9_put_str(&r->out, "unknown", 7);
		return 0;
	}
	atomic_store(&r->s->proto, FS9P_PROTO_9P2000L);
	p9_put_str(&r->out, "9P2000.L", 8);
	return 0;
}

/* No authentication: the Linux client attaches with afid NOFID when Tauth
 * fails. */
int op_auth(struct req *r)
{
	uint32_t afid, uid;
	int err;

	if ((err = p9_get32(&r->in, &afid)) || (err = p9_skip_str(&r->in)) ||
	    (err = p9_skip_str(&r->in)) || (err = p9_get32(&r->in, &uid)))
		return err;
	return -EOPNOTSUPP;
}

int op_attach(struct req *r)
{
	uint32_t fid, afid, uid;
	struct fs9p_fid *f;
	struct p9_qid q;
	int err;

	if ((err = p9_get32(&r->in, &fid)) || (err = p9_get32(&r->in, &afid)) ||
	    (err = p9_skip_str(&r->in)) || (err = p9_skip_str(&r->in)) ||
	    (err = p9_get32(&r->in, &uid)))
		return err;
	if (afid != P9_NOFID)
		return -EINVAL;
	if (fid == P9_NOFID)
		return -EINVAL;
	if ((err = attr_qid(r->ex, r->ex->root, &q)))
		return err;
	if (!(f = fid_alloc(fid, (uid_t)uid)))
		return -ENOMEM;
	f->node = node_get(r->ex->root);
	f->path = strdup(""); /* NULL (unknown) when memory is short */
	err = fid_insert(&r->s->fids, f);
	fid_put(f);
	if (err)
		return err == -EEXIST ? -EINVAL : err;
	p9_put_qid(&r->out, &q);
	return 0;
}

/* The transport normally answers Tflush itself (fs9p.h). */
int op_flush(struct req *r)
{
	uint16_t oldtag;

	return p9_get16(&r->in, &oldtag);
}

int op_clunk(struct req *r)
{
	struct fs9p_fid *f;
	uint32_t fid;
	int err;

	if ((err = p9_get32(&r->in, &fid)))
		return err;
	if (!(f = fid_remove(&r->s->fids, fid)))
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->kind == FID_XATTR_WRITE)
		err = f->stale ? -ESTALE : xattr_fid_commit(r->ex, f);
	pthread_mutex_unlock(&f->lock);
	fid_put(f);
	return err;
}
