/* `vmm ctl` (ctl.h): one request to a control socket, one reply printed.
 * Main thread, the only thread of this process; nothing global. */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "lib/log.h"

#define ctl_error(...) log_line("vmm ctl: ", __VA_ARGS__)

/* Replies of later commands may be longer than a request line. */
#define CTL_REPLY_MAX (16 * API_LINE_MAX)

static const char usage_text[] =
	"usage: vmm ctl PATH COMMAND [KEY=VALUE...]\n\n"
	"Sends COMMAND to the control socket PATH of a vmm run started with\n"
	"--api PATH, prints the reply's \"return\" object as one JSON line and\n"
	"exits 0; an error reply is printed as \"vmm ctl: COMMAND: CODE: "
	"MESSAGE\"\non stderr and exits 1. KEY=VALUE pairs are the command's "
	"arguments: a\nVALUE that is a JSON number, true or false is sent as "
	"that, anything else\nas a string. Commands: query-status, pause, "
	"resume, quit, snapshot FILE,\nmigrate URI, query-migrate, "
	"migrate-cancel, migrate-set-parameters\n(docs/api.md). migrate "
	"waits for the migration to end, shows its progress\non a terminal, "
	"prints the final query-migrate and exits 0 only when the\n"
	"destination has taken over.\n";

/* VALUE as a JSON number or boolean when it is exactly one, else as a
 * string. */
static json_object *argument_value(const char *text)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *v = NULL;
	size_t len = strlen(text);

	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		v = json_tokener_parse_ex(tok, text, (int)len + 1);
		if (json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len ||
		    !(json_object_is_type(v, json_type_int) ||
		      json_object_is_type(v, json_type_double) ||
		      json_object_is_type(v, json_type_boolean))) {
			json_object_put(v);
			v = NULL;
		}
		json_tokener_free(tok);
	}
	return v ? v : json_object_new_string(text);
}

/* The request line, newline included (malloc'd), or NULL after one
 * line on stderr. */
static char *request_line(const char *command, int nargs, char **args,
			  const char *string_key, size_t *len)
{
	json_object *req = json_object_new_object(), *a = NULL;
	const char *text;
	char *line = NULL;

	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "command", json_object_new_string(command));
	for (int i = 0; i < nargs; i++) {
		char *eq = strchr(args[i], '=');

		if (!eq || eq == args[i]) {
			ctl_error("argument '%s' is not KEY=VALUE", args[i]);
			json_object_put(req);
			json_object_put(a);
			return NULL;
		}
		if (!a)
			a = json_object_new_object();
		*eq = 0;
		json_object_object_add(
			a, args[i],
			string_key && !strcmp(args[i], string_key)
				? json_object_new_string(eq + 1)
				: argument_value(eq + 1));
		*eq = '=';
	}
	if (a)
		json_object_object_add(req, "arguments", a);
	text = json_object_to_json_string_ext(
		req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	*len = strlen(text) + 1;
	line = malloc(*len);
	if (line) {
		memcpy(line, text, *len - 1);
		line[*len - 1] = '\n';
	}
	json_object_put(req);
	if (!line)
		ctl_error("out of memory");
	return line;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, e;

	if (!*path || strlen(path) >= sizeof(a.sun_path)) {
		ctl_error("%s: not a socket path (1 to %zu bytes)", path,
			  sizeof(a.sun_path) - 1);
		return -EINVAL;
	}
	memcpy(a.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return fd;
	e = errno;
	ctl_error("%s: cannot connect: %s", path, strerror(e));
	if (fd >= 0)
		close(fd);
	return -e;
}

static bool send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads up to the first newline; returns the line without it (malloc'd,
 * NUL-terminated) or NULL with *why set. */
static char *read_reply(int fd, const char **why)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n;
		char *nl;

		if (len + 1 == cap) {
			char *bigger = cap < CTL_REPLY_MAX
					       ? realloc(buf, cap * 2)
					       : NULL;
			if (!bigger) {
				*why = "the reply is too long";
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why = n ? strerror(errno)
				 : "the connection closed without a reply";
			break;
		}
		len += (size_t)n;
		nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = 0;
			return buf;
		}
	}
	if (!buf)
		*why = "out of memory";
	free(buf);
	return NULL;
}

/* Prints the reply's result; returns the exit status. */
static int show_reply(const char *command, const char *line)
{
	json_object *reply = json_tokener_parse(line), *v, *code, *msg;
	int status = 1;

	if (json_object_object_get_ex(reply, "return", &v) &&
	    json_object_is_type(v, json_type_object)) {
		printf("%s\n",
		       json_object_to_json_string_ext(
			       v, JSON_C_TO_STRING_PLAIN |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
		status = fflush(stdout) ? 1 : 0;
	} else if (json_object_object_get_ex(reply, "error", &v) &&
		   json_object_object_get_ex(v, "code", &code) &&
		   json_object_object_get_ex(v, "message", &msg) &&
		   json_object_is_type(code, json_type_string) &&
		   json_object_is_type(msg, json_type_string)) {
		ctl_error("%s: %s: %s", command, json_object_get_string(code),
			  json_object_get_string(msg));
	} else {
		ctl_error("%s: the reply is not a vmm API reply: %.80s",
			  command, line);
	}
	json_object_put(reply);
	return status;
}

/* Sends the request line req and reads its reply line (malloc'd), or
 * NULL after one line on stderr. */
static char *exchange(int fd, const char *command, const char *req, size_t len)
{
	const char *why = "";
	char *reply = NULL;

	if (!send_all(fd, req, len))
		ctl_error("%s: sending the request: %s", command,
			  strerror(errno));
	else if (!(reply = read_reply(fd, &why)))
		ctl_error("%s: %s", command, why);
	return reply;
}

static const char *member_string(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
			       json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

static uint64_t member_u64(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v)
		       ? (uint64_t)json_object_get_int64(v)
		       : 0;
}

static void show_progress(json_object *ret)
{
	fprintf(stderr,
		"\rmigrate: round %llu, %llu MiB left, %llu MiB sent, "
		"%llu MiB/s, %llu dirty pages/s, throttle %llu%%   ",
		(unsigned long long)member_u64(ret, "round"),
		(unsigned long long)member_u64(ret, "remaining-bytes") >> 20,
		(unsigned long long)member_u64(ret, "transferred-bytes") >> 20,
		(unsigned long long)member_u64(ret, "bandwidth-bytes-per-s") >>
			20,
		(unsigned long long)member_u64(ret, "dirty-pages-rate"),
		(unsigned long long)member_u64(ret, "throttle-percent"));
}

/* After `migrate` was accepted: query-migrate every 100 ms until the
 * migration ends. 0 only when the destination took over. */
static int follow_migration(int fd)
{
	bool tty = isatty(STDERR_FILENO), shown = false;
	int status = 1;
	size_t len;
	char *req = request_line("query-migrate", 0, NULL, NULL, &len);

	while (req) {
		char *line = exchange(fd, "query-migrate", req, len);
		json_object *reply, *ret;
		const char *st;

		if (!line) {
			ctl_error("migrate: the connection closed before the "
				  "migration ended");
			break;
		}
		reply = json_tokener_parse(line);
		free(line);
		if (!json_object_object_get_ex(reply, "return", &ret)) {
			ctl_error("migrate: query-migrate failed");
			json_object_put(reply);
			break;
		}
		st = member_string(ret, "status");
		if (strcmp(st, "active")) {
			if (shown)
				fputc('\n', stderr);
			if (!strcmp(st, "completed")) {
				printf("%s\n",
				       json_object_to_json_string_ext(
					       ret, JSON_C_TO_STRING_PLAIN));
				status = fflush(stdout) ? 1 : 0;
			} else if (!strcmp(st, "failed")) {
				ctl_error("migrate: failed: %s",
					  member_string(ret, "error"));
			} else {
				ctl_error("migrate: %s", st);
			}
			json_object_put(reply);
			break;
		}
		if (tty) {
			show_progress(ret);
			shown = true;
		}
		json_object_put(reply);
		usleep(100 * 1000);
	}
	free(req);
	return status;
}

static bool is_return(const char *line)
{
	json_object *reply = json_tokener_parse(line), *v;
	bool ok = json_object_object_get_ex(reply, "return", &v);

	json_object_put(reply);
	return ok;
}

/* Commands whose first argument may be given bare: `snapshot FILE`,
 * `migrate URI`. */
static const struct {
	const char *command, *key;
} positional[] = { { "snapshot", "path" }, { "migrate", "uri" } };

int ctl_command(int argc, char **argv)
{
	char *reply, *req, *bare = NULL;
	const char *string_key = NULL;
	size_t len;
	int fd, status;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc < 3) {
		ctl_error("usage: vmm ctl PATH COMMAND [KEY=VALUE...]");
		return 2;
	}
	for (size_t i = 0; i < sizeof(positional) / sizeof(positional[0]);
	     i++) {
		size_t k = strlen(positional[i].key);
		if (argc > 3 && !strcmp(argv[2], positional[i].command) &&
		    !(!strncmp(argv[3], positional[i].key, k) &&
		      argv[3][k] == '=')) {
			if (asprintf(&bare, "%s=%s", positional[i].key,
				     argv[3]) < 0)
				return 1;
			argv[3] = bare;
			/* A path or URI, however it looks. */
			string_key = positional[i].key;
		}
	}
	/* A bad command line is refused before connecting (status 2). */
	req = request_line(argv[2], argc - 3, argv + 3, string_key, &len);
	if (!req) {
		free(bare);
		return 2;
	}
	fd = connect_to(argv[1]);
	if (fd < 0) {
		free(req);
		free(bare);
		return 1;
	}
	reply = exchange(fd, argv[2], req, len);
	free(req);
	if (!reply) {
		status = 1;
	} else if (!strcmp(argv[2], "migrate") && is_return(reply)) {
		free(reply);
		status = follow_migration(fd);
	} else {
		status = show_reply(argv[2], reply);
		free(reply);
	}
	free(bare);
	close(fd);
	return status;
}
