/* Pure parser; main thread at start-up. */
#include "blk_opts.h"

#include <errno.h>
#include <string.h>

#include "block/drivers.h"
#include "lib/parse.h"

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

/* A format from the block layer's driver table. */
static int parse_format(const char *val, struct vblk_config *cfg,
			const char **why)
{
	if (cfg->format)
		return fail(why, "format given twice");
	if (strcmp(val, "auto") && !blk_driver_find(val, BLK_DRV_FORMAT))
		return fail(why, "format must be one of: " BLK_FORMAT_NAMES
				 ", auto");
	cfg->format = val;
	return 0;
}

/* A poll window's maximum, ns: 0 (never poll) to VBLK_POLL_MAX_NS. */
static int parse_poll_ns(const char *val, uint32_t *ns)
{
	uint64_t n;

	if (parse_uint(val, 0, VBLK_POLL_MAX_NS, &n))
		return -EINVAL;
	*ns = (uint32_t)n;
	return 0;
}

static int parse_key(char *kv, struct vblk_config *cfg, const char **why)
{
	char *val = strchr(kv, '=');
	uint64_t n;

	if (!strcmp(kv, "readonly")) {
		cfg->readonly = true;
		return 0;
	}
	if (!val)
		return fail(why, "unknown option");
	*val++ = 0;
	if (!strcmp(kv, "format"))
		return parse_format(val, cfg, why);
	if (!strcmp(kv, "cache")) {
		if (!strcmp(val, "none"))
			cfg->direct = true;
		else if (!strcmp(val, "writeback"))
			cfg->direct = false;
		else
			return fail(why, "cache must be none or writeback");
		return 0;
	}
	if (!strcmp(kv, "queues")) {
		if (parse_uint(val, 1, VBLK_MAX_QUEUES, &n))
			return fail(why, "queues must be 1 to 8");
		cfg->queues = (unsigned)n;
		return 0;
	}
	if (!strcmp(kv, "poll_max_ns"))
		return parse_poll_ns(val, &cfg->poll_max_ns)
			       ? fail(why,
				      "poll_max_ns must be 0 to 1000000000")
			       : 0;
	if (!strcmp(kv, "poll_host_max_ns"))
		return parse_poll_ns(val, &cfg->poll_host_max_ns)
			       ? fail(why, "poll_host_max_ns must be 0 to "
					   "1000000000")
			       : 0;
	if (!strcmp(kv, "serial")) {
		if (strlen(val) > VBLK_ID_BYTES)
			return fail(why, "serial is longer than 20 bytes");
		memset(cfg->serial, 0, sizeof(cfg->serial));
		memcpy(cfg->serial, val, strlen(val));
		return 0;
	}
	return fail(why, "unknown option");
}

int vblk_parse_opt(char *arg, struct vblk_config *cfg, const char **why)
{
	char *save = NULL, *tok;

	memset(cfg, 0, sizeof(*cfg));
	cfg->queues = 1;
	cfg->poll_max_ns = VBLK_POLL_DEFAULT_NS;
	cfg->poll_host_max_ns = VBLK_POLL_HOST_DEFAULT_NS;
	cfg->path = strtok_r(arg, ",", &save);
	if (!cfg->path || arg[0] == ',')
		return fail(why, "no path");
	while ((tok = strtok_r(NULL, ",", &save)))
		if (parse_key(tok, cfg, why))
			return -EINVAL;
	return 0;
}
