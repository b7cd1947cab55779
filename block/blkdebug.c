/* The blkdebug filter (block/blkdebug.h): rules parsed at open (main
 * thread), matched by blk_co_event in request coroutines on any ctx's
 * thread and resumed from the test's thread; struct blkdebug's mu
 * guards the rules' counters and wait queues. Requests themselves pass
 * straight through to the file child. */
#include "blkdebug.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "co.h"
#include "driver.h"
#include "lib/parse.h"

#define MAX_RULES 16

enum action { INJECT, KILL, BREAK };

struct rule {
	enum blk_event ev;
	enum action action;
	int err;
	bool once;
	uint64_t after;	       /* occurrences ignored first */
	uint64_t seen, fired;  /* occurrences; times it acted */
	uint64_t arrived, let; /* break: requests suspended, let go */
	struct blk_waitq wq;
};

#define TRACE_MAX 512

struct blkdebug {
	pthread_mutex_t mu;
	struct rule rules[MAX_RULES];
	unsigned n;
	/* inject=trace: the events seen, in order (the first TRACE_MAX). */
	bool trace;
	uint8_t seen[TRACE_MAX];
	unsigned nseen;
};

extern const struct blk_driver blk_blkdebug_driver;

static const char *const event_names[BLK_EV_COUNT] = { BLK_EVENT_NAMES };

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EIO", EIO },	      { "ENOSPC", ENOSPC }, { "EPERM", EPERM },
	{ "ENOMEM", ENOMEM }, { "EROFS", EROFS },   { "EINVAL", EINVAL },
};

static int event_of(const char *name)
{
	for (int i = 0; i < BLK_EV_COUNT; i++)
		if (!strcmp(event_names[i], name))
			return i;
	return -1;
}

static int parse_rule(struct blk_opts *o, char *text, struct rule *r)
{
	char *save = NULL, *f = strtok_r(text, ":", &save);
	int ev = f ? event_of(f) : -1;

	if (ev < 0)
		return blk_open_fail(o, -EINVAL, "inject: unknown event '%s'",
				     f ? f : "");
	r->ev = (enum blk_event)ev;
	f = strtok_r(NULL, ":", &save);
	if (!f)
		return blk_open_fail(o, -EINVAL, "inject: no action for %s",
				     event_names[ev]);
	if (!strcmp(f, "kill")) {
		r->action = KILL;
	} else if (!strcmp(f, "break")) {
		r->action = BREAK;
	} else {
		unsigned i;

		for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
			if (!strcmp(errnos[i].name, f))
				break;
		if (i == sizeof(errnos) / sizeof(errnos[0]))
			return blk_open_fail(o, -EINVAL,
					     "inject: unknown action '%s'", f);
		r->action = INJECT;
		r->err = errnos[i].err;
	}
	while ((f = strtok_r(NULL, ":", &save))) {
		if (!strcmp(f, "once"))
			r->once = true;
		else if (!strncmp(f, "after=", 6) &&
			 !parse_uint(f + 6, 0, UINT32_MAX, &r->after))
			;
		else
			return blk_open_fail(o, -EINVAL,
					     "inject: unknown flag '%s'", f);
	}
	return 0;
}

static int blkdebug_open(struct blk_node *node, struct blk_opts *o)
{
	struct blkdebug *d = calloc(1, sizeof(*d));
	char *copy, *save = NULL, *text;
	const char *rules = blk_opt(o, "inject", NULL);
	int r = 0;

	if (!d)
		return blk_open_fail(o, -ENOMEM, "out of memory");
	pthread_mutex_init(&d->mu, NULL);
	node->priv = d;
	copy = strdup(rules ? rules : "");
	for (text = strtok_r(copy, "+", &save); text && !r;
	     text = strtok_r(NULL, "+", &save)) {
		if (!strcmp(text, "trace"))
			d->trace = true;
		else if (d->n == MAX_RULES)
			r = blk_open_fail(o, -E2BIG, "inject: over %d rules",
					  MAX_RULES);
		else
			r = parse_rule(o, text, &d->rules[d->n++]);
	}
	free(copy);
	if (!r)
		r = blk_open_child(&node->file, "file", o);
	if (r)
		return r;
	node->size = node->file->size;
	node->block_size = node->file->block_size;
	node->readonly = node->file->readonly;
	node->can_discard = node->file->can_discard;
	/* The format's open and close read and write the file directly;
	 * requests go through blk_forward. Not closed here. */
	node->fd = node->file->fd;
	return 0;
}

static int blkdebug_submit(struct blk_node *node, struct blk_ctx *ctx,
			   struct blk_req *req)
{
	return blk_forward(node->file, ctx, req);
}

static void blkdebug_close(struct blk_node *node)
{
	struct blkdebug *d = node->priv;

	node->fd = -1; /* the file child's */
	if (d)
		pthread_mutex_destroy(&d->mu);
	free(d);
	node->priv = NULL;
}

const struct blk_driver blk_blkdebug_driver = {
	.name = "blkdebug",
	.kind = BLK_DRV_PROTOCOL,
	.filter = true,
	.open = blkdebug_open,
	.submit = blkdebug_submit,
	.close = blkdebug_close,
};

int blk_open_file_child(struct blk_node *node, struct blk_opts *opts)
{
	bool inject;

	blk_opt(opts, "inject", &inject);
	return blk_open_child(&node->file, inject ? "blkdebug" : "file", opts);
}

int blk_co_event(struct blk_co *co, struct blk_node *file, enum blk_event ev)
{
	struct blkdebug *d;
	int err = 0;

	if (!file || file->drv != &blk_blkdebug_driver)
		return 0;
	d = file->priv;
	pthread_mutex_lock(&d->mu);
	if (d->trace && d->nseen < TRACE_MAX)
		d->seen[d->nseen++] = (uint8_t)ev;
	for (unsigned i = 0; i < d->n; i++) {
		struct rule *r = &d->rules[i];
		uint64_t ticket;

		if (r->ev != ev || ++r->seen <= r->after ||
		    (r->once && r->fired))
			continue;
		r->fired++;
		switch (r->action) {
		case INJECT: err = -r->err; break;
		case KILL: raise(SIGKILL); break;
		case BREAK:
			ticket = r->arrived++;
			while (r->let <= ticket)
				blk_co_wait(co, &r->wq, &d->mu);
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return err;
}

/* The blkdebug node at or under node. */
static struct blkdebug *find(struct blk_node *node)
{
	for (; node; node = node->file)
		if (node->drv == &blk_blkdebug_driver)
			return node->priv;
	return NULL;
}

int blkdebug_suspended(struct blk_node *node, const char *event)
{
	struct blkdebug *d = find(node);
	int ev = event_of(event), n = 0;

	if (!d || ev < 0)
		return -ENOENT;
	pthread_mutex_lock(&d->mu);
	for (unsigned i = 0; i < d->n; i++)
		if (d->rules[i].ev == (enum blk_event)ev &&
		    d->rules[i].action == BREAK)
			n += (int)(d->rules[i].arrived - d->rules[i].let);
	pthread_mutex_unlock(&d->mu);
	return n;
}

int blkdebug_trace(struct blk_node *node, char *out, size_t len)
{
	struct blkdebug *d = find(node);
	size_t used = 0;

	if (!d || !len)
		return -ENOENT;
	out[0] = 0;
	pthread_mutex_lock(&d->mu);
	for (unsigned i = 0; i < d->nseen; i++) {
		int n = snprintf(out + used, len - used, "%s%s", i ? " " : "",
				 event_names[d->seen[i]]);

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	pthread_mutex_unlock(&d->mu);
	return 0;
}

int blkdebug_resume(struct blk_node *node, const char *event)
{
	struct blkdebug *d = find(node);
	int ev = event_of(event);

	if (!d || ev < 0)
		return -ENOENT;
	pthread_mutex_lock(&d->mu);
	for (unsigned i = 0; i < d->n; i++) {
		struct rule *r = &d->rules[i];

		if (r->ev != (enum blk_event)ev || r->action != BREAK)
			continue;
		r->let = r->arrived;
		blk_co_wake_all_remote(&r->wq);
	}
	pthread_mutex_unlock(&d->mu);
	return 0;
}
