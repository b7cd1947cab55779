/* Opening and closing node stacks: options, format dispatch through the
 * driver table, children. Main thread (start-up and shutdown); no locks:
 * a node is not in use while it opens or closes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "lib/log.h"

int blk_opts_add(struct blk_opts *o, const char *key, const char *val)
{
	if (!key || !*key)
		return -EINVAL;
	for (unsigned i = 0; i < o->n; i++)
		if (!strcmp(o->kv[i].key, key))
			return -EINVAL;
	if (o->n == BLK_OPTS_MAX)
		return -E2BIG;
	o->kv[o->n].key = key;
	o->kv[o->n].val = val;
	o->n++;
	return 0;
}

static int index_of(const struct blk_opts *o, const char *key)
{
	for (unsigned i = 0; i < o->n; i++)
		if (!strcmp(o->kv[i].key, key))
			return (int)i;
	return -1;
}

const char *blk_opt(struct blk_opts *o, const char *key, bool *present)
{
	int i = index_of(o, key);

	if (present)
		*present = i >= 0;
	if (i < 0)
		return NULL;
	o->used |= 1u << i;
	return o->kv[i].val ? o->kv[i].val : "";
}

int blk_opt_bool(struct blk_opts *o, const char *key, bool def, bool *out)
{
	bool present;
	const char *v = blk_opt(o, key, &present);

	*out = def;
	if (!present)
		return 0;
	if (!*v || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "off"))
		*out = false;
	else
		return blk_open_fail(o, -EINVAL, "%s must be on or off", key);
	return 0;
}

int blk_open_fail(struct blk_opts *o, int err, const char *fmt, ...)
{
	int i = index_of(o, "path");
	const char *path =
		i >= 0 && o->kv[i].val && *o->kv[i].val ? o->kv[i].val : NULL;
	size_t len;
	va_list ap;

	if (o->why[0])
		return err; /* the first failure is the cause */
	snprintf(o->why, sizeof(o->why), "disk%s%s: ", path ? " " : "",
		 path ? path : "");
	len = strlen(o->why);
	va_start(ap, fmt);
	vsnprintf(o->why + len, sizeof(o->why) - len, fmt, ap);
	va_end(ap);
	return err;
}

/* Opens node with drv; on failure node is closed again. */
static int open_with(struct blk_node *node, const struct blk_driver *drv,
		     struct blk_opts *o)
{
	int r;

	memset(node, 0, sizeof(*node));
	node->fd = -1;
	node->drv = drv;
	r = drv->open(node, o);
	if (r)
		blk_close(node);
	return r;
}

static const struct blk_driver *format_of(struct blk_opts *o)
{
	bool present;
	const char *name = blk_opt(o, "format", &present);
	const char *path = blk_opt(o, "path", NULL);
	const struct blk_driver *d;

	if (present && !strcmp(name, "auto") && path)
		name = blk_probe_format(path);
	d = blk_driver_find(present ? name : "raw", BLK_DRV_FORMAT);

	if (!d)
		blk_open_fail(o, -EINVAL,
			      "unknown format '%s' (known: " BLK_FORMAT_NAMES
			      ")",
			      name);
	return d;
}

int blk_open_child(struct blk_node **slot, const char *protocol,
		   struct blk_opts *opts)
{
	const struct blk_driver *d =
		protocol ? blk_driver_find(protocol, BLK_DRV_PROTOCOL)
			 : format_of(opts);
	struct blk_node *child;
	int r;

	if (!d)
		return protocol ? blk_open_fail(opts, -EINVAL,
						"no protocol '%s'", protocol)
				: -EINVAL;
	child = malloc(sizeof(*child));
	if (!child)
		return blk_open_fail(opts, -ENOMEM, "out of memory");
	r = open_with(child, d, opts);
	if (r) {
		free(child);
		return r;
	}
	*slot = child;
	return 0;
}

static int check_all_used(struct blk_opts *o)
{
	for (unsigned i = 0; i < o->n; i++)
		if (!(o->used & (1u << i)))
			return blk_open_fail(o, -EINVAL, "unknown option '%s'",
					     o->kv[i].key);
	return 0;
}

int blk_open(struct blk_node *node, struct blk_opts *opts)
{
	const struct blk_driver *d;
	int r;

	memset(node, 0, sizeof(*node));
	node->fd = -1;
	opts->used = 0;
	opts->why[0] = 0;
	d = format_of(opts);
	r = d ? open_with(node, d, opts) : -EINVAL;
	if (!r) {
		r = check_all_used(opts);
		if (r)
			blk_close(node);
	}
	if (r && !opts->why[0])
		blk_open_fail(opts, r, "%s", strerror(-r));
	if (r)
		log_error("%s", opts->why);
	return r;
}

static void close_child(struct blk_node **slot)
{
	if (*slot) {
		blk_close(*slot);
		free(*slot);
		*slot = NULL;
	}
}

int blk_close_rules(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pread64), 0);

	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64),
				     0);
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fdatasync),
				     0);
	if (!r) /* qcow2 trims its preallocated end */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ftruncate),
				     0);
	return r;
}

void blk_close(struct blk_node *node)
{
	if (node->drv && node->drv->close)
		node->drv->close(node);
	node->drv = NULL;
	close_child(&node->file);
	close_child(&node->backing);
}

static int inactivate_stack(struct blk_node *node)
{
	int r = 0;

	if (!node || node->inactive)
		return 0;
	/* The format first: its metadata goes to its file, then the file
	 * is synced; a backing image is read-only and writes nothing. */
	if (node->drv && node->drv->inactivate)
		r = node->drv->inactivate(node);
	if (!r)
		r = inactivate_stack(node->file);
	if (!r)
		r = inactivate_stack(node->backing);
	return r;
}

void blk_mark_inactive(struct blk_node *node)
{
	if (!node)
		return;
	node->inactive = true;
	blk_mark_inactive(node->file);
	blk_mark_inactive(node->backing);
}

static void activate_stack(struct blk_node *node)
{
	if (!node)
		return;
	activate_stack(node->backing);
	activate_stack(node->file);
	if (node->drv && node->drv->activate)
		node->drv->activate(node);
	node->inactive = false;
}

int blk_inactivate(struct blk_node *node)
{
	int r = inactivate_stack(node);

	if (r)
		activate_stack(node); /* what was handed over, taken back */
	else
		blk_mark_inactive(node);
	return r;
}

void blk_activate(struct blk_node *node)
{
	activate_stack(node);
}

int blk_reopen(struct blk_node *node, struct blk_opts *opts)
{
	struct blk_node fresh;
	int r = blk_open(&fresh, opts);

	if (r)
		return r;
	blk_close(node);
	*node = fresh;
	return 0;
}
