/* The control socket's protocol: framing, parsing, the command table and
 * the replies (api.h). Runs on whichever thread feeds a session (the API
 * thread, or a unit test); a session has no lock, the commands' effects
 * are the ops' business. Every byte here comes from a client: the line
 * limit, the NUL check and json-c's strict parser stand between it and
 * the commands. */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Deep enough for any request the commands take; json-c's own limit
 * would be 32. */
#define API_JSON_DEPTH 16

static const char *const error_names[API_ERROR_COUNT] = {
	[API_BAD_REQUEST] = "BadRequest",
	[API_UNKNOWN_COMMAND] = "UnknownCommand",
	[API_WRONG_STATE] = "WrongState",
	[API_FAILED] = "Failed",
	[API_BUSY] = "Busy",
};

const char *api_error_name(enum api_error e)
{
	return (unsigned)e < API_ERROR_COUNT ? error_names[e] : "Failed";
}

/* What a command answers: ret (a new object, or NULL for {}) or an
 * error with its message. */
struct api_result {
	json_object *ret;
	bool failed;
	enum api_error code;
	char message[160];
};

__attribute__((format(printf, 3, 4))) static void
fail(struct api_result *r, enum api_error code, const char *fmt, ...)
{
	va_list ap;

	r->failed = true;
	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

static bool no_arguments(json_object *args, struct api_result *r)
{
	if (args && json_object_object_length(args)) {
		fail(r, API_BAD_REQUEST, "this command takes no arguments");
		return false;
	}
	return true;
}

static void cmd_query_status(const struct api_ops *ops, json_object *args,
			     struct api_result *r)
{
	if (!no_arguments(args, r))
		return;
	r->ret = json_object_new_object();
	if (!r->ret) {
		fail(r, API_FAILED, "out of memory");
		return;
	}
	json_object_object_add(r->ret, "status",
			       json_object_new_string(ops->paused(ops->opaque)
							      ? "paused"
							      : "running"));
}

static void cmd_pause(const struct api_ops *ops, json_object *args,
		      struct api_result *r)
{
	int e;

	if (!no_arguments(args, r))
		return;
	e = ops->pause(ops->opaque);
	if (e == -EALREADY)
		fail(r, API_WRONG_STATE, "the VM is already paused");
	else if (e == -ESHUTDOWN)
		fail(r, API_WRONG_STATE, "the VM is stopping");
	else if (e)
		fail(r, API_FAILED, "pausing the vCPUs: %s", strerror(-e));
}

static void cmd_resume(const struct api_ops *ops, json_object *args,
		       struct api_result *r)
{
	int e;

	if (!no_arguments(args, r))
		return;
	e = ops->resume(ops->opaque);
	if (e == -EALREADY)
		fail(r, API_WRONG_STATE, "the VM is not paused");
	else if (e == -EBUSY)
		fail(r, API_WRONG_STATE,
		     "a snapshot or migration holds the VM paused");
	else if (e)
		fail(r, API_FAILED, "resuming the vCPUs: %s", strerror(-e));
}

static void cmd_quit(const struct api_ops *ops, json_object *args,
		     struct api_result *r)
{
	if (no_arguments(args, r))
		ops->quit(ops->opaque);
}

/* The one string argument `name` of a command that takes only it. */
static const char *string_argument(json_object *args, const char *name,
				   struct api_result *r)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, name, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_object_length(args) != 1) {
		fail(r, API_BAD_REQUEST,
		     "this command takes one argument, \"%s\", a string", name);
		return NULL;
	}
	if (!json_object_get_string_len(v)) {
		fail(r, API_BAD_REQUEST, "\"%s\" is empty", name);
		return NULL;
	}
	/* A NUL (\u0000) would cut it short: a snapshot of "/a\u0000b"
	 * must not go to "/a". */
	if (strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v)) {
		fail(r, API_BAD_REQUEST, "\"%s\" holds a NUL character", name);
		return NULL;
	}
	return json_object_get_string(v);
}

static bool have_jobs(const struct api_ops *ops, struct api_result *r)
{
	if (ops->snapshot)
		return true;
	fail(r, API_FAILED, "this VM has no migration worker");
	return false;
}

static json_object *new_return(struct api_result *r)
{
	r->ret = json_object_new_object();
	if (!r->ret)
		fail(r, API_FAILED, "out of memory");
	return r->ret;
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_ms(json_object *o, const char *key, uint64_t ns)
{
	json_object_object_add(o, key, json_object_new_double(ns / 1e6));
}

static void cmd_snapshot(const struct api_ops *ops, json_object *args,
			 struct api_result *r)
{
	const char *path = string_argument(args, "path", r);
	struct snapshot_stats st;
	json_object *ret;
	int e;

	if (!path || !have_jobs(ops, r))
		return;
	e = ops->snapshot(ops->opaque, path, &st);
	if (e == -EBUSY)
		fail(r, API_WRONG_STATE, "a snapshot or migration is running");
	else if (e == -ESHUTDOWN)
		fail(r, API_WRONG_STATE, "the VM is stopping");
	else if (e == -ENOTSUP)
		fail(r, API_FAILED, "a device of this VM cannot be saved yet");
	else if (e == -EPROTO)
		fail(r, API_FAILED,
		     "saving the VM's state failed (vmm's "
		     "standard error says why)");
	else if (e)
		fail(r, API_FAILED, "writing the snapshot: %s", strerror(-e));
	else if ((ret = new_return(r))) {
		add_u64(ret, "state-bytes", st.state_bytes);
		add_u64(ret, "ram-bytes", st.ram_bytes);
		add_ms(ret, "total-ms", st.ns);
	}
}

static void cmd_migrate(const struct api_ops *ops, json_object *args,
			struct api_result *r)
{
	const char *text = string_argument(args, "uri", r), *why;
	struct uri u;
	int e;

	if (!text || !have_jobs(ops, r))
		return;
	if (uri_parse(text, &u, &why)) {
		fail(r, API_BAD_REQUEST, "uri: %s", why);
		return;
	}
	e = ops->migrate(ops->opaque, &u);
	if (e == -EBUSY)
		fail(r, API_WRONG_STATE, "a snapshot or migration is running");
	else if (e)
		fail(r, API_FAILED, "%s", strerror(-e));
	else
		new_return(r);
}

static void cmd_query_migrate(const struct api_ops *ops, json_object *args,
			      struct api_result *r)
{
	struct migrate_progress p;
	json_object *ret;

	if (!no_arguments(args, r) || !have_jobs(ops, r))
		return;
	ops->query_migrate(ops->opaque, &p);
	if (!(ret = new_return(r)))
		return;
	json_object_object_add(
		ret, "status",
		json_object_new_string(migrate_status_name(p.status)));
	if (p.status == MIGRATE_NONE)
		return;
	json_object_object_add(ret, "round", json_object_new_int((int)p.round));
	if (p.tracking)
		json_object_object_add(ret, "dirty-tracking",
				       json_object_new_string(p.tracking));
	add_u64(ret, "ram-bytes", p.ram_bytes);
	add_u64(ret, "remaining-bytes", p.remaining);
	add_u64(ret, "transferred-bytes", p.transferred);
	add_u64(ret, "zero-pages", p.zero_pages);
	add_u64(ret, "dirty-pages-rate", p.dirty_rate);
	add_u64(ret, "bandwidth-bytes-per-s", p.bandwidth);
	json_object_object_add(ret, "throttle-percent",
			       json_object_new_int((int)p.throttle));
	add_ms(ret, "total-ms", p.total_ns);
	if (p.status == MIGRATE_COMPLETED)
		add_ms(ret, "downtime-ms", p.downtime_ns);
	if (p.status == MIGRATE_FAILED)
		json_object_object_add(ret, "error",
				       json_object_new_string(p.error));
}

static void cmd_migrate_cancel(const struct api_ops *ops, json_object *args,
			       struct api_result *r)
{
	if (!no_arguments(args, r) || !have_jobs(ops, r))
		return;
	if (ops->migrate_cancel(ops->opaque))
		fail(r, API_WRONG_STATE, "no migration is running");
	else
		new_return(r);
}

/* A whole number argument within [min, max]: false after fail(). */
static bool number_argument(json_object *v, const char *name, int64_t min,
			    int64_t max, int64_t *out, struct api_result *r)
{
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < min || json_object_get_int64(v) > max) {
		fail(r, API_BAD_REQUEST,
		     "\"%s\" must be a whole number from %lld to %lld", name,
		     (long long)min, (long long)max);
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

static void cmd_migrate_set_parameters(const struct api_ops *ops,
				       json_object *args, struct api_result *r)
{
	struct migrate_params p;
	json_object *ret;
	int64_t n;

	if (!have_jobs(ops, r))
		return;
	ops->get_params(ops->opaque, &p);
	if (args) {
		json_object_object_foreach(args, key, v)
		{
			if (!strcmp(key, "max-downtime-ms")) {
				if (!number_argument(v, key, 1, 60000, &n, r))
					return;
				p.max_downtime_ns = (uint64_t)n * 1000000;
			} else if (!strcmp(key, "max-bandwidth-mibs")) {
				if (!number_argument(v, key, 0, 1 << 20, &n, r))
					return;
				p.max_bandwidth = (uint64_t)n << 20;
			} else {
				fail(r, API_BAD_REQUEST,
				     "unknown parameter \"%.40s\"", key);
				return;
			}
		}
	}
	ops->set_params(ops->opaque, &p);
	if ((ret = new_return(r))) {
		add_u64(ret, "max-downtime-ms", p.max_downtime_ns / 1000000);
		add_u64(ret, "max-bandwidth-mibs", p.max_bandwidth >> 20);
	}
}

/* One row per command. A handler checks its own arguments (NULL: none
 * were sent). */
static const struct {
	const char *name;
	void (*run)(const struct api_ops *ops, json_object *args,
		    struct api_result *r);
} commands[] = {
	{ "query-status", cmd_query_status },
	{ "pause", cmd_pause },
	{ "resume", cmd_resume },
	{ "quit", cmd_quit },
	{ "snapshot", cmd_snapshot },
	{ "migrate", cmd_migrate },
	{ "query-migrate", cmd_query_migrate },
	{ "migrate-cancel", cmd_migrate_cancel },
	{ "migrate-set-parameters", cmd_migrate_set_parameters },
};

/* The reply's JSON text plus its newline; NULL when out of memory. */
static char *reply_line(json_object *id, struct api_result *r, size_t *len)
{
	json_object *reply = json_object_new_object(), *err;
	const char *text;
	char *line = NULL;
	size_t n;

	if (!reply)
		return NULL;
	json_object_object_add(reply, "id", json_object_get(id));
	if (r->failed) {
		err = json_object_new_object();
		json_object_object_add(
			err, "code",
			json_object_new_string(api_error_name(r->code)));
		json_object_object_add(err, "message",
				       json_object_new_string(r->message));
		json_object_object_add(reply, "error", err);
	} else {
		json_object_object_add(reply, "return",
				       r->ret ? r->ret
					      : json_object_new_object());
		r->ret = NULL; /* the reply owns it now */
	}
	text = json_object_to_json_string_ext(
		reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = text ? strlen(text) : 0;
	if (n)
		line = malloc(n + 1);
	if (line) {
		memcpy(line, text, n);
		line[n] = '\n';
		*len = n + 1;
	}
	json_object_put(reply);
	return line;
}

char *api_error_line(enum api_error e, const char *message, size_t *len)
{
	struct api_result r = { .failed = true, .code = e };

	snprintf(r.message, sizeof(r.message), "%s", message);
	return reply_line(NULL, &r, len);
}

static int send_reply(struct api_session *s, json_object *id,
		      struct api_result *r)
{
	size_t len = 0;
	char *line = reply_line(id, r, &len);
	int e;

	json_object_put(r->ret);
	if (!line)
		return -ENOMEM;
	e = s->out(s->out_ctx, line, len);
	free(line);
	return e;
}

/* Parses text[0, len) (text[len] is the NUL that ends it) into one JSON
 * value, or says why not. */
static json_object *parse_json(const char *text, size_t len,
			       struct api_result *r)
{
	struct json_tokener *tok = json_tokener_new_ex(API_JSON_DEPTH);
	enum json_tokener_error e;
	json_object *v;
	size_t end;

	if (!tok) {
		fail(r, API_FAILED, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	/* len + 1: the NUL tells the tokener the text ends, so a bare
	 * number at the end is complete rather than awaiting digits. */
	v = json_tokener_parse_ex(tok, text, (int)len + 1);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		json_object_put(v);
		fail(r, API_BAD_REQUEST, "not valid JSON: %s",
		     json_tokener_error_desc(e));
		return NULL;
	}
	while (end < len && strchr(" \t\r", text[end]))
		end++;
	if (end < len || !json_object_is_type(v, json_type_object)) {
		fail(r, API_BAD_REQUEST,
		     end < len ? "text after the request's JSON object"
			       : "the request is not a JSON object");
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* Checks the request's members; sets *id (borrowed, may be NULL for
 * null) once it is known, so that errors after that echo it. */
static bool check_request(json_object *req, json_object **id,
			  const char **command, json_object **args,
			  struct api_result *r)
{
	json_object *cmd;

	if (!json_object_object_get_ex(req, "id", id)) {
		fail(r, API_BAD_REQUEST, "the request has no id");
		return false;
	}
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		if (strcmp(key, "id") && strcmp(key, "command") &&
		    strcmp(key, "arguments")) {
			fail(r, API_BAD_REQUEST, "unknown member '%.40s'", key);
			return false;
		}
	}
	if (!json_object_object_get_ex(req, "command", &cmd)) {
		fail(r, API_BAD_REQUEST, "the request has no command");
		return false;
	}
	/* A NUL (\u0000) would cut the name short: "pause\u0000x" is not
	 * "pause". */
	if (!json_object_is_type(cmd, json_type_string) ||
	    strlen(json_object_get_string(cmd)) !=
		    (size_t)json_object_get_string_len(cmd)) {
		fail(r, API_BAD_REQUEST, "command is not a string of text");
		return false;
	}
	*command = json_object_get_string(cmd);
	if (json_object_object_get_ex(req, "arguments", args) &&
	    !json_object_is_type(*args, json_type_object)) {
		fail(r, API_BAD_REQUEST, "arguments is not an object");
		return false;
	}
	return true;
}

/* line[0, len): one line without its newline; line[len] is writable. */
static int handle_line(struct api_session *s, char *line, size_t len)
{
	struct api_result r = { .ret = NULL };
	json_object *req, *id = NULL, *args = NULL;
	const char *command = NULL;
	size_t i;
	int e;

	if (len && line[len - 1] == '\r') /* tolerated: telnet, socat crlf */
		len--;
	if (!len)
		return 0; /* blank lines are ignored, as QEMU's QMP does */
	if (memchr(line, 0, len)) {
		fail(&r, API_BAD_REQUEST, "the line holds a NUL byte");
		return send_reply(s, NULL, &r);
	}
	line[len] = 0;
	req = parse_json(line, len, &r);
	if (!req)
		return send_reply(s, NULL, &r);
	if (check_request(req, &id, &command, &args, &r)) {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(commands[i].name, command))
				break;
		if (i == sizeof(commands) / sizeof(commands[0]))
			fail(&r, API_UNKNOWN_COMMAND, "no command '%.64s'",
			     command);
		else
			commands[i].run(s->ops, args, &r);
	}
	e = send_reply(s, id, &r);
	json_object_put(req); /* after the reply: id is borrowed from it */
	return e;
}

void api_session_init(struct api_session *s, const struct api_ops *ops,
		      api_out_fn out, void *out_ctx)
{
	s->ops = ops;
	s->out = out;
	s->out_ctx = out_ctx;
	s->len = 0;
}

int api_session_input(struct api_session *s, const void *data, size_t n)
{
	const char *in = data;

	while (n) {
		size_t take = n < sizeof(s->buf) - s->len
				      ? n
				      : sizeof(s->buf) - s->len;
		char *nl;
		size_t start = s->len;
		int e;

		memcpy(s->buf + s->len, in, take);
		s->len += take;
		in += take;
		n -= take;
		/* Every complete line in the buffer, oldest first. */
		nl = memchr(s->buf + start, '\n', s->len - start);
		while (nl) {
			size_t line_len = (size_t)(nl - s->buf);

			e = handle_line(s, s->buf, line_len);
			if (e)
				return e;
			s->len -= line_len + 1;
			memmove(s->buf, nl + 1, s->len);
			nl = memchr(s->buf, '\n', s->len);
		}
		if (s->len == sizeof(s->buf)) {
			struct api_result r = { .ret = NULL };

			fail(&r, API_BAD_REQUEST,
			     "a line is longer than %u bytes",
			     (unsigned)API_LINE_MAX);
			e = send_reply(s, NULL, &r);
			return e ? e : -EMSGSIZE;
		}
	}
	return 0;
}
