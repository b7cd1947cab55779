/* The --9p option parser: what it accepts and a table of what it
 * refuses, each with its phrase. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/9p_opts.h"

static int parse(const char *s, struct v9p_config *c, const char **why)
{
	static char buf[600];

	strcpy(buf, s);
	*why = "";
	return v9p_parse_opt(buf, c, why);
}

Test(v9p_opts, minimal_and_full)
{
	struct v9p_config c;
	const char *why;

	cr_assert_eq(parse("/srv/share,tag=share", &c, &why), 0);
	cr_assert_str_eq(c.path, "/srv/share");
	cr_assert_str_eq(c.tag, "share");
	cr_assert_eq(c.security, FS9P_PASSTHROUGH);
	cr_assert_not(c.readonly);
	cr_assert_eq(parse("d,readonly,security=mapped,tag=a=b", &c, &why), 0);
	cr_assert_str_eq(c.path, "d");
	cr_assert_str_eq(c.tag, "a=b");
	cr_assert_eq(c.security, FS9P_MAPPED);
	cr_assert(c.readonly);
	cr_assert_eq(parse("d,tag=x,security=passthrough", &c, &why), 0);
	cr_assert_eq(c.security, FS9P_PASSTHROUGH);
}

Test(v9p_opts, tag_of_255_bytes_but_not_256)
{
	char s[300] = "d,tag=";
	struct v9p_config c;
	const char *why;

	memset(s + 6, 't', 255);
	cr_assert_eq(parse(s, &c, &why), 0);
	cr_assert_eq(strlen(c.tag), V9P_TAG_MAX);
	s[6 + 255] = 't';
	s[6 + 256] = 0;
	cr_assert_eq(parse(s, &c, &why), -EINVAL);
	cr_assert_str_eq(why, "tag must be 1 to 255 bytes");
}

Test(v9p_opts, malformed)
{
	static const struct {
		const char *arg, *why;
	} bad[] = {
		{ "", "no directory" },
		{ ",tag=x", "no directory" },
		{ "tag=x", "the directory must come first" },
		{ "d", "no tag=" },
		{ "d,readonly", "no tag=" },
		{ "d,tag=", "tag must be 1 to 255 bytes" },
		{ "d,tag=x,security=none",
		  "security must be passthrough or mapped" },
		{ "d,tag=x,security=",
		  "security must be passthrough or mapped" },
		{ "d,tag=x,bogus", "unknown option" },
		{ "d,tag=x,cache=none", "unknown option" },
		{ "d,tag=x,readonly=1", "unknown option" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct v9p_config c;
		const char *why;
		cr_assert_eq(parse(bad[i].arg, &c, &why), -EINVAL, "'%s'",
			     bad[i].arg);
		cr_assert_str_eq(why, bad[i].why, "'%s'", bad[i].arg);
	}
}
