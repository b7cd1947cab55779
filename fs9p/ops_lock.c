/* Tlock and Tgetlock: POSIX byte-range locks as open-file-description
 * locks (F_OFD_SETLK / F_OFD_GETLK) on the fid's open fd, so each opened
 * fid is one lock owner and a lock belongs to no server thread. A worker
 * never blocks: a conflicting request is answered BLOCKED and the Linux
 * client retries a blocking one (as QEMU answers). A fid that took a lock
 * is marked (fs9p_fid.locked, under its lock) so that a session's save
 * can refuse it. Any worker thread. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"
#include "proto.h"

struct p9_lock {
	uint32_t fid;
	uint8_t type;
	uint32_t flags;
	uint64_t start, length;
	uint32_t proc_id;
	char client_id[256];
};

static int lock_parse(struct req *r, struct p9_lock *l, bool has_flags)
{
	int err;

	if ((err = p9_get32(&r->in, &l->fid)) ||
	    (err = p9_get8(&r->in, &l->type)))
		return err;
	l->flags = 0;
	if (has_flags && (err = p9_get32(&r->in, &l->flags)))
		return err;
	if ((err = p9_get64(&r->in, &l->start)) ||
	    (err = p9_get64(&r->in, &l->length)) ||
	    (err = p9_get32(&r->in, &l->proc_id)) ||
	    (err = p9_get_str(&r->in, l->client_id, sizeof(l->client_id))))
		return err;
	if (l->start > INT64_MAX || l->length > INT64_MAX)
		return -EINVAL;
	return 0;
}

static int lock_flock(const struct p9_lock *l, struct flock *fl)
{
	static const short types[] = { F_RDLCK, F_WRLCK, F_UNLCK };

	if (l->type > P9_LOCK_TYPE_UNLCK)
		return -EINVAL;
	memset(fl, 0, sizeof(*fl));
	fl->l_type = types[l->type];
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)l->start;
	fl->l_len = (off_t)l->length; /* 0: to the end, in both */
	return 0;
}

/* The lock's fd, or -errno: only an opened fid can hold locks. */
static int lock_fd(struct req *r, uint32_t fid, struct fid_snap *sn)
{
	int err = fid_snap(&r->s->fids, fid, sn);

	if (err)
		return err;
	if (sn->kind != FID_OPEN) {
		fid_snap_release(sn);
		return -EBADF;
	}
	return 0;
}

int op_lock(struct req *r)
{
	struct p9_lock l;
	struct fid_snap sn;
	struct flock fl;
	uint8_t status = P9_LOCK_SUCCESS;
	int err;

	if ((err = lock_parse(r, &l, true)) || (err = lock_flock(&l, &fl)))
		return err;
	if ((err = lock_fd(r, l.fid, &sn)))
		return err;
	if (fcntl(sn.node->fd, F_OFD_SETLK, &fl)) {
		if (errno == EAGAIN || errno == EACCES)
			status = P9_LOCK_BLOCKED;
		else
			err = -errno;
	} else if (fl.l_type != F_UNLCK || (!l.start && !l.length)) {
		/* What a save must know (session_state.h): conservative, a
		 * partial unlock that happens to free everything keeps
		 * the mark until the whole file is unlocked or closed. */
		pthread_mutex_lock(&sn.fid->lock);
		sn.fid->locked = fl.l_type != F_UNLCK;
		pthread_mutex_unlock(&sn.fid->lock);
	}
	fid_snap_release(&sn);
	if (err)
		return err;
	p9_put8(&r->out, status);
	return 0;
}

int op_getlock(struct req *r)
{
	struct p9_lock l;
	struct fid_snap sn;
	struct flock fl;
	int err;

	if ((err = lock_parse(r, &l, false)) || (err = lock_flock(&l, &fl)))
		return err;
	if ((err = lock_fd(r, l.fid, &sn)))
		return err;
	if (fcntl(sn.node->fd, F_OFD_GETLK, &fl))
		err = -errno;
	fid_snap_release(&sn);
	if (err)
		return err;
	/* A conflicting OFD lock has no pid (-1): report the asker's. */
	p9_put8(&r->out, fl.l_type == F_RDLCK	? P9_LOCK_TYPE_RDLCK
			 : fl.l_type == F_WRLCK ? P9_LOCK_TYPE_WRLCK
						: P9_LOCK_TYPE_UNLCK);
	p9_put64(&r->out, (uint64_t)fl.l_start);
	p9_put64(&r->out, (uint64_t)fl.l_len);
	p9_put32(&r->out, fl.l_pid > 0 ? (uint32_t)fl.l_pid : l.proc_id);
	p9_put_str(&r->out, l.client_id, strlen(l.client_id));
	return 0;
}
