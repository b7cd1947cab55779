/* QID paths from (st_dev, st_ino), unique across every host file system an
 * export spans: each host device seen gets an index, and qid.path is
 * index << 48 | ino. The export root's device is index 0, so its files'
 * qid.path is their host inode number. An inode number too big for 48
 * bits, or a device past the 65535th, gets a serial number from a table
 * under the reserved prefix 0xffff. Any worker thread; the map is under
 * its rwlock (read to look up, write to add a device or a big inode). */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "proto.h"

#define INO_BITS 48
#define INO_MASK ((1ull << INO_BITS) - 1)
#define BIG_PREFIX 0xffffull

struct qid_big {
	dev_t dev;
	ino_t ino;
};

int qid_map_init(struct qid_map *m)
{
	*m = (struct qid_map){ 0 };
	return -pthread_rwlock_init(&m->lock, NULL);
}

void qid_map_destroy(struct qid_map *m)
{
	free(m->devs);
	free(m->big);
	pthread_rwlock_destroy(&m->lock);
}

static int dev_find(const struct qid_map *m, dev_t dev)
{
	for (unsigned i = 0; i < m->ndevs; i++)
		if (m->devs[i] == dev)
			return (int)i;
	return -1;
}

static long big_find(const struct qid_map *m, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < m->nbig; i++)
		if (m->big[i].dev == dev && m->big[i].ino == ino)
			return (long)i;
	return -1;
}

/* Under the write lock: the device's index, added when new. */
static int dev_add(struct qid_map *m, dev_t dev)
{
	int i = dev_find(m, dev);

	if (i >= 0)
		return i;
	if (m->ndevs >= BIG_PREFIX)
		return -ENFILE;
	if (m->ndevs == m->devcap) {
		unsigned cap = m->devcap ? m->devcap * 2 : 8;
		dev_t *d = realloc(m->devs, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		m->devs = d;
		m->devcap = cap;
	}
	m->devs[m->ndevs] = dev;
	return (int)m->ndevs++;
}

/* Under the write lock: the pair's serial number, added when new. */
static long big_add(struct qid_map *m, dev_t dev, ino_t ino)
{
	long i = big_find(m, dev, ino);

	if (i >= 0)
		return i;
	if (m->nbig > INO_MASK)
		return -ENFILE;
	if (m->nbig == m->bigcap) {
		size_t cap = m->bigcap ? m->bigcap * 2 : 16;
		struct qid_big *b = realloc(m->big, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		m->big = b;
		m->bigcap = cap;
	}
	m->big[m->nbig] = (struct qid_big){ dev, ino };
	return (long)m->nbig++;
}

static int qid_path(struct qid_map *m, dev_t dev, ino_t ino, uint64_t *path)
{
	long i;

	pthread_rwlock_rdlock(&m->lock);
	i = (uint64_t)ino <= INO_MASK ? dev_find(m, dev) : -1;
	if (i >= 0)
		*path = (uint64_t)i << INO_BITS | ino;
	else if ((i = big_find(m, dev, ino)) >= 0)
		*path = BIG_PREFIX << INO_BITS | (uint64_t)i;
	pthread_rwlock_unlock(&m->lock);
	if (i >= 0)
		return 0;
	pthread_rwlock_wrlock(&m->lock);
	i = (uint64_t)ino <= INO_MASK ? dev_add(m, dev) : -ENFILE;
	if (i >= 0) {
		*path = (uint64_t)i << INO_BITS | ino;
	} else if (i == -ENFILE) {
		i = big_add(m, dev, ino);
		*path = BIG_PREFIX << INO_BITS | (uint64_t)i;
	}
	pthread_rwlock_unlock(&m->lock);
	return i < 0 ? (int)i : 0;
}

int qid_from_stat(struct qid_map *m, const struct stat *st, struct p9_qid *q)
{
	if (S_ISDIR(st->st_mode))
		q->type = P9_QTDIR;
	else if (S_ISLNK(st->st_mode))
		q->type = P9_QTSYMLINK;
	else
		q->type = P9_QTFILE;
	q->version = 0;
	return qid_path(m, st->st_dev, st->st_ino, &q->path);
}
