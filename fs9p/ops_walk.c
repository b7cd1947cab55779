/* Twalk: up to 16 single-component names, each resolved beneath the
 * export root by resolve_step (confinement is there). A walk of zero
 * names clones the fid; a walk failing at step i > 0 returns the i qids so
 * far and creates no newfid; failing at the first step is an Rlerror.
 * Any worker thread; the source fid is read through a snapshot, newfid is
 * inserted (or fid updated under its lock) only after the whole walk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

struct walk {
	uint16_t n;
	char names[P9_MAXWELEM][NAME_MAX + 1];
	struct p9_qid qids[P9_MAXWELEM];
	struct fs9p_node *node, *parent; /* where the walk is */
	const char *name;		 /* node's name under parent */
};

static int walk_parse(struct req *r, uint32_t *fid, uint32_t *newfid,
		      struct walk *w)
{
	int err;

	if ((err = p9_get32(&r->in, fid)) || (err = p9_get32(&r->in, newfid)) ||
	    (err = p9_get16(&r->in, &w->n)))
		return err;
	if (w->n > P9_MAXWELEM)
		return -EINVAL;
	for (unsigned i = 0; i < w->n; i++) {
		err = p9_get_str(&r->in, w->names[i], sizeof(w->names[i]));
		if (err)
			return err;
		if ((err = name_check(w->names[i])))
			return err;
	}
	return 0;
}

/* One step; on success w->node is the new node and the old one its
 * parent (unless the step was "." or ".."). */
static int walk_step(struct req *r, struct walk *w, unsigned i)
{
	const char *name = w->names[i];
	struct fs9p_node *n;
	int fd, err = resolve_step(r->ex, w->node->fd, name, &fd);

	if (err)
		return err;
	if (!(n = node_new(fd, true))) {
		close(fd);
		return -ENOMEM;
	}
	if ((err = attr_qid(r->ex, n, &w->qids[i]))) {
		node_put(n);
		return err;
	}
	node_put(w->parent);
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		w->parent = NULL;
		w->name = NULL;
		node_put(w->node);
	} else {
		w->parent = w->node;
		w->name = name;
	}
	w->node = n;
	return 0;
}

/* Points fid (newfid == fid) or a new fid at where the walk ended. */
static int walk_commit(struct req *r, struct fid_snap *sn, uint32_t newfid,
		       struct walk *w)
{
	struct fs9p_fid *f = sn->fid;
	char *from, *path;
	int err;

	if (newfid == f->id && !w->n)
		return 0;
	/* Unknown (NULL) when the source's is: then only a save minds. */
	from = fid_path_dup(f);
	path = relpath_walk(from, (const char(*)[NAME_MAX + 1]) w->names, w->n);
	free(from);
	if (newfid == f->id) {
		pthread_mutex_lock(&f->lock);
		err = fid_set_path(f, w->node, w->parent, w->name);
		if (!err) {
			f->kind = FID_PATH;
			fid_path_set(f, path);
			path = NULL;
		}
		pthread_mutex_unlock(&f->lock);
		free(path);
		return err;
	}
	if (!(f = fid_alloc(newfid, sn->uid))) {
		free(path);
		return -ENOMEM;
	}
	err = fid_set_path(f, w->node, w->parent, w->name);
	fid_path_set(f, path);
	if (!err)
		err = fid_insert(&r->s->fids, f);
	fid_put(f);
	return err == -EEXIST ? -EINVAL : err;
}

static int walk_run(struct req *r, struct fid_snap *sn, uint32_t newfid,
		    struct walk *w)
{
	unsigned i;
	int err = 0;

	w->node = node_get(sn->node);
	w->parent = node_get(sn->parent);
	w->name = sn->name[0] ? sn->name : NULL;
	for (i = 0; i < w->n && !err; i++)
		if ((err = walk_step(r, w, i)))
			break;
	if (err && i == 0)
		return err;
	if (!err)
		err = walk_commit(r, sn, newfid, w);
	else
		err = 0; /* partial: the qids so far, no newfid */
	if (err)
		return err;
	p9_put16(&r->out, (uint16_t)i);
	for (unsigned k = 0; k < i; k++)
		p9_put_qid(&r->out, &w->qids[k]);
	return 0;
}

int op_walk(struct req *r)
{
	struct fid_snap sn;
	uint32_t fid, newfid;
	struct walk w = { 0 };
	struct fs9p_fid *other;
	int err;

	if ((err = walk_parse(r, &fid, &newfid, &w)))
		return err;
	if ((err = fid_snap(&r->s->fids, fid, &sn)))
		return err;
	err = -EINVAL;
	if (sn.kind != FID_PATH && sn.kind != FID_OPEN)
		goto out;
	if (newfid != fid && (other = fid_get(&r->s->fids, newfid))) {
		fid_put(other);
		goto out; /* newfid in use */
	}
	err = walk_run(r, &sn, newfid, &w);
	node_put(w.node);
	node_put(w.parent);
out:
	fid_snap_release(&sn);
	return err;
}
