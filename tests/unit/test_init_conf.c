/* The guest init's configuration parser (guest/init/conf.c), built on
 * the host, and the init binary's refusal to run as anything but PID 1
 * (the only part of it that is safe to run here). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/init/conf.c"

#define BASE "mode=rig\0tag=vmmroot\0msize=524288\0cache=loose\0"
#define USER "uid=0\0gid=0\0cwd=/\0arg=true\0"

static int parse_lit(const char *lit, size_t len, struct init_conf *c,
		     const char **why)
{
	static char buf[4096];

	memcpy(buf, lit, len);
	return init_conf_parse(buf, len, c, why);
}

#define PARSE(lit, c, why) parse_lit(lit, sizeof(lit) - 1, c, why)

Test(init_conf, minimal_rig_config)
{
	struct init_conf c;
	const char *why = NULL;

	cr_assert_eq(PARSE(BASE USER, &c, &why), 0, "%s", why);
	cr_assert_eq(c.mode, INIT_MODE_RIG);
	cr_assert_eq(c.msize, 524288);
	cr_assert_eq(c.argc, 1);
	cr_assert_str_eq(c.argv[0], "true");
	cr_assert_null(c.argv[1]);
	cr_assert_null(c.env[0]);
	cr_assert_eq(c.nr_groups, 0);
}

Test(init_conf, values_keep_every_byte_but_nul)
{
	struct init_conf c;
	const char *why = NULL;

	cr_assert_eq(PARSE(BASE USER "arg=a=b\n\"c\" 'd'\xff\0"
				     "env=X=1=2\0groups=\0",
			   &c, &why),
		     0, "%s", why);
	cr_assert_str_eq(c.argv[1], "a=b\n\"c\" 'd'\xff");
	cr_assert_str_eq(c.env[0], "X=1=2");
}

struct bad {
	const char *text;
	size_t len;
	const char *why;
};

#define BAD(lit, w)                                                            \
	{                                                                      \
		lit, sizeof(lit) - 1, w                                        \
	}

Test(init_conf, hostile_configs_refused)
{
	static const struct bad bad[] = {
		BAD("", "empty, too big or not NUL-terminated"),
		BAD(BASE USER "arg=x", "empty, too big or not NUL-terminated"),
		BAD(BASE USER "noequals\0", "a record is not key=value"),
		BAD(BASE USER "=x\0", "a record is not key=value"),
		BAD(BASE USER "bogus=1\0", "unknown key"),
		BAD(BASE USER "mode=other\0", "mode= is not root or rig"),
		BAD(BASE USER "uid=-1\0", "uid= or gid= is not a number"),
		BAD(BASE USER "uid=12x\0", "uid= or gid= is not a number"),
		BAD(BASE USER "uid=4294967295\0",
		    "uid= or gid= is not a number"),
		BAD(BASE USER "msize=100\0",
		    "msize= is not a number from 4096 to 1 GiB"),
		BAD(BASE USER "cwd=rel\0", "cwd= is not absolute"),
		BAD(BASE USER "tmpfs=tmp\0", "a directory is not absolute"),
		BAD(BASE USER "share=/x\0", "share= needs TAG:DIR"),
		BAD(BASE USER "share=t,a:/x\0",
		    "share= needs a plain tag and an absolute directory"),
		BAD(BASE USER "tag=a,trans=fd\0",
		    "a tag or cache mode is not a plain word"),
		BAD(BASE USER "cache=loose,debug=1\0",
		    "a tag or cache mode is not a plain word"),
		BAD(BASE USER "opost=yes\0", "a flag is not 0 or 1"),
		BAD(BASE USER "groups=1,,x\0", "a group id is not a number"),
		BAD(BASE USER "env=NOVALUE\0",
		    "env= is not NAME=VALUE or too many"),
		BAD(BASE USER "module=rel.ko\0",
		    "a module path is not absolute"),
		BAD(BASE USER "init=sbin/init\0", "init= is not absolute"),
		BAD("tag=t\0msize=4096\0cache=none\0", "no mode="),
		BAD("mode=rig\0msize=4096\0cache=none\0" USER,
		    "the root share needs tag=, cache= and msize="),
		BAD(BASE "uid=0\0gid=0\0cwd=/\0",
		    "rig mode needs arg=, uid=, gid=, cwd= (and sharecache= "
		    "with share=)"),
		BAD(BASE USER "share=t:/x\0",
		    "rig mode needs arg=, uid=, gid=, cwd= (and sharecache= "
		    "with share=)"),
	};
	struct init_conf c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		cr_assert_eq(parse_lit(bad[i].text, bad[i].len, &c, &why),
			     -EINVAL, "case %zu", i);
		cr_assert_str_eq(why, bad[i].why, "case %zu", i);
	}
}

Test(init_conf, too_many_arguments_refused)
{
	size_t per = strlen("arg=x") + 1, len = sizeof(BASE USER) - 1;
	size_t total = len + (INIT_CONF_MAX_ARGS + 1) * per;
	char *buf = malloc(total);
	struct init_conf *c = malloc(sizeof(*c));
	const char *why = NULL;

	memcpy(buf, BASE USER, len);
	/* One more than the limit, every byte of the buffer written
	 * (valgrind found the last record left uninitialised). */
	for (size_t i = 0; i < INIT_CONF_MAX_ARGS + 1; i++)
		memcpy(buf + len + i * per, "arg=x", per);
	cr_assert_eq(init_conf_parse(buf, total, c, &why), -EINVAL);
	cr_assert_str_eq(why, "too many arguments");
	free(buf);
	free(c);
}

Test(init_conf, root_mode_needs_no_command)
{
	struct init_conf c;
	const char *why = NULL;

	cr_assert_eq(PARSE("mode=root\0tag=r\0msize=4096\0cache=loose\0"
			   "rootro=0\0init=/bin/sh\0",
			   &c, &why),
		     0, "%s", why);
	cr_assert_eq(c.mode, INIT_MODE_ROOT);
	cr_assert_str_eq(c.init, "/bin/sh");
}

/* Safe on the host: the init checks it is PID 1 before anything else. */
Test(init_conf, init_binary_refuses_to_run_as_other_than_pid1)
{
	char bin[4096], out[256] = "";
	ssize_t len = readlink("/proc/self/exe", bin, sizeof(bin) - 32);
	int fds[2], st;
	pid_t pid;
	ssize_t n;

	/* $(BUILD)/tests/test_init_conf -> $(BUILD)/guest-init */
	cr_assert_gt(len, 0);
	bin[len] = '\0';
	strcpy(strrchr(bin, '/'), "/../guest-init");
	if (access(bin, X_OK))
		cr_skip_test("no built init at %s", bin);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		execl(bin, bin, (char *)NULL);
		_exit(99);
	}
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	cr_assert_gt(n, 0);
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 125);
	cr_assert_str_eq(out, "vmm-init: must run as PID 1 of a vmm guest\n");
}
