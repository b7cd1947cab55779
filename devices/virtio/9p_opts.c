/* Pure parser; main thread at start-up. */
#include "9p_opts.h"

#include <errno.h>
#include <string.h>

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

static int parse_key(char *kv, struct v9p_config *cfg, const char **why)
{
	char *val = strchr(kv, '=');

	if (!strcmp(kv, "readonly")) {
		cfg->readonly = true;
		return 0;
	}
	if (!val)
		return fail(why, "unknown option");
	*val++ = 0;
	if (!strcmp(kv, "tag")) {
		/* Linux takes the tag as the mount's device name. */
		if (!*val || strlen(val) > V9P_TAG_MAX)
			return fail(why, "tag must be 1 to 255 bytes");
		cfg->tag = val;
		return 0;
	}
	if (!strcmp(kv, "security")) {
		if (!strcmp(val, "passthrough"))
			cfg->security = FS9P_PASSTHROUGH;
		else if (!strcmp(val, "mapped"))
			cfg->security = FS9P_MAPPED;
		else
			return fail(why,
				    "security must be passthrough or mapped");
		return 0;
	}
	return fail(why, "unknown option");
}

int v9p_parse_opt(char *arg, struct v9p_config *cfg, const char **why)
{
	char *save = NULL, *tok;

	memset(cfg, 0, sizeof(*cfg));
	cfg->security = FS9P_PASSTHROUGH;
	cfg->path = strtok_r(arg, ",", &save);
	if (!cfg->path || arg[0] == ',')
		return fail(why, "no directory");
	if (strchr(cfg->path, '='))
		return fail(why, "the directory must come first");
	while ((tok = strtok_r(NULL, ",", &save)))
		if (parse_key(tok, cfg, why))
			return -EINVAL;
	if (!cfg->tag)
		return fail(why, "no tag=");
	return 0;
}
