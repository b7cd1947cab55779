/* Nodes (shared host fds) and the per-session fid table. Any worker
 * thread. The table is split into FID_SHARDS shards by fid number, each a
 * chained hash under its own mutex held only to find, insert or unlink a
 * fid; a fid is reference-counted (the table holds one reference, each
 * request using it another), so a Tclunk racing a request on the same fid
 * frees it only when that request is done. A fid's fields are under its
 * own mutex. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdio.h>

#include "internal.h"
#include "proto.h"

struct fs9p_node *node_new(int fd, bool opath)
{
	struct fs9p_node *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	atomic_init(&n->refs, 1);
	n->fd = fd;
	n->opath = opath;
	return n;
}

struct fs9p_node *node_get(struct fs9p_node *n)
{
	if (n)
		atomic_fetch_add(&n->refs, 1);
	return n;
}

void node_put(struct fs9p_node *n)
{
	if (n && atomic_fetch_sub(&n->refs, 1) == 1) {
		close(n->fd);
		free(n);
	}
}

struct fs9p_fid *fid_alloc(uint32_t id, uid_t uid)
{
	struct fs9p_fid *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->id = id;
	f->uid = uid;
	atomic_init(&f->refs, 1);
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

void fid_put(struct fs9p_fid *f)
{
	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	node_put(f->node);
	node_put(f->parent);
	free(f->name);
	free(f->path);
	free(f->xname);
	free(f->xbuf);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static struct fid_shard *shard_of(struct fid_table *t, uint32_t id)
{
	return &t->shard[id % FID_SHARDS];
}

static unsigned bucket_of(const struct fid_shard *sh, uint32_t id)
{
	return (id / FID_SHARDS * 2654435761u) & (sh->nbuckets - 1);
}

int fid_table_init(struct fid_table *t)
{
	for (unsigned i = 0; i < FID_SHARDS; i++) {
		struct fid_shard *sh = &t->shard[i];

		pthread_mutex_init(&sh->lock, NULL);
		sh->nbuckets = 16;
		sh->count = 0;
		sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
		if (!sh->buckets) {
			while (i--)
				free(t->shard[i].buckets);
			return -ENOMEM;
		}
	}
	return 0;
}

void fid_clunk_all(struct fid_table *t)
{
	for (unsigned i = 0; i < FID_SHARDS; i++) {
		struct fid_shard *sh = &t->shard[i];

		pthread_mutex_lock(&sh->lock);
		for (unsigned b = 0; b < sh->nbuckets; b++) {
			struct fs9p_fid *f = sh->buckets[b];

			sh->buckets[b] = NULL;
			while (f) {
				struct fs9p_fid *next = f->next;

				fid_put(f);
				f = next;
			}
		}
		sh->count = 0;
		pthread_mutex_unlock(&sh->lock);
	}
}

void fid_table_destroy(struct fid_table *t)
{
	fid_clunk_all(t);
	for (unsigned i = 0; i < FID_SHARDS; i++) {
		free(t->shard[i].buckets);
		pthread_mutex_destroy(&t->shard[i].lock);
	}
}

struct fs9p_fid *fid_get(struct fid_table *t, uint32_t id)
{
	struct fid_shard *sh = shard_of(t, id);
	struct fs9p_fid *f;

	pthread_mutex_lock(&sh->lock);
	for (f = sh->buckets[bucket_of(sh, id)]; f; f = f->next)
		if (f->id == id)
			break;
	if (f)
		atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(&sh->lock);
	return f;
}

/* Doubles the bucket array; on allocation failure the chains just grow. */
static void shard_grow(struct fid_shard *sh)
{
	unsigned n = sh->nbuckets * 2;
	struct fs9p_fid **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (unsigned i = 0; i < sh->nbuckets; i++) {
		struct fs9p_fid *f = sh->buckets[i];

		while (f) {
			struct fs9p_fid *next = f->next;
			unsigned k =
				(f->id / FID_SHARDS * 2654435761u) & (n - 1);

			f->next = b[k];
			b[k] = f;
			f = next;
		}
	}
	free(sh->buckets);
	sh->buckets = b;
	sh->nbuckets = n;
}

/* The table takes a reference of its own; -EEXIST when id is in use. */
int fid_insert(struct fid_table *t, struct fs9p_fid *f)
{
	struct fid_shard *sh = shard_of(t, f->id);
	struct fs9p_fid *g;
	unsigned b;

	if (f->id == P9_NOFID)
		return -EINVAL;
	pthread_mutex_lock(&sh->lock);
	b = bucket_of(sh, f->id);
	for (g = sh->buckets[b]; g; g = g->next)
		if (g->id == f->id)
			break;
	if (g) {
		pthread_mutex_unlock(&sh->lock);
		return -EEXIST;
	}
	if (sh->count >= sh->nbuckets && sh->nbuckets < (1u << 20)) {
		shard_grow(sh);
		b = bucket_of(sh, f->id);
	}
	atomic_fetch_add(&f->refs, 1);
	f->next = sh->buckets[b];
	sh->buckets[b] = f;
	sh->count++;
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

/* Unlinks id; returns the table's reference (the caller puts it), or NULL
 * when id is not in the table. */
struct fs9p_fid *fid_remove(struct fid_table *t, uint32_t id)
{
	struct fid_shard *sh = shard_of(t, id);
	struct fs9p_fid **pp, *f;

	pthread_mutex_lock(&sh->lock);
	for (pp = &sh->buckets[bucket_of(sh, id)]; (f = *pp); pp = &f->next)
		if (f->id == id)
			break;
	if (f) {
		*pp = f->next;
		sh->count--;
	}
	pthread_mutex_unlock(&sh->lock);
	return f;
}

int fid_table_each(struct fid_table *t,
		   int (*fn)(struct fs9p_fid *f, void *ctx), void *ctx)
{
	int r = 0;

	for (unsigned i = 0; i < FID_SHARDS && !r; i++) {
		struct fid_shard *sh = &t->shard[i];

		pthread_mutex_lock(&sh->lock);
		for (unsigned b = 0; b < sh->nbuckets && !r; b++)
			for (struct fs9p_fid *f = sh->buckets[b]; f && !r;
			     f = f->next)
				r = fn(f, ctx);
		pthread_mutex_unlock(&sh->lock);
	}
	return r;
}

int fid_snap(struct fid_table *t, uint32_t id, struct fid_snap *sn)
{
	struct fs9p_fid *f = fid_get(t, id);

	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->stale) {
		pthread_mutex_unlock(&f->lock);
		fid_put(f);
		return -ESTALE;
	}
	sn->fid = f;
	sn->node = node_get(f->node);
	sn->parent = node_get(f->parent);
	sn->kind = f->kind;
	sn->uid = f->uid;
	sn->oflags = f->oflags;
	snprintf(sn->name, sizeof(sn->name), "%s", f->name ? f->name : "");
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void fid_snap_release(struct fid_snap *sn)
{
	node_put(sn->node);
	node_put(sn->parent);
	fid_put(sn->fid);
	sn->node = sn->parent = NULL;
	sn->fid = NULL;
}

int fid_set_path(struct fs9p_fid *f, struct fs9p_node *node,
		 struct fs9p_node *parent, const char *name)
{
	char *dup = NULL;

	if (name && !(dup = strdup(name)))
		return -ENOMEM;
	/* References first: node or parent may be the fid's own. */
	node_get(node);
	node_get(parent);
	node_put(f->node);
	node_put(f->parent);
	free(f->name);
	f->node = node;
	f->parent = parent;
	f->name = dup;
	return 0;
}
