/* Export and session lifetime. Runs on the thread that sets up or tears
 * down a transport, while no request is being handled on the export or
 * session in question. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

int fs9p_export_open(const struct fs9p_export_config *cfg,
		     struct fs9p_export **out)
{
	struct fs9p_export *ex;
	struct p9_qid q;
	struct stat st;
	int fd;

	fd = open(cfg->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !(ex = calloc(1, sizeof(*ex)))) {
		close(fd);
		return -ENOMEM;
	}
	ex->root_dev = st.st_dev;
	ex->root_ino = st.st_ino;
	ex->security = cfg->security;
	ex->readonly = cfg->readonly;
	/* An unprivileged user serving passthrough (the test rig's --rw
	 * shares, a user's own `vmm 9p-serve`): what the guest creates is
	 * the user's, as with QEMU's security_model=none; an explicit
	 * chown still fails with EPERM as it does on a local file system. */
	ex->chown_best_effort = geteuid() != 0;
	if (!(ex->root = node_new(fd, true)) || qid_map_init(&ex->qids)) {
		close(fd);
		free(ex->root);
		free(ex);
		return -ENOMEM;
	}
	/* The root's device first: it gets prefix 0. */
	qid_from_stat(&ex->qids, &st, &q);
	*out = ex;
	return 0;
}

void fs9p_export_close(struct fs9p_export *ex)
{
	if (!ex)
		return;
	node_put(ex->root);
	qid_map_destroy(&ex->qids);
	free(ex);
}

int fs9p_session_new(struct fs9p_export *ex, uint32_t max_msize,
		     struct fs9p_session **out)
{
	struct fs9p_session *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (max_msize > FS9P_MSIZE_MAX)
		max_msize = FS9P_MSIZE_MAX;
	if (max_msize < FS9P_MSIZE_MIN)
		max_msize = FS9P_MSIZE_MIN;
	s->ex = ex;
	s->max_msize = max_msize;
	atomic_init(&s->msize, max_msize);
	if (fid_table_init(&s->fids)) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void fs9p_session_free(struct fs9p_session *s)
{
	if (!s)
		return;
	fid_table_destroy(&s->fids);
	free(s);
}

uint32_t fs9p_session_msize(const struct fs9p_session *s)
{
	return atomic_load(&((struct fs9p_session *)s)->msize);
}
