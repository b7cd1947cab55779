/* The control socket's protocol (vmm/api.c) on arbitrary bytes, fed in
 * chunks whose sizes the input's first byte chooses (a request split
 * across reads, several in one), against the fake VM of
 * tests/unit/api_fake.h, whose migration worker the second byte sets up
 * (the errors its jobs return, the progress query-migrate reads, whether
 * there is a worker at all). Every reply must be one line of one JSON
 * object holding "id" and exactly one of "return" and "error" (a code
 * from the fixed set); a session answers at most one reply per newline it
 * was given, plus the one that ends an oversize line. What reaches the
 * fake must have passed the protocol's checks: a non-empty snapshot path,
 * a URI uri_parse took, parameters within their ranges; and the replies
 * must say what the fake holds: the snapshot's statistics, the
 * parameters in force, query-migrate's members as its status has them.
 *
 * Input: byte 0 the chunk size (1 to 255; 0 takes all at once), byte 1
 * the fake's set-up (bits 0-1 the snapshot's error, 2 migrate's, 3-5
 * the progress status (failed and cancelled with a dirty-tracking
 * mode), 6 resume refused, 7 no migration worker), then
 * the connection's bytes. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tests/unit/api_fake.h"
#include "vmm/api.h"

struct fake {
	struct api_fake vm;
	unsigned replies;
};

static bool known_code(const char *c)
{
	for (int e = 0; e < API_ERROR_COUNT; e++)
		if (!strcmp(c, api_error_name((enum api_error)e)))
			return true;
	return false;
}

/* ---- what reaches the fake ---- */

static int checked_snapshot(void *o, const char *path,
			    struct snapshot_stats *st)
{
	INVARIANT(path && *path);
	return api_fake_snapshot(o, path, st);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int checked_migrate(void *o, const struct uri *u)
{
	if (u->is_unix) {
		INVARIANT(u->path[0]);
		INVARIANT(memchr(u->path, 0, sizeof(u->path)));
	} else {
		INVARIANT(u->host[0]);
		INVARIANT(memchr(u->host, 0, sizeof(u->host)));
		INVARIANT(all_digits(u->port));
		INVARIANT(atoi(u->port) >= 1 && atoi(u->port) <= 65535);
	}
	return api_fake_migrate(o, u);
}

static void checked_set_params(void *o, const struct migrate_params *p)
{
	INVARIANT(p->max_downtime_ns >= 1000000 &&
		  p->max_downtime_ns <= 60000000000ULL &&
		  p->max_downtime_ns % 1000000 == 0);
	INVARIANT(p->max_bandwidth <= 1ULL << 40 &&
		  p->max_bandwidth % (1u << 20) == 0);
	api_fake_set_params(o, p);
}

/* ---- the replies ---- */

static bool has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static uint64_t member_u64(json_object *o, const char *key)
{
	json_object *v;

	INVARIANT(json_object_object_get_ex(o, key, &v));
	INVARIANT(json_object_is_type(v, json_type_int));
	return json_object_get_uint64(v);
}

/* A return's members against the fake: each command's return has a
 * member no other's has. */
static void check_return(const struct api_fake *f, json_object *ret)
{
	static const char *const progress[] = {
		"round",
		"ram-bytes",
		"remaining-bytes",
		"transferred-bytes",
		"zero-pages",
		"dirty-pages-rate",
		"bandwidth-bytes-per-s",
		"throttle-percent",
		"total-ms",
	};
	json_object *st;

	INVARIANT(json_object_is_type(ret, json_type_object));
	if (has(ret, "state-bytes")) {
		INVARIANT(json_object_object_length(ret) == 3);
		INVARIANT(member_u64(ret, "state-bytes") ==
			  f->snapshot_stats.state_bytes);
		INVARIANT(member_u64(ret, "ram-bytes") ==
			  f->snapshot_stats.ram_bytes);
		INVARIANT(has(ret, "total-ms"));
	} else if (has(ret, "max-downtime-ms")) {
		INVARIANT(json_object_object_length(ret) == 2);
		INVARIANT(member_u64(ret, "max-downtime-ms") ==
			  f->params.max_downtime_ns / 1000000);
		INVARIANT(member_u64(ret, "max-bandwidth-mibs") ==
			  f->params.max_bandwidth >> 20);
	} else if (json_object_object_get_ex(ret, "status", &st)) {
		const char *s = json_object_get_string(st);
		bool completed = !strcmp(s, "completed"),
		     failed = !strcmp(s, "failed");

		if (!strcmp(s, "running") || !strcmp(s, "paused")) {
			/* query-status */
			INVARIANT(json_object_object_length(ret) == 1);
			INVARIANT(!strcmp(s, "paused") == f->paused);
			return;
		}
		INVARIANT(!strcmp(s, migrate_status_name(f->progress.status)));
		if (!strcmp(s, "none")) {
			INVARIANT(json_object_object_length(ret) == 1);
			return;
		}
		for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]);
		     i++)
			INVARIANT(has(ret, progress[i]));
		INVARIANT(has(ret, "downtime-ms") == completed);
		INVARIANT(has(ret, "error") == failed);
		INVARIANT(has(ret, "dirty-tracking") == !!f->progress.tracking);
		INVARIANT(json_object_object_length(ret) ==
			  1 + (int)(sizeof(progress) / sizeof(progress[0])) +
				  completed + failed + !!f->progress.tracking);
	}
}

static int check_reply(void *ctx, const char *line, size_t len)
{
	struct fake *f = ctx;
	json_object *v, *err, *code, *ret;
	bool has_ret, has_err;

	f->replies++;
	INVARIANT(len > 0 && line[len - 1] == '\n');
	INVARIANT(!memchr(line, 0, len));
	INVARIANT(!memchr(line, '\n', len - 1));
	{
		char *text = strndup(line, len); /* a line has no NUL */

		INVARIANT(text);
		v = json_tokener_parse(text);
		free(text);
	}
	INVARIANT(v && json_object_is_type(v, json_type_object));
	INVARIANT(json_object_object_get_ex(v, "id", NULL));
	has_ret = json_object_object_get_ex(v, "return", &ret);
	has_err = json_object_object_get_ex(v, "error", &err);
	INVARIANT(has_ret != has_err);
	if (has_err) {
		INVARIANT(json_object_object_get_ex(err, "code", &code));
		INVARIANT(json_object_is_type(code, json_type_string));
		INVARIANT(known_code(json_object_get_string(code)));
		INVARIANT(json_object_object_get_ex(err, "message", NULL));
	} else {
		check_return(&f->vm, ret);
	}
	json_object_put(v);
	return 0;
}

/* The fake's worker as byte b sets it up. */
static void set_up(struct api_fake *vm, uint8_t b)
{
	static const int snapshot_errors[] = { 0, -EBUSY, -ENOTSUP, -EIO };

	vm->snapshot_error = snapshot_errors[b & 3];
	vm->migrate_error = b & 4 ? -EBUSY : 0;
	vm->progress = (struct migrate_progress){
		.status = (enum migrate_status)((b >> 3 & 7) % 5),
		.round = 2,
		.ram_bytes = 1ULL << 30,
		.remaining = 4096,
		.transferred = 1ULL << 31,
		.zero_pages = 5,
		.dirty_rate = 100,
		.bandwidth = 1ULL << 27,
		.throttle = 20,
		.total_ns = 1500000,
		.downtime_ns = 250000,
	};
	/* With the tracking named in the failed and cancelled ones. */
	if (vm->progress.status >= MIGRATE_FAILED)
		vm->progress.tracking = "dirty-log-clear";
	strcpy(vm->progress.error, "the \"destination\" went away\n");
	vm->resume_error = b & 0x40 ? -EBUSY : 0;
	vm->snapshot_stats = (struct snapshot_stats){ .state_bytes = 4321,
						      .ram_bytes = 1ULL << 33,
						      .ns = 123456789 };
	vm->params = (struct migrate_params){ .max_downtime_ns = 30000000,
					      .max_bandwidth = 0 };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_session s; /* 64 KiB: not on the stack */
	struct fake f = { 0 };
	struct api_ops ops;
	unsigned newlines = 0;
	size_t at = 2;
	int r = 0;

	if (size < 2)
		return 0;
	set_up(&f.vm, data[1]);
	if (data[1] & 0x80) {
		ops = api_fake_ops_no_jobs(&f.vm);
	} else {
		ops = api_fake_ops(&f.vm);
		ops.snapshot = checked_snapshot;
		ops.migrate = checked_migrate;
		ops.set_params = checked_set_params;
	}
	api_session_init(&s, &ops, check_reply, &f);
	while (at < size && !r) {
		size_t chunk = data[0] ? data[0] : size;
		size_t n = size - at < chunk ? size - at : chunk;

		for (size_t i = 0; i < n; i++)
			newlines += data[at + i] == '\n';
		r = api_session_input(&s, data + at, n);
		at += n;
	}
	INVARIANT(r == 0 || r == -EMSGSIZE);
	INVARIANT(f.replies <= newlines + (r == -EMSGSIZE));
	INVARIANT(r || s.len < API_LINE_MAX);
	/* A VM without a worker was asked nothing of one. */
	if (data[1] & 0x80)
		INVARIANT(f.vm.snapshots + f.vm.migrates + f.vm.queries +
				  f.vm.cancels + f.vm.gets + f.vm.sets ==
			  0);
	return 0;
}
