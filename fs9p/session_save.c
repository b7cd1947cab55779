/* fs9p_session_save (session_state.h): the session's msize, protocol and
 * fid table into a byte buffer, each fid's path checked against its inode
 * first. Runs on the thread saving the VM while the session is quiesced;
 * each fid is read under its own lock, the table walked under the shard
 * locks. Only fstat, newfstatat, openat and close touch the host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "session_format.h"
#include "session_state.h"

struct sbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void put_bytes(struct sbuf *b, const void *v, size_t n)
{
	if (b->oom || !n)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap - b->len < n)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

/* Little-endian whatever the host. */
static void put_le(struct sbuf *b, uint64_t v, unsigned n)
{
	uint8_t x[8];

	for (unsigned i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	put_bytes(b, x, n);
}

static void put8(struct sbuf *b, uint8_t v)
{
	put_le(b, v, 1);
}
static void put16(struct sbuf *b, uint16_t v)
{
	put_le(b, v, 2);
}
static void put32(struct sbuf *b, uint32_t v)
{
	put_le(b, v, 4);
}
static void put64(struct sbuf *b, uint64_t v)
{
	put_le(b, v, 8);
}

/* One fid as read under its lock. */
struct saved {
	uint32_t id;
	enum fid_kind kind;
	bool stale, named, locked;
	uid_t uid;
	int oflags;
	off_t dirpos;
	struct fs9p_node *node; /* referenced; NULL when stale */
	char *path;		/* NULL when unknown */
	char *xname;
	uint8_t *xbuf;
	size_t xsize, xlen;
	int xflags;
};

static void saved_free(struct saved *v)
{
	node_put(v->node);
	free(v->path);
	free(v->xname);
	free(v->xbuf);
}

static int saved_read(struct fs9p_fid *f, struct saved *v)
{
	bool xattr = f->kind == FID_XATTR_READ || f->kind == FID_XATTR_WRITE;
	int err = 0;

	*v = (struct saved){ .id = f->id };
	pthread_mutex_lock(&f->lock);
	v->kind = f->kind;
	v->stale = f->stale;
	v->locked = f->kind == FID_OPEN && f->locked;
	v->named = f->parent && f->name;
	v->uid = f->uid;
	v->oflags = f->oflags;
	v->dirpos = f->dirpos;
	v->node = node_get(f->node);
	if (f->path && !(v->path = strdup(f->path)))
		err = -ENOMEM;
	if (xattr && f->xname && !(v->xname = strdup(f->xname)))
		err = -ENOMEM;
	if (xattr && f->xlen && !(v->xbuf = malloc(f->xlen)))
		err = -ENOMEM;
	if (v->xbuf)
		memcpy(v->xbuf, f->xbuf, f->xlen);
	v->xsize = f->xsize;
	v->xlen = f->xlen;
	v->xflags = f->xflags;
	pthread_mutex_unlock(&f->lock);
	return err;
}

/* Whether path leads, one checked component at a time from the root and
 * following no symlink, to the inode st describes. Plain openat of one
 * component with O_NOFOLLOW: no name here is "." or ".." or holds a '/',
 * so nothing can leave the export (and openat2 is not among the saving
 * thread's calls). */
static bool path_leads_to(struct fs9p_export *ex, const char *path,
			  const struct stat *st)
{
	char name[NAME_MAX + 1];
	int dirfd = ex->root->fd;
	struct stat at;
	bool ok = false;

	if (!path)
		return false;
	if (!path[0]) {
		ok = !fstat(dirfd, &at);
		goto out;
	}
	for (const char *p = path;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int fd;

		if (n > NAME_MAX)
			break;
		memcpy(name, p, n);
		name[n] = 0;
		if (name_check_entry(name))
			break;
		if (!slash) {
			ok = !fstatat(dirfd, name, &at, AT_SYMLINK_NOFOLLOW);
			break;
		}
		fd = openat(dirfd, name,
			    O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (dirfd != ex->root->fd)
			close(dirfd);
		dirfd = fd;
		if (fd < 0)
			return false;
		p = slash + 1;
	}
	if (dirfd != ex->root->fd)
		close(dirfd);
out:
	return ok && at.st_dev == st->st_dev && at.st_ino == st->st_ino;
}

static void put_path(struct sbuf *b, const char *path)
{
	uint16_t n = 0;

	for (const char *p = path; *p; p++)
		n += *p == '/';
	put16(b, path[0] ? n + 1 : 0);
	for (const char *p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		put16(b, (uint16_t)len);
		put_bytes(b, p, len);
		p += len + (slash ? 1 : 0);
	}
}

static void put_record(struct sbuf *b, const struct saved *v,
		       const struct stat *st)
{
	bool open = !v->stale && v->kind == FID_OPEN;

	put32(b, v->id);
	put8(b, (uint8_t)v->kind);
	put8(b, v->stale ? SS_STALE : v->named ? SS_NAMED : 0);
	put8(b, v->stale ? 0 : (uint8_t)((st->st_mode & S_IFMT) >> 12));
	put8(b, 0);
	put32(b, (uint32_t)v->uid);
	/* The truncation happened at the open; it is not done again. */
	put32(b, open ? (uint32_t)(v->oflags & ~O_TRUNC) : 0);
	put64(b, open ? (uint64_t)v->dirpos : 0);
	put64(b, v->stale ? 0 : (uint64_t)st->st_dev);
	put64(b, v->stale ? 0 : (uint64_t)st->st_ino);
	if (v->stale)
		put16(b, 0);
	else
		put_path(b, v->path);
	if (v->kind != FID_XATTR_READ && v->kind != FID_XATTR_WRITE)
		return;
	put16(b, v->xname ? (uint16_t)strlen(v->xname) : 0);
	if (v->xname)
		put_bytes(b, v->xname, strlen(v->xname));
	put32(b, (uint32_t)v->xflags);
	put32(b, (uint32_t)v->xsize);
	put32(b, (uint32_t)v->xlen);
	put_bytes(b, v->xbuf, v->xlen);
}

/* Checks one fid and appends its record. */
static int save_fid(struct fs9p_export *ex, struct fs9p_fid *f, struct sbuf *b,
		    char *why, size_t why_len)
{
	struct stat st = { 0 };
	struct saved v;
	int err = saved_read(f, &v);

	if (err) {
		snprintf(why, why_len, "fid %u: out of memory", v.id);
		goto out;
	}
	if (v.locked) {
		err = -EBUSY;
		snprintf(why, why_len,
			 "fid %u%s%s holds a record lock (Tlock), which "
			 "cannot be carried over",
			 v.id, v.path ? ": " : "", v.path ? v.path : "");
		goto out;
	}
	if (!v.stale && fstat(v.node->fd, &st)) {
		err = -errno;
		snprintf(why, why_len, "fid %u: %s", v.id, strerror(-err));
		goto out;
	}
	if (!v.stale && (!st.st_nlink || !path_leads_to(ex, v.path, &st))) {
		if (v.kind == FID_OPEN) {
			err = -ESTALE;
			snprintf(why, why_len,
				 st.st_nlink ? "fid %u: the file open as %s "
					       "is no longer there (renamed "
					       "on the host?)"
					     : "fid %u: the file open as %s "
					       "was deleted while open",
				 v.id, v.path ? v.path : "(a path too long)");
			goto out;
		}
		v.stale = true; /* a walked or xattr fid: found stale */
	}
	put_record(b, &v, &st);
out:
	saved_free(&v);
	return err;
}

struct fid_list {
	struct fs9p_fid **f;
	size_t n, cap;
};

static int collect(struct fs9p_fid *f, void *opaque)
{
	struct fid_list *l = opaque;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct fs9p_fid **p = realloc(l->f, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->f = p;
		l->cap = cap;
	}
	atomic_fetch_add(&f->refs, 1);
	l->f[l->n++] = f;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	uint32_t x = (*(struct fs9p_fid *const *)a)->id;
	uint32_t y = (*(struct fs9p_fid *const *)b)->id;

	return x < y ? -1 : x > y;
}

static void put_header(struct sbuf *b, struct fs9p_session *s, uint32_t nfids)
{
	put32(b, FS9P_STATE_MAGIC);
	put32(b, FS9P_STATE_VERSION);
	put32(b, atomic_load(&s->msize));
	put8(b, atomic_load(&s->proto));
	put8(b, s->ex->security == FS9P_MAPPED ? 1 : 0);
	put8(b, s->ex->readonly ? 1 : 0);
	put8(b, 0);
	put64(b, (uint64_t)s->ex->root_dev);
	put64(b, (uint64_t)s->ex->root_ino);
	put32(b, nfids);
	put32(b, 0);
}

int fs9p_session_save(struct fs9p_session *s, uint8_t **buf, size_t *len,
		      char *why, size_t why_len)
{
	struct fid_list l = { 0 };
	struct sbuf b = { 0 };
	int err = fid_table_each(&s->fids, collect, &l);

	if (err)
		snprintf(why, why_len, "out of memory");
	else if (l.n) /* no fid: l.f is NULL, which qsort must not get */
		qsort(l.f, l.n, sizeof(*l.f), by_id);
	if (!err)
		put_header(&b, s, (uint32_t)l.n);
	for (size_t i = 0; i < l.n && !err; i++)
		err = save_fid(s->ex, l.f[i], &b, why, why_len);
	for (size_t i = 0; i < l.n; i++)
		fid_put(l.f[i]);
	free(l.f);
	if (!err && b.oom) {
		err = -ENOMEM;
		snprintf(why, why_len, "out of memory");
	}
	if (err) {
		free(b.p);
		return err;
	}
	*buf = b.p;
	*len = b.len;
	return 0;
}
