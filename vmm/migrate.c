/* The migration worker (migrate.h). The "migration" thread runs the
 * jobs; the API thread submits them and reads their progress; the main
 * thread starts and stops the worker. Job, parameters and progress are
 * under m->lock; m->cancel is also read without it (atomic). The lock is
 * never held across I/O or a pause. */
#include "migrate.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "block/block.h"
#include "lib/log.h"
#include "lib/stream.h"
#include "memory/dirty.h"
#include "pause.h"
#include "vcpu.h"
#include "vm.h"
#include "vmstate.h"

#define DEFAULT_DOWNTIME_NS (30ULL * 1000 * 1000)
#define THROTTLE_WINDOW_NS (100ULL * 1000 * 1000)
#define THROTTLE_FIRST 20
#define THROTTLE_STEP 10
#define THROTTLE_MAX 99
/* Pages handed to the stream at a time: the unit of cancel checks,
 * bandwidth pacing and throttle switching. */
#define CHUNK_PAGES 256
/* How long the source waits for the destination to take over. */
#define TAKEOVER_TIMEOUT_MS 30000
#define TAKEOVER_REPLY "VMMREADY"

static const char *const status_names[] = {
	[MIGRATE_NONE] = "none",	   [MIGRATE_ACTIVE] = "active",
	[MIGRATE_COMPLETED] = "completed", [MIGRATE_FAILED] = "failed",
	[MIGRATE_CANCELLED] = "cancelled",
};

const char *migrate_status_name(enum migrate_status s)
{
	return status_names[s];
}

/* One outgoing migration's working state, the worker's alone. */
struct outgoing {
	struct migrator *m;
	struct vm *vm;
	struct stream_writer w;
	uint64_t *bitmap[MEM_MAX_REGIONS];  /* pages to send */
	uint64_t *scratch[MEM_MAX_REGIONS]; /* one fetch's */
	uint64_t start_ns;
	uint64_t round_start_ns, round_start_bytes;
	struct migrate_params params; /* read at each round */
	unsigned throttle;
	bool throttle_paused, was_paused;
	unsigned busy_rounds; /* rounds dirtying over half of what was sent */
};

static void set_error(struct migrator *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct migrator *m, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->lock);
	if (!m->progress.error[0]) {
		va_start(ap, fmt);
		vsnprintf(m->progress.error, sizeof(m->progress.error), fmt,
			  ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&m->lock);
}

static bool cancelled(struct outgoing *o)
{
	return __atomic_load_n(&o->m->cancel, __ATOMIC_ACQUIRE) ||
	       lifecycle_stopping(&o->vm->life);
}

static void publish(struct outgoing *o, uint64_t remaining)
{
	struct migrator *m = o->m;

	pthread_mutex_lock(&m->lock);
	m->progress.transferred = o->w.bytes;
	if (remaining != UINT64_MAX)
		m->progress.remaining = remaining;
	m->progress.throttle = o->throttle;
	m->progress.total_ns = monotonic_ns() - o->start_ns;
	o->params = m->params;
	pthread_mutex_unlock(&m->lock);
}

/* The throttle: the vCPUs are paused for throttle% of every window. */
static int throttle_tick(struct outgoing *o)
{
	uint64_t phase = (monotonic_ns() - o->start_ns) % THROTTLE_WINDOW_NS;
	bool want =
		o->throttle && phase < THROTTLE_WINDOW_NS * o->throttle / 100;
	int r;

	if (want == o->throttle_paused)
		return 0;
	if (!want) {
		vm_pause_unhold(o->vm, !o->was_paused);
		o->throttle_paused = false;
		return 0;
	}
	r = vm_pause_hold(o->vm, &o->was_paused);
	if (r)
		return r;
	o->throttle_paused = true;
	return 0;
}

static void throttle_off(struct outgoing *o)
{
	if (o->throttle_paused)
		vm_pause_unhold(o->vm, !o->was_paused);
	o->throttle_paused = false;
}

/* Sleeps as long as the bandwidth limit asks. */
static void pace(struct outgoing *o)
{
	uint64_t bw = o->params.max_bandwidth, sent, due, now;
	struct timespec t;

	if (!bw)
		return;
	sent = o->w.bytes - o->round_start_bytes;
	due = o->round_start_ns + (uint64_t)((double)sent * 1e9 / (double)bw);
	now = monotonic_ns();
	if (due <= now)
		return;
	t.tv_sec = (time_t)((due - now) / 1000000000);
	t.tv_nsec = (long)((due - now) % 1000000000);
	nanosleep(&t, NULL);
}

static int send_run(struct outgoing *o, const struct mem_region *reg,
		    uint64_t first, uint64_t n, bool live)
{
	uint64_t zero = 0;

	while (n) {
		uint64_t k = n < CHUNK_PAGES ? n : CHUNK_PAGES;
		int r;

		if (cancelled(o))
			return -ECANCELED;
		if (live) {
			r = throttle_tick(o);
			if (r)
				return r;
		}
		r = stream_put_ram(&o->w, reg->gpa + first * MEM_PAGE_SIZE,
				   reg->hva + first * MEM_PAGE_SIZE, k, &zero);
		if (r)
			return r;
		first += k;
		n -= k;
		if (live)
			pace(o);
	}
	pthread_mutex_lock(&o->m->lock);
	o->m->progress.zero_pages += zero;
	pthread_mutex_unlock(&o->m->lock);
	return 0;
}

static inline bool bit(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

/* Sends the pages set in region i's bitmap (all of them: NULL). */
static int send_region(struct outgoing *o, unsigned i, const uint64_t *map,
		       bool live)
{
	const struct mem_region *reg = &o->vm->mem.regions[i];
	uint64_t pages = reg->size / MEM_PAGE_SIZE, p = 0;

	if (!map)
		return send_run(o, reg, 0, pages, live);
	while (p < pages) {
		uint64_t start;
		int r;

		if (!map[p / 64] && p % 64 == 0) {
			p += 64;
			continue;
		}
		if (!bit(map, p)) {
			p++;
			continue;
		}
		start = p;
		while (p < pages && bit(map, p))
			p++;
		r = send_run(o, reg, start, p - start, live);
		if (r)
			return r;
		if (live)
			publish(o, UINT64_MAX);
	}
	return 0;
}

/* Fetches and clears every region's dirty set into the pages still to
 * send (o->bitmap); their count. */
static int64_t fetch_dirty(struct outgoing *o)
{
	int64_t total = 0;

	for (unsigned i = 0; i < o->vm->mem.nr_regions; i++) {
		uint64_t words =
			(o->vm->mem.regions[i].size / MEM_PAGE_SIZE + 63) / 64;
		int64_t n = mem_dirty_fetch(&o->vm->dirty, i, o->scratch[i]);

		if (n < 0)
			return n;
		for (uint64_t k = 0; k < words; k++) {
			o->bitmap[i][k] |= o->scratch[i][k];
			total += __builtin_popcountll(o->bitmap[i][k]);
		}
	}
	return total;
}

static int send_dirty(struct outgoing *o, bool live)
{
	for (unsigned i = 0; i < o->vm->mem.nr_regions; i++) {
		uint64_t words =
			(o->vm->mem.regions[i].size / MEM_PAGE_SIZE + 63) / 64;
		int r = send_region(o, i, o->bitmap[i], live);

		if (r)
			return r;
		memset(o->bitmap[i], 0, words * sizeof(uint64_t));
	}
	return stream_flush(&o->w);
}

/* Ends a round: its bandwidth, and the next round's throttle. */
static void end_round(struct outgoing *o, uint64_t dirty_pages)
{
	struct migrator *m = o->m;
	uint64_t now = monotonic_ns(), ns = now - o->round_start_ns;
	uint64_t sent = o->w.bytes - o->round_start_bytes;

	if (!ns)
		ns = 1;
	/* QEMU's rule: a guest that dirtied more than half of what a
	 * round sent, twice, is slowed down, more each time. */
	if (dirty_pages * MEM_PAGE_SIZE > sent / 2) {
		if (++o->busy_rounds >= 2)
			o->throttle = o->throttle ? o->throttle + THROTTLE_STEP
						  : THROTTLE_FIRST;
		if (o->throttle > THROTTLE_MAX)
			o->throttle = THROTTLE_MAX;
	} else {
		o->busy_rounds = 0;
	}
	pthread_mutex_lock(&m->lock);
	m->progress.bandwidth = (uint64_t)((double)sent * 1e9 / (double)ns);
	m->progress.dirty_rate =
		(uint64_t)((double)dirty_pages * 1e9 / (double)ns);
	m->progress.round++;
	pthread_mutex_unlock(&m->lock);
	o->round_start_ns = now;
	o->round_start_bytes = o->w.bytes;
}

static bool converged(struct outgoing *o, uint64_t dirty_pages)
{
	uint64_t bw, ns;

	pthread_mutex_lock(&o->m->lock);
	bw = o->m->progress.bandwidth;
	pthread_mutex_unlock(&o->m->lock);
	if (!bw)
		return false;
	ns = (uint64_t)((double)dirty_pages * MEM_PAGE_SIZE * 1e9 / (double)bw);
	return ns <= o->params.max_downtime_ns;
}

static int wait_takeover(int sock)
{
	char reply[sizeof(TAKEOVER_REPLY) - 1];
	size_t got = 0;

	while (got < sizeof(reply)) {
		struct pollfd p = { sock, POLLIN, 0 };
		int n = poll(&p, 1, TAKEOVER_TIMEOUT_MS);
		ssize_t k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ETIMEDOUT;
		k = recv(sock, reply + got, sizeof(reply) - got, 0);
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		got += (size_t)k;
	}
	return memcmp(reply, TAKEOVER_REPLY, sizeof(reply)) ? -EPROTO : 0;
}

/* The last phase, vCPUs paused: remaining pages, state, END, reply. */
static int stop_and_copy(struct outgoing *o, int sock)
{
	struct vm *vm = o->vm;
	uint64_t pause_ns;
	int64_t dirty;
	int r;

	throttle_off(o);
	r = vm_pause_hold(vm, &o->was_paused);
	if (r)
		return r;
	pause_ns = monotonic_ns();
	/* Before the last dirty fetch: the devices' last completions write
	 * guest RAM. */
	r = vmstate_quiesce(vm);
	if (r) {
		set_error(o->m, "a device could not be stopped: %s",
			  strerror(-r));
		vm_pause_unhold(vm, !o->was_paused);
		return r;
	}
	dirty = fetch_dirty(o);
	r = dirty < 0 ? (int)dirty : send_dirty(o, false);
	if (!r)
		r = vmstate_put_state(vm, &o->w);
	if (!r)
		r = stream_put_end(&o->w);
	if (!r)
		r = stream_flush(&o->w);
	if (!r) {
		r = wait_takeover(sock);
		if (r)
			set_error(o->m, "the destination did not take over: %s",
				  r == -EPROTO ? "a wrong reply"
					       : strerror(-r));
	}
	if (r) {
		vmstate_resume(vm);
		vm_pause_unhold(vm, !o->was_paused);
		return r;
	}
	/* The hold stays: the guest runs on the destination now, and the
	 * devices stay quiesced: nothing more reaches the disks here. */
	pthread_mutex_lock(&o->m->lock);
	o->m->progress.downtime_ns = monotonic_ns() - pause_ns;
	o->m->progress.remaining = 0;
	pthread_mutex_unlock(&o->m->lock);
	return 0;
}

static int precopy(struct outgoing *o, int sock)
{
	struct vm *vm = o->vm;
	int r = stream_put_header(&o->w);

	if (!r)
		r = vmstate_put_config(vm, &o->w);
	if (r)
		return r;
	r = mem_dirty_start(&vm->dirty);
	if (r) {
		set_error(o->m, "starting dirty-page tracking: %s",
			  strerror(-r));
		return r;
	}
	o->round_start_ns = monotonic_ns();
	o->round_start_bytes = o->w.bytes;
	for (unsigned i = 0; i < vm->mem.nr_regions && !r; i++)
		r = send_region(o, i, NULL, true);
	if (!r)
		r = stream_flush(&o->w);
	while (!r) {
		int64_t dirty = fetch_dirty(o);

		if (dirty < 0) {
			r = (int)dirty;
			break;
		}
		end_round(o, (uint64_t)dirty);
		publish(o, (uint64_t)dirty * MEM_PAGE_SIZE);
		if (converged(o, (uint64_t)dirty)) {
			/* What this fetch found is sent in the last phase,
			 * with what the guest dirties until it is paused. */
			r = stop_and_copy(o, sock);
			break;
		}
		r = send_dirty(o, true);
	}
	throttle_off(o);
	mem_dirty_stop(&vm->dirty);
	return r;
}

static void migrate_job(struct migrator *m)
{
	struct outgoing o = { .m = m, .vm = m->vm, .start_ns = monotonic_ns() };
	enum migrate_status end = MIGRATE_FAILED;
	int sock, r = 0;

	pthread_mutex_lock(&m->lock);
	o.params = m->params;
	pthread_mutex_unlock(&m->lock);
	/* Refused before a byte is sent, not after all RAM was. */
	r = vmstate_saveable(o.vm);
	if (r)
		set_error(m, "a device of this VM cannot be saved yet");
	for (unsigned i = 0; i < o.vm->mem.nr_regions && !r; i++) {
		uint64_t pages = o.vm->mem.regions[i].size / MEM_PAGE_SIZE;
		o.bitmap[i] = calloc((pages + 63) / 64, sizeof(uint64_t));
		o.scratch[i] = calloc((pages + 63) / 64, sizeof(uint64_t));
		if (!o.bitmap[i] || !o.scratch[i])
			r = -ENOMEM;
	}
	sock = r ? r : uri_connect(&m->uri, "migrate");
	if (sock < 0) {
		set_error(m, "connecting to the destination: %s",
			  strerror(-sock));
		r = sock;
	} else {
		pthread_mutex_lock(&m->lock);
		m->sock = sock;
		pthread_mutex_unlock(&m->lock);
		r = stream_writer_init(&o.w, sock);
		if (!r)
			r = precopy(&o, sock);
		stream_writer_free(&o.w);
	}
	if (!r)
		end = MIGRATE_COMPLETED;
	else if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE))
		end = MIGRATE_CANCELLED;
	else
		set_error(m, "%s",
			  r == -ECANCELED ? "the VM is stopping"
					  : strerror(-r));
	pthread_mutex_lock(&m->lock);
	if (sock >= 0)
		close(sock);
	m->sock = -1;
	m->progress.status = end;
	m->progress.transferred = o.w.bytes;
	m->progress.total_ns = monotonic_ns() - o.start_ns;
	m->job = JOB_NONE;
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		free(o.bitmap[i]);
		free(o.scratch[i]);
	}
	if (end == MIGRATE_COMPLETED) {
		if (m->completed)
			m->completed(m->vm);
		lifecycle_stop_by(&m->vm->life, STOP_BY_MIGRATED, 0);
	} else if (end == MIGRATE_FAILED) {
		log_error("migration failed: %s", m->progress.error);
	}
}

static void snapshot_job(struct migrator *m)
{
	struct snapshot_stats st = { 0 };
	bool was_paused;
	int r = vm_pause_hold(m->vm, &was_paused);

	if (!r) {
		r = vmstate_quiesce(m->vm);
		if (!r) {
			r = snapshot_write(m->vm, m->path, &st);
			vmstate_resume(m->vm);
		}
		vm_pause_unhold(m->vm, !was_paused);
	}
	pthread_mutex_lock(&m->lock);
	m->snapshot_result = r;
	m->snapshot_stats = st;
	m->snapshot_done = true;
	m->job = JOB_NONE;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void *worker(void *arg)
{
	struct migrator *m = arg;
	int r;

	pthread_setname_np(pthread_self(), "migration");
	r = sandbox_enter(&m->sandbox);
	if (r) {
		log_error("migration thread: entering the sandbox: %s",
			  strerror(-r));
		lifecycle_stop(&m->vm->life, STOP_ERROR, 1);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->exiting && (m->job == JOB_NONE || m->snapshot_done))
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->exiting)
			break;
		pthread_mutex_unlock(&m->lock);
		if (m->job == JOB_SNAPSHOT)
			snapshot_job(m);
		else
			migrate_job(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* The worker: the snapshot file (create, write, sync, rename, remove on
 * failure), the migration socket (connect, send, the reply, a host name
 * resolved from /etc/hosts or DNS), pausing (kicks) and the throttle's
 * sleeps, dirty tracking and the vCPUs' and the VM's state ioctls. */
static int migration_rules(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		SCMP_SYS(openat),      SCMP_SYS(close),
		SCMP_SYS(read),	       SCMP_SYS(write),
		SCMP_SYS(pwrite64),    SCMP_SYS(lseek),
		SCMP_SYS(fdatasync),   SCMP_SYS(ftruncate),
		SCMP_SYS(rename),      SCMP_SYS(unlink),
		SCMP_SYS(fstat),       SCMP_SYS(newfstatat),
		SCMP_SYS(socket),      SCMP_SYS(connect),
		SCMP_SYS(setsockopt),  SCMP_SYS(getsockopt),
		SCMP_SYS(sendto),      SCMP_SYS(recvfrom),
		SCMP_SYS(sendmmsg),    SCMP_SYS(recvmsg),
		SCMP_SYS(poll),	       SCMP_SYS(ppoll),
		SCMP_SYS(shutdown),    SCMP_SYS(bind),
		SCMP_SYS(getsockname), SCMP_SYS(uname),
	};
	int r = 0;

	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]) && !r; i++)
		r = sandbox_allow(ctx, calls[i]);
	if (!r)
		r = vcpu_kick_rules(ctx);
	if (!r)
		r = mem_dirty_rules(ctx);
	return r ? r : arch_save_rules(ctx);
}

static const struct sandbox_role migration_role = {
	.name = "migration",
	/* Quiescing hands the disks' images over, and resuming takes them
	 * back, with plain system calls (block/block.h blk_inactivate). */
	.rules = { migration_rules, blk_close_rules },
};

int migrator_init(struct migrator *m, enum sandbox_mode mode)
{
	pthread_condattr_t ca;
	int r;

	memset(m, 0, sizeof(*m));
	m->sock = -1;
	m->params.max_downtime_ns = DEFAULT_DOWNTIME_NS;
	r = pthread_mutex_init(&m->lock, NULL);
	if (r)
		return -r;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = -pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	return r ? r : sandbox_filter_build(&m->sandbox, &migration_role, mode);
}

int migrator_start(struct migrator *m, struct vm *vm)
{
	int r;

	m->vm = vm;
	r = pthread_create(&m->thread, NULL, worker, m);
	if (r) {
		log_error("starting the migration thread: %s", strerror(r));
		return -r;
	}
	m->started = true;
	return 0;
}

void migrator_stop(struct migrator *m)
{
	if (!m->started)
		return;
	pthread_mutex_lock(&m->lock);
	m->exiting = true;
	__atomic_store_n(&m->cancel, true, __ATOMIC_RELEASE);
	if (m->sock >= 0)
		shutdown(m->sock, SHUT_RDWR);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	m->started = false;
}

void migrator_destroy(struct migrator *m)
{
	sandbox_filter_free(&m->sandbox);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
}

int migrator_snapshot(struct migrator *m, const char *path,
		      struct snapshot_stats *st)
{
	int r;

	if (strlen(path) + 5 > sizeof(m->path))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&m->lock);
	if (m->job != JOB_NONE) {
		pthread_mutex_unlock(&m->lock);
		return -EBUSY;
	}
	strcpy(m->path, path);
	m->job = JOB_SNAPSHOT;
	m->snapshot_done = false;
	pthread_cond_broadcast(&m->cond);
	while (!m->snapshot_done && !m->exiting)
		pthread_cond_wait(&m->cond, &m->lock);
	r = m->snapshot_done ? m->snapshot_result : -ESHUTDOWN;
	*st = m->snapshot_stats;
	m->snapshot_done = false;
	pthread_mutex_unlock(&m->lock);
	return r;
}

int migrator_migrate(struct migrator *m, const struct uri *uri)
{
	pthread_mutex_lock(&m->lock);
	if (m->job != JOB_NONE) {
		pthread_mutex_unlock(&m->lock);
		return -EBUSY;
	}
	m->uri = *uri;
	m->job = JOB_MIGRATE;
	__atomic_store_n(&m->cancel, false, __ATOMIC_RELEASE);
	memset(&m->progress, 0, sizeof(m->progress));
	m->progress.status = MIGRATE_ACTIVE;
	m->progress.ram_bytes = m->vm->mem.size;
	/* Which of KVM's mechanisms (memory/dirty.h): tests assert it. */
	m->progress.tracking = m->vm->dirty.mode == MEM_DIRTY_RING ? "ring"
			       : m->vm->dirty.manual_protect ? "dirty-log-clear"
							     : "dirty-log";
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int migrator_cancel(struct migrator *m)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (m->job != JOB_MIGRATE) {
		r = -ENOENT;
	} else {
		__atomic_store_n(&m->cancel, true, __ATOMIC_RELEASE);
		/* A send blocked on a stalled destination returns now. */
		if (m->sock >= 0)
			shutdown(m->sock, SHUT_RDWR);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void migrator_query(struct migrator *m, struct migrate_progress *p)
{
	pthread_mutex_lock(&m->lock);
	*p = m->progress;
	pthread_mutex_unlock(&m->lock);
}

void migrator_set_params(struct migrator *m, const struct migrate_params *p)
{
	pthread_mutex_lock(&m->lock);
	m->params = *p;
	pthread_mutex_unlock(&m->lock);
}

void migrator_get_params(struct migrator *m, struct migrate_params *p)
{
	pthread_mutex_lock(&m->lock);
	*p = m->params;
	pthread_mutex_unlock(&m->lock);
}
