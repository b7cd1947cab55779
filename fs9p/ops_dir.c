/* Treaddir: fills the reply with as many entries as fit in count (and the
 * msize). The directory's fd is the fid's open directory stream; offsets
 * are getdents64's d_off cookies, so a client may resume anywhere it was
 * told (the fd is repositioned with lseek when the asked offset is not
 * where it stands). Any worker thread; the fid's lock is held for the
 * whole request, since the stream position is the fid's state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct rd {
	struct req *r;
	int fd;
	bool root;   /* the fd is the export root: ".." is the root itself */
	size_t room; /* bytes left for entries */
	size_t used;
	off_t pos; /* cookie after the last entry emitted */
};

/* In the mapped model a plain host file may stand for the client's
 * symlink, device node, FIFO or socket (its type is in an xattr): the
 * entry says DT_UNKNOWN so that the client asks (find -type l, ls -F). */
static unsigned char entry_type(const struct fs9p_export *ex,
				unsigned char host_type)
{
	if (ex->security == FS9P_MAPPED && host_type == DT_REG)
		return DT_UNKNOWN;
	return host_type;
}

/* Encodes one entry; 1 when it does not fit, 0 when emitted or skipped. */
static int rd_entry(struct rd *d, const struct linux_dirent64 *e)
{
	size_t len = strlen(e->d_name);
	size_t sz = P9_QID_SIZE + 8 + 1 + 2 + len;
	const char *statname = e->d_name;
	struct p9_qid q;
	struct stat st;

	if (sz > d->room - d->used)
		return 1;
	if (d->root && !strcmp(e->d_name, ".."))
		statname = "."; /* never describe the root's host parent */
	if (fstatat(d->fd, statname, &st, AT_SYMLINK_NOFOLLOW) ||
	    qid_from_stat(&d->r->ex->qids, &st, &q)) {
		d->pos = e->d_off; /* vanished since getdents: skip it */
		return 0;
	}
	p9_put_qid(&d->r->out, &q);
	p9_put64(&d->r->out, (uint64_t)e->d_off);
	p9_put8(&d->r->out, entry_type(d->r->ex, e->d_type));
	p9_put_str(&d->r->out, e->d_name, len);
	d->used += sz;
	d->pos = e->d_off;
	return 0;
}

/* Reads entries until the reply is full or the directory ends. */
static int rd_fill(struct rd *d)
{
	char buf[8192] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = getdents64(d->fd, buf, sizeof(buf));

		if (n < 0)
			return d->used ? 0 : -errno;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			const struct linux_dirent64 *e = (void *)(buf + off);

			if (rd_entry(d, e)) {
				/* Full: the next readdir starts here. */
				if (lseek(d->fd, d->pos, SEEK_SET) < 0)
					return -errno;
				return 0;
			}
			off += e->d_reclen;
		}
	}
}

static int readdir_locked(struct req *r, struct fs9p_fid *f, uint64_t off,
			  uint32_t count)
{
	struct rd d = { .r = r, .pos = (off_t)off };
	size_t count_at = r->out.pos;
	uint8_t cnt[4];
	int err;

	if (f->stale)
		return -ESTALE;
	if (f->kind != FID_OPEN)
		return -EBADF;
	if (off > INT64_MAX)
		return -EINVAL;
	d.fd = f->node->fd;
	if ((off_t)off != f->dirpos && lseek(d.fd, (off_t)off, SEEK_SET) < 0)
		return -errno;
	f->dirpos = (off_t)off;
	if ((err = fd_is_root(r->ex, d.fd)) < 0)
		return err;
	d.root = err;
	d.room = r->out.cap - P9_READHDRSZ;
	if (count < d.room)
		d.room = count;
	p9_put32(&r->out, 0);
	err = rd_fill(&d);
	if (err)
		return err;
	f->dirpos = d.pos;
	memcpy(cnt, &(uint32_t){ (uint32_t)d.used }, 4);
	iov_copy_in(r->m->out, r->m->nout, count_at, cnt, 4);
	return 0;
}

int op_readdir(struct req *r)
{
	struct fs9p_fid *f;
	uint64_t off;
	uint32_t fid, count;
	int err;

	if ((err = p9_get32(&r->in, &fid)) || (err = p9_get64(&r->in, &off)) ||
	    (err = p9_get32(&r->in, &count)))
		return err;
	if (!(f = fid_get(&r->s->fids, fid)))
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	err = readdir_locked(r, f, off, count);
	pthread_mutex_unlock(&f->lock);
	fid_put(f);
	return err;
}
