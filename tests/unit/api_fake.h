/* A fake VM behind the control socket's protocol (vmm/api.h), for the
 * unit tests and the fuzz target: a paused flag, counts of the calls,
 * errors every pause or resume returns while set, and a fake migration
 * worker: the last snapshot path and migration URI it was given, the
 * errors and statistics its jobs return, the progress query-migrate
 * reads and the parameters, kept here. One thread.
 *
 * The jobs keep a little state so that a sequence of requests means
 * something: a migrate that succeeds makes the progress active (the
 * rest of `progress` as set), snapshot and migrate while it is active
 * return -EBUSY, a migrate-cancel of an active migration makes it
 * cancelled and of anything else returns -ENOENT. */
#ifndef TESTS_UNIT_API_FAKE_H
#define TESTS_UNIT_API_FAKE_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "vmm/api.h"

struct api_fake {
	bool paused;
	int pauses, resumes, quits;
	int pause_error;  /* returned by every pause while set */
	int resume_error; /* returned by every resume while set */

	/* The migration worker. */
	int snapshots, migrates, queries, cancels, gets, sets;
	char snapshot_path[4096]; /* the last snapshot's */
	int snapshot_error;	  /* returned by snapshot when set */
	struct snapshot_stats snapshot_stats; /* filled in on success */
	struct uri migrate_uri;		      /* the last migrate's */
	int migrate_error;		      /* returned by migrate when set */
	int cancel_error; /* returned by migrate-cancel when set */
	struct migrate_progress progress;
	struct migrate_params params;
};

static inline int api_fake_pause(void *o)
{
	struct api_fake *f = o;

	f->pauses++;
	if (f->pause_error)
		return f->pause_error;
	if (f->paused)
		return -EALREADY;
	f->paused = true;
	return 0;
}

static inline int api_fake_resume(void *o)
{
	struct api_fake *f = o;

	f->resumes++;
	if (f->resume_error)
		return f->resume_error;
	if (!f->paused)
		return -EALREADY;
	f->paused = false;
	return 0;
}

static inline void api_fake_quit(void *o)
{
	((struct api_fake *)o)->quits++;
}

static inline bool api_fake_paused(void *o)
{
	return ((struct api_fake *)o)->paused;
}

static inline int api_fake_snapshot(void *o, const char *path,
				    struct snapshot_stats *st)
{
	struct api_fake *f = o;

	f->snapshots++;
	snprintf(f->snapshot_path, sizeof(f->snapshot_path), "%s", path);
	if (f->snapshot_error)
		return f->snapshot_error;
	if (f->progress.status == MIGRATE_ACTIVE)
		return -EBUSY;
	*st = f->snapshot_stats;
	return 0;
}

static inline int api_fake_migrate(void *o, const struct uri *uri)
{
	struct api_fake *f = o;

	f->migrates++;
	f->migrate_uri = *uri;
	if (f->migrate_error)
		return f->migrate_error;
	if (f->progress.status == MIGRATE_ACTIVE)
		return -EBUSY;
	f->progress.status = MIGRATE_ACTIVE;
	return 0;
}

static inline void api_fake_query_migrate(void *o, struct migrate_progress *p)
{
	struct api_fake *f = o;

	f->queries++;
	*p = f->progress;
}

static inline int api_fake_migrate_cancel(void *o)
{
	struct api_fake *f = o;

	f->cancels++;
	if (f->cancel_error)
		return f->cancel_error;
	if (f->progress.status != MIGRATE_ACTIVE)
		return -ENOENT;
	f->progress.status = MIGRATE_CANCELLED;
	return 0;
}

static inline void api_fake_get_params(void *o, struct migrate_params *p)
{
	struct api_fake *f = o;

	f->gets++;
	*p = f->params;
}

static inline void api_fake_set_params(void *o, const struct migrate_params *p)
{
	struct api_fake *f = o;

	f->sets++;
	f->params = *p;
}

static inline struct api_ops api_fake_ops(struct api_fake *f)
{
	return (struct api_ops){ .opaque = f,
				 .pause = api_fake_pause,
				 .resume = api_fake_resume,
				 .quit = api_fake_quit,
				 .paused = api_fake_paused,
				 .snapshot = api_fake_snapshot,
				 .migrate = api_fake_migrate,
				 .query_migrate = api_fake_query_migrate,
				 .migrate_cancel = api_fake_migrate_cancel,
				 .get_params = api_fake_get_params,
				 .set_params = api_fake_set_params };
}

/* The ops of a VM without a migration worker: the job ops NULL. */
static inline struct api_ops api_fake_ops_no_jobs(struct api_fake *f)
{
	return (struct api_ops){ .opaque = f,
				 .pause = api_fake_pause,
				 .resume = api_fake_resume,
				 .quit = api_fake_quit,
				 .paused = api_fake_paused };
}

#endif
