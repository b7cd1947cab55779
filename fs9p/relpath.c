/* The path of each fid from the export root, kept so that a session can
 * be saved and its fids walked again elsewhere (session_state.h): set by
 * Tattach (""), Twalk, Tlcreate and Txattrwalk, moved by Trename and
 * Trenameat for every fid at or beneath the renamed entry. The paths are
 * only bookkeeping: no handler resolves one (names are always resolved
 * one component at a time under a fid's fd, resolve.c), and a save checks
 * each against its fid's inode, since the host may rename behind the
 * server's back. Any worker thread; a fid's path is under its lock, the
 * table walk under the shard locks (shard, then fid: the order fid.c's
 * callers never invert). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static char *relpath_make(const char *a, size_t alen, const char *b,
			  size_t blen)
{
	size_t len = alen + (alen && blen ? 1 : 0) + blen;
	char *p;

	if (len >= RELPATH_MAX || !(p = malloc(len + 1)))
		return NULL;
	memcpy(p, a, alen);
	if (alen && blen)
		p[alen++] = '/';
	memcpy(p + alen, b, blen);
	p[len] = 0;
	return p;
}

char *relpath_join(const char *dir, const char *name)
{
	if (!dir)
		return NULL;
	return relpath_make(dir, strlen(dir), name, strlen(name));
}

char *relpath_walk(const char *from, const char (*names)[NAME_MAX + 1],
		   unsigned n)
{
	char *p = from ? strdup(from) : NULL;

	for (unsigned i = 0; i < n && p; i++) {
		char *next, *slash;

		if (!strcmp(names[i], "."))
			continue;
		if (!strcmp(names[i], "..")) {
			/* ".." at the root is the root (resolve_step). */
			slash = strrchr(p, '/');
			*(slash ? slash : p) = 0;
			continue;
		}
		next = relpath_join(p, names[i]);
		free(p);
		p = next;
	}
	return p;
}

char *fid_path_dup(struct fs9p_fid *f)
{
	char *p;

	pthread_mutex_lock(&f->lock);
	p = f->path ? strdup(f->path) : NULL;
	pthread_mutex_unlock(&f->lock);
	return p;
}

void fid_path_set(struct fs9p_fid *f, char *path)
{
	free(f->path);
	f->path = path;
}

struct rename_ctx {
	const char *from, *to;
	size_t flen;
};

static int rename_one(struct fs9p_fid *f, void *opaque)
{
	const struct rename_ctx *c = opaque;
	const char *p;

	pthread_mutex_lock(&f->lock);
	p = f->path;
	if (p && !strncmp(p, c->from, c->flen) &&
	    (p[c->flen] == 0 || p[c->flen] == '/')) {
		const char *rest = p + c->flen + (p[c->flen] ? 1 : 0);
		char *q = c->to ? relpath_make(c->to, strlen(c->to), rest,
					       strlen(rest))
				: NULL;

		fid_path_set(f, q);
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void fid_table_rename(struct fid_table *t, const char *from, const char *to)
{
	struct rename_ctx c = { from, to, from ? strlen(from) : 0 };

	/* The root ("") is never renamed: a client cannot name it. */
	if (from && from[0])
		fid_table_each(t, rename_one, &c);
}
