/* The init's configuration parser (conf.h). Runs in the guest's PID 1
 * before anything else, and in vmm's unit tests; no state outside the
 * struct it fills. Every value is checked here so that the init's
 * mount and exec code only sees well-formed input. */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool absolute(const char *s)
{
	return s[0] == '/';
}

/* A 9p tag or cache mode: short, letters, digits, '_' and '-'. */
static bool plain_word(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int add(const char **list, unsigned *n, unsigned max, const char *v)
{
	if (*n >= max)
		return -1;
	list[(*n)++] = v;
	return 0;
}

static const char *set_groups(struct init_conf *c, char *v)
{
	char *save = NULL;
	unsigned long g;

	c->nr_groups = 0;
	if (!*v)
		return NULL;
	for (char *t = strtok_r(v, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!parse_ulong(t, UINT_MAX - 1, &g))
			return "a group id is not a number";
		if (c->nr_groups == INIT_CONF_MAX_GROUPS)
			return "too many groups";
		c->groups[c->nr_groups++] = (gid_t)g;
	}
	return NULL;
}

static const char *set_share(struct init_conf *c, char *v)
{
	char *colon = strchr(v, ':');

	if (!colon)
		return "share= needs TAG:DIR";
	*colon = '\0';
	if (!plain_word(v) || !absolute(colon + 1))
		return "share= needs a plain tag and an absolute directory";
	if (c->nr_shares == INIT_CONF_MAX_SHARES)
		return "too many shares";
	c->shares[c->nr_shares++] = (struct init_share){ v, colon + 1 };
	return NULL;
}

static const char *set_id(bool *has, unsigned *out, const char *v)
{
	unsigned long n;

	if (!parse_ulong(v, UINT_MAX - 1, &n))
		return "uid= or gid= is not a number";
	*has = true;
	*out = (unsigned)n;
	return NULL;
}

static const char *set_flag(bool *out, const char *v)
{
	if (strcmp(v, "0") && strcmp(v, "1"))
		return "a flag is not 0 or 1";
	*out = v[0] == '1';
	return NULL;
}

static const char *set_mode(struct init_conf *c, const char *v)
{
	if (!strcmp(v, "root"))
		c->mode = INIT_MODE_ROOT;
	else if (!strcmp(v, "rig"))
		c->mode = INIT_MODE_RIG;
	else
		return "mode= is not root or rig";
	return NULL;
}

static const char *set_dir(const char **list, unsigned *n, const char *v)
{
	if (!absolute(v))
		return "a directory is not absolute";
	return add(list, n, INIT_CONF_MAX_DIRS, v) ? "too many directories"
						   : NULL;
}

static const char *set_word(const char **out, const char *v)
{
	*out = v;
	return plain_word(v) ? NULL : "a tag or cache mode is not a plain word";
}

/* One record: key k, value v (both NUL-terminated, inside the buffer). */
static const char *apply(struct init_conf *c, const char *k, char *v)
{
	unsigned long n;

	if (!strcmp(k, "mode"))
		return set_mode(c, v);
	if (!strcmp(k, "module"))
		return add(c->modules, &c->nr_modules, INIT_CONF_MAX_MODULES, v)
			       ? "too many modules"
		       : absolute(v) ? NULL
				     : "a module path is not absolute";
	if (!strcmp(k, "tag"))
		return set_word(&c->tag, v);
	if (!strcmp(k, "cache"))
		return set_word(&c->cache, v);
	if (!strcmp(k, "sharecache"))
		return set_word(&c->share_cache, v);
	if (!strcmp(k, "msize")) {
		if (!parse_ulong(v, 1ul << 30, &n) || n < 4096)
			return "msize= is not a number from 4096 to 1 GiB";
		c->msize = n;
		return NULL;
	}
	if (!strcmp(k, "rootro"))
		return set_flag(&c->root_ro, v);
	if (!strcmp(k, "opost"))
		return set_flag(&c->opost, v);
	if (!strcmp(k, "init")) {
		c->init = v;
		return absolute(v) ? NULL : "init= is not absolute";
	}
	if (!strcmp(k, "tmpfs"))
		return set_dir(c->tmpfs, &c->nr_tmpfs, v);
	if (!strcmp(k, "overlay"))
		return set_dir(c->overlay, &c->nr_overlay, v);
	if (!strcmp(k, "share"))
		return set_share(c, v);
	if (!strcmp(k, "uid"))
		return set_id(&c->has_uid, &c->uid, v);
	if (!strcmp(k, "gid"))
		return set_id(&c->has_gid, &c->gid, v);
	if (!strcmp(k, "groups"))
		return set_groups(c, v);
	if (!strcmp(k, "cwd")) {
		c->cwd = v;
		return absolute(v) ? NULL : "cwd= is not absolute";
	}
	if (!strcmp(k, "env"))
		return strchr(v, '=') && v[0] != '=' &&
				       !add(c->env, &c->nr_env,
					    INIT_CONF_MAX_ENV, v)
			       ? NULL
			       : "env= is not NAME=VALUE or too many";
	if (!strcmp(k, "arg"))
		return add(c->argv, &c->argc, INIT_CONF_MAX_ARGS, v)
			       ? "too many arguments"
			       : NULL;
	return "unknown key";
}

static const char *check(const struct init_conf *c)
{
	if (c->mode == INIT_MODE_NONE)
		return "no mode=";
	if (!c->tag || !c->cache || !c->msize)
		return "the root share needs tag=, cache= and msize=";
	if (c->mode == INIT_MODE_RIG &&
	    (!c->argc || !c->has_uid || !c->has_gid || !c->cwd ||
	     (c->nr_shares && !c->share_cache)))
		return "rig mode needs arg=, uid=, gid=, cwd= (and sharecache= "
		       "with share=)";
	return NULL;
}

int init_conf_parse(char *buf, size_t len, struct init_conf *c,
		    const char **why)
{
	size_t off = 0;

	memset(c, 0, sizeof(*c));
	if (len == 0 || len > INIT_CONF_MAX_SIZE || buf[len - 1] != '\0') {
		*why = "empty, too big or not NUL-terminated";
		return -EINVAL;
	}
	while (off < len) {
		char *rec = buf + off, *eq = strchr(rec, '=');
		off += strlen(rec) + 1;
		if (!eq || eq == rec) {
			*why = "a record is not key=value";
			return -EINVAL;
		}
		*eq = '\0';
		*why = apply(c, rec, eq + 1);
		if (*why)
			return -EINVAL;
	}
	*why = check(c);
	return *why ? -EINVAL : 0;
}
