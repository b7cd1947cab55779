/* fs9p_session_restore (session_state.h): a saved session, hostile input,
 * parsed and checked record by record; each fid walked again from the
 * export root by resolve_step (confined: openat2 beneath, no symlinks),
 * opened again when it was, and inserted. Runs on the thread restoring
 * the VM before the session serves any request; the fids it makes are
 * under their own locks once inserted, like any other. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"
#include "session_format.h"
#include "session_state.h"

_Static_assert(SS_KIND_PATH == FID_PATH && SS_KIND_OPEN == FID_OPEN &&
		       SS_KIND_XATTR_READ == FID_XATTR_READ &&
		       SS_KIND_XATTR_WRITE == FID_XATTR_WRITE,
	       "saved kinds are enum fid_kind's");

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
};

/* Little-endian whatever the host; false when the buffer ends first. */
static bool get_le(struct rbuf *b, uint64_t *v, unsigned n)
{
	if (b->len - b->pos < n)
		return false;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v |= (uint64_t)b->p[b->pos + i] << (8 * i);
	b->pos += n;
	return true;
}

static bool get8(struct rbuf *b, uint8_t *v)
{
	uint64_t x;

	return get_le(b, &x, 1) && (*v = (uint8_t)x, true);
}
static bool get16(struct rbuf *b, uint16_t *v)
{
	uint64_t x;

	return get_le(b, &x, 2) && (*v = (uint16_t)x, true);
}
static bool get32(struct rbuf *b, uint32_t *v)
{
	uint64_t x;

	return get_le(b, &x, 4) && (*v = (uint32_t)x, true);
}
static bool get64(struct rbuf *b, uint64_t *v)
{
	return get_le(b, v, 8);
}

/* len bytes as a string without NUL into buf (cap > len). */
static bool get_name(struct rbuf *b, uint16_t len, char *buf, size_t cap)
{
	if (len >= cap || b->len - b->pos < len ||
	    memchr(b->p + b->pos, 0, len))
		return false;
	memcpy(buf, b->p + b->pos, len);
	buf[len] = 0;
	b->pos += len;
	return true;
}

/* One record as parsed. */
struct rec {
	uint32_t fid, uid, oflags;
	uint8_t kind, flags, ftype;
	uint64_t dirpos, dev, ino;
	char path[RELPATH_MAX];
	char xname[XATTR_NAME_MAX + 1];
	uint32_t xflags, xsize, xlen;
	const uint8_t *xval;
};

struct ctx {
	struct fs9p_session *s;
	struct fs9p_export *ex;
	bool same_fs; /* the saved root is this one: inodes compare */
	char *why;
	size_t why_len;
};

static int bad(struct ctx *c, const char *what, uint32_t fid)
{
	snprintf(c->why, c->why_len, "fid %u: %s", fid, what);
	return -EPROTO;
}

/* The path: ncomp single components, none "." or "..", joined by '/'. */
static int parse_path(struct ctx *c, struct rbuf *b, struct rec *r)
{
	char name[NAME_MAX + 1];
	size_t at = 0;
	uint16_t n, len;

	if (!get16(b, &n))
		return bad(c, "truncated", r->fid);
	r->path[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!get16(b, &len))
			return bad(c, "truncated", r->fid);
		if (!len || len > NAME_MAX ||
		    !get_name(b, len, name, sizeof(name)))
			return bad(c, "a bad or truncated name", r->fid);
		if (name_check_entry(name))
			return bad(c, "a name that is not one component",
				   r->fid);
		if (at + (at ? 1 : 0) + len >= sizeof(r->path))
			return bad(c, "a path too long", r->fid);
		if (at)
			r->path[at++] = '/';
		memcpy(r->path + at, name, len + 1);
		at += len;
	}
	return 0;
}

static int parse_xattr(struct ctx *c, struct rbuf *b, struct rec *r)
{
	uint16_t n;

	if (!get16(b, &n) || !get_name(b, n, r->xname, sizeof(r->xname)) ||
	    !get32(b, &r->xflags) || !get32(b, &r->xsize) ||
	    !get32(b, &r->xlen))
		return bad(c, "a bad or truncated xattr", r->fid);
	if (r->xsize > XATTR_MAX || r->xlen > r->xsize ||
	    b->len - b->pos < r->xlen)
		return bad(c, "a bad xattr size", r->fid);
	if (r->kind == SS_KIND_XATTR_READ
		    ? r->xname[0] || r->xflags || r->xlen != r->xsize
		    : !r->xname[0] ||
			      r->xflags & ~(uint32_t)(XATTR_CREATE |
						      XATTR_REPLACE) ||
			      (c->ex->security == FS9P_MAPPED &&
			       mapped_name_hidden(r->xname)))
		return bad(c, "a bad xattr", r->fid);
	r->xval = b->p + b->pos;
	b->pos += r->xlen;
	return 0;
}

static bool ftype_ok(uint8_t t)
{
	switch ((mode_t)t << 12) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK: return true;
	default: return false;
	}
}

/* The record's fields against each other and the export. */
static int check_rec(struct ctx *c, const struct rec *r)
{
	bool stale = r->flags & SS_STALE, open = r->kind == SS_KIND_OPEN;
	int acc = (int)r->oflags & O_ACCMODE;

	if (r->fid == P9_NOFID || r->kind > SS_KIND_XATTR_WRITE ||
	    r->flags & ~(SS_STALE | SS_NAMED) || (stale && r->flags & SS_NAMED))
		return bad(c, "a bad kind or flags", r->fid);
	if (stale ? r->ftype || r->dev || r->ino || r->path[0] || open
		  : !ftype_ok(r->ftype))
		return bad(c, "a bad file type", r->fid);
	if (r->flags & SS_NAMED && !r->path[0])
		return bad(c, "a name without a path", r->fid);
	if (!open)
		return r->oflags || r->dirpos ? bad(c,
						    "open state on a fid "
						    "not open",
						    r->fid)
					      : 0;
	if (r->oflags & ~(uint32_t)SS_OPEN_FLAGS || acc == O_ACCMODE ||
	    r->dirpos > INT64_MAX)
		return bad(c, "bad open flags", r->fid);
	if (((mode_t)r->ftype << 12 != S_IFREG &&
	     (mode_t)r->ftype << 12 != S_IFDIR) ||
	    ((mode_t)r->ftype << 12 == S_IFDIR && acc != O_RDONLY) ||
	    (c->ex->readonly && acc != O_RDONLY))
		return bad(c, "an open that is not allowed", r->fid);
	return 0;
}

static int parse_rec(struct ctx *c, struct rbuf *b, struct rec *r)
{
	uint8_t zero;
	int err;

	if (!get32(b, &r->fid) || !get8(b, &r->kind) || !get8(b, &r->flags) ||
	    !get8(b, &r->ftype) || !get8(b, &zero) || !get32(b, &r->uid) ||
	    !get32(b, &r->oflags) || !get64(b, &r->dirpos) ||
	    !get64(b, &r->dev) || !get64(b, &r->ino))
		return bad(c, "truncated", r->fid);
	if (zero)
		return bad(c, "a reserved byte set", r->fid);
	if ((err = parse_path(c, b, r)))
		return err;
	if (r->kind == SS_KIND_XATTR_READ || r->kind == SS_KIND_XATTR_WRITE)
		if ((err = parse_xattr(c, b, r)))
			return err;
	return check_rec(c, r);
}

/* Walks r->path from the root as Twalk would: *node (O_PATH) and
 * *parent (NULL for the root itself). 0 or the walk's -errno. */
static int walk_path(struct ctx *c, const struct rec *r,
		     struct fs9p_node **node, struct fs9p_node **parent)
{
	struct fs9p_node *cur = node_get(c->ex->root), *up = NULL, *n;
	char name[NAME_MAX + 1];
	int err = 0, fd;

	for (const char *p = r->path; *p && !err;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		memcpy(name, p, len);
		name[len] = 0;
		p += len + (slash ? 1 : 0);
		if ((err = resolve_step(c->ex, cur->fd, name, &fd)))
			break;
		if (!(n = node_new(fd, true))) {
			close(fd);
			err = -ENOMEM;
			break;
		}
		node_put(up);
		up = cur;
		cur = n;
	}
	if (err) {
		node_put(cur);
		node_put(up);
		return err;
	}
	*node = cur;
	*parent = up;
	return 0;
}

/* Whether node is the saved file: its type, and its inode when the
 * export is the saved one. 0 or -ESTALE. */
static int same_file(struct ctx *c, const struct rec *r,
		     const struct fs9p_node *n)
{
	struct stat st;

	if (fstat(n->fd, &st))
		return -errno;
	if ((st.st_mode & S_IFMT) != (mode_t)r->ftype << 12)
		return -ESTALE;
	if (c->same_fs &&
	    ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino))
		return -ESTALE;
	return 0;
}

/* An opened fid's file opened again (node becomes the open file). */
static int reopen(const struct rec *r, struct fs9p_fid *f)
{
	int fd = reopen_fd(f->node->fd, (int)r->oflags);
	struct fs9p_node *n;

	if (fd < 0)
		return fd;
	if (!(n = node_new(fd, false))) {
		close(fd);
		return -ENOMEM;
	}
	node_put(f->node);
	f->node = n;
	f->oflags = (int)r->oflags;
	/* The client sends its cookie with every Treaddir anyway; when the
	 * file system refuses this one, the next Treaddir seeks itself. */
	f->dirpos = 0;
	if (r->dirpos && lseek(fd, (off_t)r->dirpos, SEEK_SET) >= 0)
		f->dirpos = (off_t)r->dirpos;
	else
		lseek(fd, 0, SEEK_SET);
	return 0;
}

static int set_xattr(struct fs9p_fid *f, const struct rec *r)
{
	if (r->kind != SS_KIND_XATTR_READ && r->kind != SS_KIND_XATTR_WRITE)
		return 0;
	if (r->xname[0] && !(f->xname = strdup(r->xname)))
		return -ENOMEM;
	if (!(f->xbuf = calloc(1, r->xsize ? r->xsize : 1)))
		return -ENOMEM;
	memcpy(f->xbuf, r->xval, r->xlen);
	f->xsize = r->xsize;
	f->xlen = r->xlen;
	f->xflags = (int)r->xflags;
	return 0;
}

/* The fid's file: walked, checked, opened; or stale when gone and the fid
 * was not open. */
static int attach_file(struct ctx *c, const struct rec *r, struct fs9p_fid *f)
{
	struct fs9p_node *parent = NULL;
	int err;

	if (r->flags & SS_STALE) {
		f->stale = true;
		return 0;
	}
	err = walk_path(c, r, &f->node, &parent);
	if (!err && (err = same_file(c, r, f->node))) {
		node_put(f->node);
		node_put(parent);
		f->node = parent = NULL;
	}
	if (!err && r->flags & SS_NAMED) {
		const char *slash = strrchr(r->path, '/');

		f->parent = node_get(parent);
		if (!(f->name = strdup(slash ? slash + 1 : r->path)))
			err = -ENOMEM;
	}
	node_put(parent);
	if (!err && !(f->path = strdup(r->path)))
		err = -ENOMEM;
	if (!err && r->kind == SS_KIND_OPEN)
		err = reopen(r, f);
	if (err == -ENOMEM || !err)
		return err;
	if (r->kind == SS_KIND_OPEN) {
		snprintf(c->why, c->why_len,
			 "fid %u: the file open as /%s cannot be opened "
			 "again: %s",
			 r->fid, r->path,
			 err == -ESTALE ? "another file is there now"
					: strerror(-err));
		return err;
	}
	node_put(f->node);
	node_put(f->parent);
	free(f->name);
	free(f->path);
	f->node = f->parent = NULL;
	f->name = f->path = NULL;
	f->stale = true; /* gone since the save: ESTALE from now on */
	return 0;
}

static int restore_rec(struct ctx *c, const struct rec *r)
{
	struct fs9p_fid *f = fid_alloc(r->fid, (uid_t)r->uid);
	int err;

	if (!f)
		return -ENOMEM;
	f->kind = r->kind; /* SS_KIND_* are enum fid_kind's values */
	err = set_xattr(f, r);
	if (!err)
		err = attach_file(c, r, f);
	if (!err && (err = fid_insert(&c->s->fids, f)) == -EEXIST)
		err = bad(c, "a fid number saved twice", r->fid);
	fid_put(f);
	if (err == -ENOMEM)
		snprintf(c->why, c->why_len, "fid %u: out of memory", r->fid);
	return err;
}

static int parse_header(struct ctx *c, struct rbuf *b, uint32_t *msize,
			uint8_t *proto, uint32_t *nfids)
{
	uint32_t magic, version, zero32;
	uint8_t security, readonly, zero;
	uint64_t dev, ino;

	if (!get32(b, &magic) || !get32(b, &version) || !get32(b, msize) ||
	    !get8(b, proto) || !get8(b, &security) || !get8(b, &readonly) ||
	    !get8(b, &zero) || !get64(b, &dev) || !get64(b, &ino) ||
	    !get32(b, nfids) || !get32(b, &zero32)) {
		snprintf(c->why, c->why_len, "truncated header");
		return -EPROTO;
	}
	if (magic != FS9P_STATE_MAGIC || version != FS9P_STATE_VERSION) {
		snprintf(c->why, c->why_len,
			 "not a 9p session state of version %u",
			 FS9P_STATE_VERSION);
		return -EPROTO;
	}
	if (zero || zero32 || *proto > FS9P_PROTO_UNKNOWN || security > 1 ||
	    readonly > 1) {
		snprintf(c->why, c->why_len, "bad header fields");
		return -EPROTO;
	}
	if (security != (c->ex->security == FS9P_MAPPED) ||
	    readonly != c->ex->readonly) {
		snprintf(c->why, c->why_len,
			 "the export was %s%s; this one is %s%s",
			 security ? "mapped" : "passthrough",
			 readonly ? ", read-only" : "",
			 c->ex->security == FS9P_MAPPED ? "mapped"
							: "passthrough",
			 c->ex->readonly ? ", read-only" : "");
		return -EPROTO;
	}
	if (*msize < FS9P_MSIZE_MIN || *msize > c->s->max_msize) {
		snprintf(c->why, c->why_len,
			 "msize %u is not within this session's %u..%u", *msize,
			 FS9P_MSIZE_MIN, c->s->max_msize);
		return -EPROTO;
	}
	if (*nfids > (b->len - b->pos) / SS_RECORD_SIZE) {
		snprintf(c->why, c->why_len, "%u fids cannot fit", *nfids);
		return -EPROTO;
	}
	c->same_fs = dev == (uint64_t)c->ex->root_dev &&
		     ino == (uint64_t)c->ex->root_ino;
	return 0;
}

static int count_fid(struct fs9p_fid *f, void *opaque)
{
	(void)f, (void)opaque;
	return 1;
}

int fs9p_session_restore(struct fs9p_session *s, const uint8_t *buf, size_t len,
			 char *why, size_t why_len)
{
	struct ctx c = { s, s->ex, false, why, why_len };
	struct rbuf b = { buf, len, 0 };
	struct rec *r;
	uint32_t msize, nfids;
	uint8_t proto;
	int err;

	if (fid_table_each(&s->fids, count_fid, NULL)) {
		snprintf(why, why_len, "the session already has fids");
		return -EBUSY;
	}
	if ((err = parse_header(&c, &b, &msize, &proto, &nfids)))
		return err;
	if (!(r = malloc(sizeof(*r)))) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nfids && !err; i++) {
		memset(r, 0, sizeof(*r));
		if (!(err = parse_rec(&c, &b, r)))
			err = restore_rec(&c, r);
	}
	free(r);
	if (!err && b.pos != b.len) {
		snprintf(why, why_len, "%zu bytes after the last fid",
			 b.len - b.pos);
		err = -EPROTO;
	}
	if (err) {
		fid_clunk_all(&s->fids);
		return err;
	}
	atomic_store(&s->msize, msize);
	atomic_store(&s->proto, proto);
	return 0;
}
