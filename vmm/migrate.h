/* The migration worker: a thread of its own ("migration", with its own
 * sandbox role) that runs the control socket's long jobs: a snapshot
 * (the API thread waits for it) and an outgoing live migration (the API
 * thread returns at once; query-migrate reads the progress).
 *
 * Live migration is pre-copy: all RAM while the guest runs, then rounds
 * of the pages dirtied meanwhile (memory/dirty.h: KVM's log OR the
 * VMM's own), each round's dirty rate and bandwidth measured; when what
 * is left would be sent within the maximum downtime, the vCPUs are
 * paused, the last dirty pages and the vCPU, architecture and device
 * state sent, and the source waits for the destination's "taken over"
 * reply; then the source's run ends (stop source "migrated", status 0).
 * A guest that dirties faster than the link carries is throttled: its
 * vCPUs are paused for a growing share of every 100 ms. Any failure or a
 * cancel before the reply leaves the source running as before.
 *
 * Threads: migrator_* calls from the API thread (and the main thread for
 * init/start/stop); the job runs on the worker. The job, its parameters
 * and its progress are under the migrator's lock; cancel is also an
 * atomic the worker polls. */
#ifndef VMM_MIGRATE_H
#define VMM_MIGRATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/sandbox.h"
#include "snapshot.h"
#include "uri.h"

enum migrate_status {
	MIGRATE_NONE,
	MIGRATE_ACTIVE,
	MIGRATE_COMPLETED,
	MIGRATE_FAILED,
	MIGRATE_CANCELLED,
};

const char *migrate_status_name(enum migrate_status s);

struct migrate_params {
	uint64_t max_downtime_ns; /* default 30 ms */
	uint64_t max_bandwidth;	  /* bytes/s, 0: unlimited */
};

struct migrate_progress {
	enum migrate_status status;
	unsigned round; /* 1: the copy of all RAM */
	uint64_t ram_bytes;
	uint64_t remaining;   /* bytes dirty at the last look */
	uint64_t transferred; /* stream bytes sent */
	uint64_t pages, zero_pages;
	uint64_t dirty_rate;  /* pages/s in the last round */
	uint64_t bandwidth;   /* bytes/s in the last round */
	unsigned throttle;    /* percent of the time the vCPUs are paused */
	const char *tracking; /* "ring", "dirty-log" or "dirty-log-clear" */
	uint64_t total_ns, downtime_ns;
	char error[200];
};

enum migrate_job { JOB_NONE, JOB_SNAPSHOT, JOB_MIGRATE };

struct vm;

struct migrator {
	struct vm *vm;
	pthread_t thread;
	bool started;
	struct sandbox_filter sandbox;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool exiting;
	enum migrate_job job; /* the one running or asked for */
	char path[4096];      /* JOB_SNAPSHOT */
	struct uri uri;	      /* JOB_MIGRATE */
	bool snapshot_done;   /* JOB_SNAPSHOT finished: result, stats */
	int snapshot_result;
	struct snapshot_stats snapshot_stats;
	int sock;    /* JOB_MIGRATE's socket, -1: none */
	bool cancel; /* atomic */
	struct migrate_params params;
	struct migrate_progress progress;
	void (*completed)(struct vm *vm); /* before the run is stopped */
};

/* Main thread, before the vCPUs start: the worker's sandbox. */
int migrator_init(struct migrator *m, enum sandbox_mode mode);
/* Main thread, before its own sandbox: starts the worker. */
int migrator_start(struct migrator *m, struct vm *vm);
/* Main thread, once the run is stopping and before the vCPUs are
 * joined: a job in progress fails, the worker ends and is joined. */
void migrator_stop(struct migrator *m);
void migrator_destroy(struct migrator *m);

/* API thread. A snapshot of the VM to path (paused while it is written,
 * then running again unless it was paused before): 0, -EBUSY (another
 * job runs), -ESHUTDOWN, or the failure (logged). */
int migrator_snapshot(struct migrator *m, const char *path,
		      struct snapshot_stats *st);
/* Starts a migration to uri (text checked by the caller): 0, -EBUSY. */
int migrator_migrate(struct migrator *m, const struct uri *uri);
int migrator_cancel(struct migrator *m); /* 0, or -ENOENT: none active */
void migrator_query(struct migrator *m, struct migrate_progress *p);
void migrator_set_params(struct migrator *m, const struct migrate_params *p);
void migrator_get_params(struct migrator *m, struct migrate_params *p);

#endif
