/* Txattrwalk and Txattrcreate, and the xattr fids' side of Tread, Twrite
 * and Tclunk. Txattrwalk reads one value (or the name list) into a new fid
 * that Tread then reads; Txattrcreate turns a fid into a buffer of the
 * announced size that Twrite fills and Tclunk stores (or, for size 0 with
 * XATTR_REPLACE, the Linux client's removexattr, removes). In the mapped
 * model user.virtfs.* is the server's: hidden from lists, unreadable and
 * unsettable. Any worker thread; an xattr fid's buffer is under its lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "internal.h"
#include "proto.h"

/* Drops user.virtfs.* names from a list; its new length. */
static size_t list_filter(char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t l = strnlen(list + in, len - in) + 1;

		if (!mapped_name_hidden(list + in)) {
			memmove(list + out, list + in, l);
			out += l;
		}
		in += l;
	}
	return out;
}

/* The value (or list, name empty) into a malloc'd buffer. */
static ssize_t xattr_load(struct fs9p_export *ex, const struct fs9p_node *n,
			  const char *name, char **buf)
{
	bool list = !name[0];
	ssize_t len;

	if (!list && ex->security == FS9P_MAPPED && mapped_name_hidden(name))
		return -ENODATA;
	for (int tries = 0; tries < 4; tries++) {
		len = list ? fdx_list(n, NULL, 0) : fdx_get(n, name, NULL, 0);
		if (len < 0)
			return len;
		if (!(*buf = malloc(len ? (size_t)len : 1)))
			return -ENOMEM;
		len = list ? fdx_list(n, *buf, (size_t)len)
			   : fdx_get(n, name, *buf, (size_t)len);
		if (len >= 0)
			break;
		free(*buf);
		*buf = NULL;
		if (len != -ERANGE)
			return len;
	}
	if (len < 0)
		return len;
	if (list && ex->security == FS9P_MAPPED)
		len = (ssize_t)list_filter(*buf, (size_t)len);
	return len;
}

static int xattrwalk_commit(struct req *r, struct fid_snap *sn, uint32_t newfid,
			    char *buf, size_t len)
{
	struct fs9p_fid *f = fid_alloc(newfid, sn->uid);
	int err;

	if (!f) {
		free(buf);
		return -ENOMEM;
	}
	f->kind = FID_XATTR_READ;
	f->node = node_get(sn->node);
	f->path = fid_path_dup(sn->fid);
	f->xbuf = buf;
	f->xlen = f->xsize = len;
	err = fid_insert(&r->s->fids, f);
	fid_put(f);
	return err == -EEXIST ? -EINVAL : err;
}

int op_xattrwalk(struct req *r)
{
	char name[XATTR_NAME_MAX + 1];
	uint32_t fid, newfid;
	struct fid_snap sn;
	char *buf = NULL;
	ssize_t len;
	int err;

	if ((err = p9_get32(&r->in, &fid)) ||
	    (err = p9_get32(&r->in, &newfid)) ||
	    (err = p9_get_str(&r->in, name, sizeof(name))))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	if (sn.kind != FID_PATH && sn.kind != FID_OPEN)
		len = -EINVAL;
	else
		len = xattr_load(r->ex, sn.node, name, &buf);
	if (len >= 0)
		err = xattrwalk_commit(r, &sn, newfid, buf, (size_t)len);
	fid_snap_release(&sn);
	if (len < 0)
		return (int)len;
	if (!err)
		p9_put64(&r->out, (uint64_t)len);
	return err;
}

static int xattrcreate_check(struct req *r, const char *name, uint64_t size,
			     uint32_t flags)
{
	if (r->ex->readonly)
		return -EROFS;
	if (!name[0] || flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (r->ex->security == FS9P_MAPPED && mapped_name_hidden(name))
		return -EACCES;
	if (size > XATTR_MAX)
		return -E2BIG;
	return 0;
}

int op_xattrcreate(struct req *r)
{
	char name[XATTR_NAME_MAX + 1];
	uint32_t fid, flags;
	struct fs9p_fid *f;
	uint64_t size;
	char *xname, *xbuf;
	int err;

	if ((err = p9_get32(&r->in, &fid)) ||
	    (err = p9_get_str(&r->in, name, sizeof(name))) ||
	    (err = p9_get64(&r->in, &size)) || (err = p9_get32(&r->in, &flags)))
		return err;
	if ((err = xattrcreate_check(r, name, size, flags)))
		return err;
	if (!(f = fid_get(&r->s->fids, fid)))
		return -EBADF;
	xname = strdup(name);
	xbuf = calloc(1, size ? size : 1);
	pthread_mutex_lock(&f->lock);
	if (!xname || !xbuf) {
		err = -ENOMEM;
	} else if (f->stale) {
		err = -ESTALE;
	} else if (f->kind != FID_PATH && f->kind != FID_OPEN) {
		err = -EINVAL;
	} else {
		f->kind = FID_XATTR_WRITE;
		f->xname = xname;
		f->xbuf = xbuf;
		f->xsize = size;
		f->xlen = 0;
		f->xflags = (int)flags;
		xname = xbuf = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	free(xname);
	free(xbuf);
	fid_put(f);
	return err;
}

int xattr_fid_read(struct req *r, struct fs9p_fid *f, uint64_t off,
		   uint32_t count)
{
	size_t room = r->out.cap - P9_READHDRSZ, n = 0;

	pthread_mutex_lock(&f->lock);
	if (off < f->xlen)
		n = f->xlen - off;
	if (n > count)
		n = count;
	if (n > room)
		n = room;
	p9_put32(&r->out, (uint32_t)n);
	/* off may lie past the value (n is then 0): never form that pointer. */
	p9_put_bytes(&r->out, n ? f->xbuf + off : f->xbuf, n);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int xattr_fid_write(struct req *r, struct fs9p_fid *f, uint64_t off,
		    uint32_t count)
{
	int err = 0;

	pthread_mutex_lock(&f->lock);
	if (off > f->xsize || count > f->xsize - off)
		err = -ENOSPC; /* more than Txattrcreate announced */
	else if (!iov_copy_out(r->m->in, r->m->nin, P9_WRITEHDRSZ,
			       f->xbuf + off, count))
		err = -EINVAL;
	else if (off + count > f->xlen)
		f->xlen = off + count;
	pthread_mutex_unlock(&f->lock);
	if (!err)
		p9_put32(&r->out, count);
	return err;
}

/* Under f's lock, at Tclunk. */
int xattr_fid_commit(struct fs9p_export *ex, struct fs9p_fid *f)
{
	if (f->xlen != f->xsize)
		return -EINVAL; /* fewer bytes written than announced */
	if (!f->xsize && f->xflags == XATTR_REPLACE)
		return fdx_remove(f->node, f->xname);
	(void)ex;
	return fdx_set(f->node, f->xname, f->xbuf, f->xsize, f->xflags);
}
