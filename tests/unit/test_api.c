/* The control socket's protocol layer (vmm/api.c) without a VM or a
 * socket: fake ops, replies collected from the session's output. Every
 * malformed input gets exactly one BadRequest reply and leaves the
 * session usable. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tests/unit/api_fake.h"
#include "vmm/api.h"

static struct api_fake fake;
static struct api_ops ops;

/* Every reply line the session sent, concatenated. */
static char out[1 << 16];
static size_t out_len;
static int out_error;

static int collect(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	cr_assert(len > 0 && line[len - 1] == '\n', "a reply is one line");
	cr_assert_null(memchr(line, '\n', len - 1), "a reply is one line");
	cr_assert(out_len + len < sizeof(out));
	memcpy(out + out_len, line, len);
	out_len += len;
	return out_error;
}

static struct api_session *s;

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	ops = api_fake_ops(&fake);
	out_len = 0;
	out_error = 0;
	s = malloc(sizeof(*s));
	cr_assert_not_null(s);
	api_session_init(s, &ops, collect, NULL);
}

static void teardown(void)
{
	free(s);
}

TestSuite(api, .init = setup, .fini = teardown);

static int feed(const char *text)
{
	return api_session_input(s, text, strlen(text));
}

static unsigned replies(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < out_len; i++)
		n += out[i] == '\n';
	return n;
}

/* Reply number i (from 0), parsed; the caller puts it. */
static json_object *reply(unsigned i)
{
	const char *p = out;
	json_object *r;

	for (; i; i--) {
		p = memchr(p, '\n', out_len - (size_t)(p - out));
		cr_assert_not_null(p, "fewer replies than expected");
		p++;
	}
	r = json_tokener_parse(p);
	cr_assert(json_object_is_type(r, json_type_object), "reply: %.200s", p);
	return r;
}

/* Reply i is an error with this code; its id is JSON text want_id. */
static void expect_error(unsigned i, const char *code, const char *want_id)
{
	json_object *r = reply(i), *id, *err, *c, *m;

	cr_assert(json_object_object_get_ex(r, "id", &id), "no id");
	cr_assert_str_eq(
		json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN),
		want_id);
	cr_assert(json_object_object_get_ex(r, "error", &err), "not an error");
	cr_assert_not(json_object_object_get_ex(r, "return", NULL));
	cr_assert(json_object_object_get_ex(err, "code", &c));
	cr_assert(json_object_object_get_ex(err, "message", &m));
	cr_assert_str_eq(json_object_get_string(c), code);
	cr_assert(json_object_is_type(m, json_type_string));
	cr_assert(strlen(json_object_get_string(m)) > 0);
	json_object_put(r);
}

/* Reply i returns the JSON text want; its id is JSON text want_id. */
static void expect_return(unsigned i, const char *want_id, const char *want)
{
	json_object *r = reply(i), *id, *ret;

	cr_assert(json_object_object_get_ex(r, "id", &id), "no id");
	cr_assert_str_eq(
		json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN),
		want_id);
	cr_assert(json_object_object_get_ex(r, "return", &ret), "not a return");
	cr_assert_str_eq(
		json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN),
		want);
	json_object_put(r);
}

Test(api, query_status_pause_resume_quit)
{
	cr_assert_eq(feed("{\"id\":1,\"command\":\"query-status\"}\n"), 0);
	expect_return(0, "1", "{\"status\":\"running\"}");
	cr_assert_eq(feed("{\"id\":2,\"command\":\"pause\"}\n"), 0);
	expect_return(1, "2", "{}");
	cr_assert_eq(fake.pauses, 1);
	cr_assert_eq(feed("{\"id\":3,\"command\":\"query-status\","
			  "\"arguments\":{}}\n"),
		     0);
	expect_return(2, "3", "{\"status\":\"paused\"}");
	cr_assert_eq(feed("{\"id\":4,\"command\":\"resume\"}\n"), 0);
	expect_return(3, "4", "{}");
	cr_assert_eq(feed("{\"command\":\"quit\",\"id\":\"bye\"}\n"), 0);
	expect_return(4, "\"bye\"", "{}");
	cr_assert_eq(fake.quits, 1);
	cr_assert_eq(replies(), 5);
}

Test(api, wrong_state)
{
	feed("{\"id\":1,\"command\":\"resume\"}\n");
	expect_error(0, "WrongState", "1");
	feed("{\"id\":2,\"command\":\"pause\"}\n");
	feed("{\"id\":3,\"command\":\"pause\"}\n");
	expect_return(1, "2", "{}");
	expect_error(2, "WrongState", "3");
	fake.pause_error = -ESHUTDOWN;
	fake.paused = false;
	feed("{\"id\":4,\"command\":\"pause\"}\n");
	expect_error(3, "WrongState", "4");
	fake.pause_error = -ETIMEDOUT;
	feed("{\"id\":5,\"command\":\"pause\"}\n");
	expect_error(4, "Failed", "5");
}

/* The id comes back as it was sent, whatever its JSON type. */
Test(api, id_echoed_as_sent)
{
	static const char *const ids[] = {
		"7",	"-1.5",	     "\"abc\"",	   "null",
		"true", "[1,\"x\"]", "{\"a\":{}}", "\"\\u00e9\\n\"",
	};
	char line[128];

	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(line, sizeof(line),
			 "{\"id\":%s,\"command\":\"query-status\"}\n", ids[i]);
		cr_assert_eq(feed(line), 0);
		json_object *want = json_tokener_parse(ids[i]);
		expect_return(i,
			      json_object_to_json_string_ext(
				      want, JSON_C_TO_STRING_PLAIN),
			      "{\"status\":\"running\"}");
		json_object_put(want);
	}
}

Test(api, unknown_command)
{
	feed("{\"id\":9,\"command\":\"teleport\"}\n");
	expect_error(0, "UnknownCommand", "9");
	feed("{\"id\":10,\"command\":\"\"}\n");
	expect_error(1, "UnknownCommand", "10");
	/* A prefix or a different case is not the command. */
	feed("{\"id\":11,\"command\":\"paus\"}\n");
	feed("{\"id\":12,\"command\":\"PAUSE\"}\n");
	expect_error(2, "UnknownCommand", "11");
	expect_error(3, "UnknownCommand", "12");
	cr_assert_eq(fake.pauses, 0);
}

/* Malformed requests: one BadRequest each, no command run, the session
 * still answers the next request. want_id: the id the reply carries
 * (null when the request's could not be read). */
Test(api, malformed_requests)
{
	static const struct {
		const char *line, *want_id;
	} bad[] = {
		{ "{", "null" },
		{ "}", "null" },
		{ "not json", "null" },
		{ "{\"id\":1,\"command\":\"pause\"", "null" },
		{ "{\"id\":1,\"command\":\"pause\",}", "null" },
		{ "{'id':1,'command':'pause'}", "null" },
		{ "{\"id\":01,\"command\":\"pause\"}", "null" },
		{ "[1,2]", "null" },
		{ "5", "null" },
		{ "\"pause\"", "null" },
		{ "null", "null" },
		{ "true", "null" },
		{ "{\"id\":1,\"command\":\"pause\"} {}", "null" },
		{ "{\"id\":1,\"command\":\"pause\"}x", "null" },
		{ "{\"id\":1,\"command\":\"pause\"}{\"id\":2}", "null" },
		{ "{\"command\":\"pause\"}", "null" },
		{ "{\"id\":1}", "1" },
		{ "{\"id\":1,\"command\":5}", "1" },
		{ "{\"id\":1,\"command\":null}", "1" },
		{ "{\"id\":1,\"command\":[\"pause\"]}", "1" },
		{ "{\"id\":1,\"command\":{\"name\":\"pause\"}}", "1" },
		{ "{\"id\":1,\"command\":\"pause\",\"arguments\":[]}", "1" },
		{ "{\"id\":1,\"command\":\"pause\",\"arguments\":5}", "1" },
		{ "{\"id\":1,\"command\":\"pause\",\"arguments\":null}", "1" },
		{ "{\"id\":1,\"command\":\"pause\",\"arguments\":\"x\"}", "1" },
		{ "{\"id\":1,\"command\":\"pause\",\"arguments\":{\"a\":1}}",
		  "1" },
		{ "{\"id\":1,\"command\":\"quit\",\"arguments\":{\"now\":true}}",
		  "1" },
		{ "{\"id\":1,\"command\":\"pause\",\"extra\":1}", "1" },
		{ "{\"id\":1,\"command\":\"pause\\u0000x\"}", "1" },
		/* Invalid UTF-8 in a string. */
		{ "{\"id\":1,\"command\":\"\xff\xfe\"}", "null" },
		/* Nested deeper than the parser's limit. */
		{ "{\"id\":[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]],"
		  "\"command\":\"pause\"}",
		  "null" },
	};
	char line[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s\n", bad[i].line);
		cr_assert_eq(feed(line), 0, "%s", bad[i].line);
		cr_assert_eq(replies(), i + 1, "no single reply to %s",
			     bad[i].line);
		expect_error(i, "BadRequest", bad[i].want_id);
	}
	cr_assert_eq(fake.pauses + fake.quits, 0);
	feed("{\"id\":1,\"command\":\"query-status\"}\n");
	expect_return((unsigned)(sizeof(bad) / sizeof(bad[0])), "1",
		      "{\"status\":\"running\"}");
}

Test(api, nul_byte_in_a_line)
{
	static const char line[] = "{\"id\":1,\"command\":\"pause\"}\0\n";

	cr_assert_eq(api_session_input(s, line, sizeof(line) - 1), 0);
	expect_error(0, "BadRequest", "null");
	static const char mid[] = "{\"id\":1,\"comm\0and\":\"pause\"}\n";
	cr_assert_eq(api_session_input(s, mid, sizeof(mid) - 1), 0);
	expect_error(1, "BadRequest", "null");
	cr_assert_eq(fake.pauses, 0);
}

Test(api, several_requests_in_one_read)
{
	cr_assert_eq(feed("{\"id\":1,\"command\":\"pause\"}\n"
			  "{\"id\":2,\"command\":\"query-status\"}\n"
			  "garbage\n"
			  "{\"id\":3,\"command\":\"resume\"}\n"
			  "{\"id\":4,\"command\":\"query-st"),
		     0);
	cr_assert_eq(replies(), 4);
	expect_return(0, "1", "{}");
	expect_return(1, "2", "{\"status\":\"paused\"}");
	expect_error(2, "BadRequest", "null");
	expect_return(3, "3", "{}");
	/* The unfinished line waits for the rest. */
	cr_assert_eq(feed("atus\"}\n"), 0);
	expect_return(4, "4", "{\"status\":\"running\"}");
}

Test(api, request_split_across_reads)
{
	const char *req = "{\"id\":\"split\",\"command\":\"pause\"}\n";

	for (const char *p = req; *p; p++) {
		cr_assert_eq(replies(), 0);
		cr_assert_eq(api_session_input(s, p, 1), 0);
	}
	cr_assert_eq(replies(), 1);
	expect_return(0, "\"split\"", "{}");
	cr_assert_eq(fake.pauses, 1);
}

Test(api, blank_lines_and_crlf)
{
	cr_assert_eq(feed("\n\r\n\n{\"id\":1,\"command\":\"query-status\"}\r\n"
			  "  {\"id\":2,\"command\":\"query-status\"}  \n"),
		     0);
	cr_assert_eq(replies(), 2);
	expect_return(0, "1", "{\"status\":\"running\"}");
	expect_return(1, "2", "{\"status\":\"running\"}");
}

/* A line of exactly API_LINE_MAX bytes (newline included) is served. */
Test(api, longest_line_served)
{
	const char *req = "{\"id\":1,\"command\":\"query-status\"}";
	char *line = malloc(API_LINE_MAX);

	memset(line, ' ', API_LINE_MAX);
	memcpy(line, req, strlen(req));
	line[API_LINE_MAX - 1] = '\n';
	cr_assert_eq(api_session_input(s, line, API_LINE_MAX), 0);
	expect_return(0, "1", "{\"status\":\"running\"}");
	free(line);
}

/* One byte more and no newline in sight: BadRequest, then the caller
 * closes the connection (-EMSGSIZE), whether the line came in one read
 * or many. */
Test(api, oversize_line)
{
	char *line = malloc(API_LINE_MAX + 100);

	memset(line, ' ', API_LINE_MAX + 100);
	cr_assert_eq(api_session_input(s, line, API_LINE_MAX + 100), -EMSGSIZE);
	cr_assert_eq(replies(), 1);
	expect_error(0, "BadRequest", "null");

	api_session_init(s, &ops, collect, NULL);
	out_len = 0;
	int r = 0;
	for (size_t done = 0; done < API_LINE_MAX + 100 && !r; done += 1000)
		r = api_session_input(s, line, 1000);
	cr_assert_eq(r, -EMSGSIZE);
	cr_assert_eq(replies(), 1);
	expect_error(0, "BadRequest", "null");
	free(line);
}

/* Requests before an oversize line in the same read are answered. */
Test(api, oversize_after_good_requests)
{
	size_t n = API_LINE_MAX + 200;
	char *buf = malloc(n);
	const char *req = "{\"id\":1,\"command\":\"pause\"}\n";

	memset(buf, 'x', n);
	memcpy(buf, req, strlen(req));
	cr_assert_eq(api_session_input(s, buf, n), -EMSGSIZE);
	cr_assert_eq(replies(), 2);
	expect_return(0, "1", "{}");
	expect_error(1, "BadRequest", "null");
	free(buf);
}

/* A reply the connection cannot take ends the session's input. */
Test(api, output_error_stops_input)
{
	out_error = -EPIPE;
	cr_assert_eq(feed("{\"id\":1,\"command\":\"query-status\"}\n"
			  "{\"id\":2,\"command\":\"pause\"}\n"),
		     -EPIPE);
	cr_assert_eq(replies(), 1);
	cr_assert_eq(fake.pauses, 0);
}

Test(api, busy_line)
{
	size_t len = 0;
	char *line = api_error_line(API_BUSY, "too many clients", &len);

	cr_assert_not_null(line);
	cr_assert(len > 0 && line[len - 1] == '\n');
	cr_assert_null(memchr(line, '\n', len - 1));
	memcpy(out, line, len);
	out_len = len;
	expect_error(0, "Busy", "null");
	free(line);
}

Test(api, error_names)
{
	cr_assert_str_eq(api_error_name(API_BAD_REQUEST), "BadRequest");
	cr_assert_str_eq(api_error_name(API_UNKNOWN_COMMAND), "UnknownCommand");
	cr_assert_str_eq(api_error_name(API_WRONG_STATE), "WrongState");
	cr_assert_str_eq(api_error_name(API_FAILED), "Failed");
	cr_assert_str_eq(api_error_name(API_BUSY), "Busy");
	cr_assert_str_eq(api_error_name(API_ERROR_COUNT), "Failed");
}

/* ---- snapshot and migration ---- */

/* Reply i's text, its newline left out, is exactly want. */
static void expect_line(unsigned i, const char *want)
{
	const char *p = out, *end;

	for (unsigned k = i; k; k--) {
		p = memchr(p, '\n', out_len - (size_t)(p - out));
		cr_assert_not_null(p, "fewer replies than expected");
		p++;
	}
	end = memchr(p, '\n', out_len - (size_t)(p - out));
	cr_assert_not_null(end, "reply %u is not a whole line", i);
	cr_assert(strlen(want) == (size_t)(end - p) &&
			  !memcmp(p, want, (size_t)(end - p)),
		  "reply %u:\n  %.*s\nwanted:\n  %s", i, (int)(end - p), p,
		  want);
}

/* Feeds one request (no newline) and checks that it got exactly one
 * reply, whose text is want. */
static void request(const char *req, const char *want)
{
	unsigned before = replies();
	char line[1024];

	snprintf(line, sizeof(line), "%s\n", req);
	cr_assert_eq(feed(line), 0, "%s", req);
	cr_assert_eq(replies(), before + 1, "no single reply to %s", req);
	expect_line(before, want);
}

/* The reply text of an error to a request with id 1. */
static const char *error_text(const char *code, const char *message)
{
	static char text[512];

	snprintf(text, sizeof(text),
		 "{\"id\":1,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
		 code, message);
	return text;
}

Test(api, snapshot_returns_the_stats)
{
	fake.snapshot_stats = (struct snapshot_stats){ .state_bytes = 123456,
						       .ram_bytes = 7340032,
						       .ns = 1500000 };
	request("{\"id\":1,\"command\":\"snapshot\","
		"\"arguments\":{\"path\":\"/var/tmp/vm.snap\"}}",
		"{\"id\":1,\"return\":{\"state-bytes\":123456,"
		"\"ram-bytes\":7340032,\"total-ms\":1.5}}");
	cr_assert_eq(fake.snapshots, 1);
	cr_assert_str_eq(fake.snapshot_path, "/var/tmp/vm.snap");

	/* Whole 64-bit counts, and whole milliseconds as such. */
	fake.snapshot_stats = (struct snapshot_stats){
		.state_bytes = UINT64_MAX, .ram_bytes = 0, .ns = 2000000000
	};
	request("{\"id\":2,\"command\":\"snapshot\","
		"\"arguments\":{\"path\":\"rel/a b.snap\"}}",
		"{\"id\":2,\"return\":{\"state-bytes\":18446744073709551615,"
		"\"ram-bytes\":0,\"total-ms\":2000.0}}");
	cr_assert_eq(fake.snapshots, 2);
	cr_assert_str_eq(fake.snapshot_path, "rel/a b.snap");
	cr_assert_not(fake.paused, "the API layer itself pauses nothing");
	cr_assert_eq(fake.pauses + fake.resumes, 0);
}

/* One string argument "path", nothing else: every other shape is a
 * BadRequest that never reaches the worker. */
Test(api, snapshot_argument_checks)
{
	static const char *const one =
		"this command takes one argument, \\\"path\\\", a string";
	static const struct {
		const char *args, *message;
	} bad[] = {
		{ NULL, NULL },
		{ "{}", NULL },
		{ "{\"path\":5}", NULL },
		{ "{\"path\":null}", NULL },
		{ "{\"path\":true}", NULL },
		{ "{\"path\":[\"/x\"]}", NULL },
		{ "{\"path\":{\"p\":\"/x\"}}", NULL },
		{ "{\"file\":\"/x\"}", NULL },
		{ "{\"Path\":\"/x\"}", NULL },
		{ "{\"path\":\"/x\",\"extra\":1}", NULL },
		{ "{\"extra\":1,\"path\":\"/x\"}", NULL },
		{ "{\"path\":\"\"}", "\\\"path\\\" is empty" },
		/* The worker would write to "/tmp/a", not what was asked. */
		{ "{\"path\":\"/tmp/a\\u0000b\"}",
		  "\\\"path\\\" holds a NUL character" },
	};
	char req[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].args)
			snprintf(req, sizeof(req),
				 "{\"id\":1,\"command\":\"snapshot\","
				 "\"arguments\":%s}",
				 bad[i].args);
		else
			snprintf(req, sizeof(req),
				 "{\"id\":1,\"command\":\"snapshot\"}");
		request(req, error_text("BadRequest",
					bad[i].message ? bad[i].message : one));
	}
	cr_assert_eq(fake.snapshots, 0);
}

Test(api, snapshot_errors)
{
	static const struct {
		int error;
		const char *code, *message;
	} cases[] = {
		{ -EBUSY, "WrongState", "a snapshot or migration is running" },
		{ -ESHUTDOWN, "WrongState", "the VM is stopping" },
		{ -ENOTSUP, "Failed",
		  "a device of this VM cannot be saved yet" },
		{ -EPROTO, "Failed",
		  "saving the VM's state failed (vmm's standard error says "
		  "why)" },
		{ -ENOSPC, "Failed",
		  "writing the snapshot: No space left on device" },
		{ -EACCES, "Failed",
		  "writing the snapshot: Permission denied" },
		{ -EIO, "Failed", "writing the snapshot: Input/output error" },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake.snapshot_error = cases[i].error;
		request("{\"id\":1,\"command\":\"snapshot\","
			"\"arguments\":{\"path\":\"/s\"}}",
			error_text(cases[i].code, cases[i].message));
		cr_assert_eq(fake.snapshots, (int)i + 1);
	}
}

/* The fake's worker is busy while its migration is active. */
Test(api, snapshot_while_migrating)
{
	request("{\"id\":1,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"unix:/tmp/m.sock\"}}",
		"{\"id\":1,\"return\":{}}");
	request("{\"id\":1,\"command\":\"snapshot\","
		"\"arguments\":{\"path\":\"/s\"}}",
		error_text("WrongState", "a snapshot or migration is running"));
	cr_assert_eq(fake.snapshots, 1);
}

Test(api, migrate_passes_the_parsed_uri)
{
	request("{\"id\":1,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"unix:/tmp/mig.sock\"}}",
		"{\"id\":1,\"return\":{}}");
	cr_assert_eq(fake.migrates, 1);
	cr_assert(fake.migrate_uri.is_unix);
	cr_assert_str_eq(fake.migrate_uri.path, "/tmp/mig.sock");
	cr_assert_eq(fake.progress.status, MIGRATE_ACTIVE);

	fake.progress.status = MIGRATE_FAILED;
	request("{\"id\":2,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"tcp:dest.example:4444\"}}",
		"{\"id\":2,\"return\":{}}");
	cr_assert_eq(fake.migrates, 2);
	cr_assert_not(fake.migrate_uri.is_unix);
	cr_assert_str_eq(fake.migrate_uri.host, "dest.example");
	cr_assert_str_eq(fake.migrate_uri.port, "4444");

	fake.progress.status = MIGRATE_CANCELLED;
	request("{\"id\":3,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"tcp:[::1]:4000\"}}",
		"{\"id\":3,\"return\":{}}");
	cr_assert_eq(fake.migrates, 3);
	cr_assert_not(fake.migrate_uri.is_unix);
	cr_assert_str_eq(fake.migrate_uri.host, "::1");
	cr_assert_str_eq(fake.migrate_uri.port, "4000");
}

Test(api, migrate_argument_checks)
{
	static const char *const one =
		"this command takes one argument, \\\"uri\\\", a string";
	static const struct {
		const char *args, *message;
	} bad[] = {
		{ NULL, NULL },
		{ "{}", NULL },
		{ "{\"uri\":4000}", NULL },
		{ "{\"uri\":null}", NULL },
		{ "{\"uri\":[\"unix:/x\"]}", NULL },
		{ "{\"path\":\"unix:/x\"}", NULL },
		{ "{\"uri\":\"unix:/x\",\"speed\":1}", NULL },
		{ "{\"uri\":\"\"}", "\\\"uri\\\" is empty" },
		{ "{\"uri\":\"unix:/tmp/x\\u0000y\"}",
		  "\\\"uri\\\" holds a NUL character" },
		{ "{\"uri\":\"/tmp/x.sock\"}",
		  "uri: expected unix:PATH or tcp:HOST:PORT" },
		{ "{\"uri\":\"UNIX:/x\"}",
		  "uri: expected unix:PATH or tcp:HOST:PORT" },
		{ "{\"uri\":\"unix:\"}",
		  "uri: the socket path must be 1 to 107 bytes" },
		{ "{\"uri\":\"tcp:localhost\"}", "uri: tcp: needs HOST:PORT" },
		{ "{\"uri\":\"tcp:localhost:\"}",
		  "uri: the port must be a number from 1 to 65535" },
		{ "{\"uri\":\"tcp:localhost:0\"}",
		  "uri: the port must be a number from 1 to 65535" },
		{ "{\"uri\":\"tcp:localhost:65536\"}",
		  "uri: the port must be a number from 1 to 65535" },
		{ "{\"uri\":\"tcp::4000\"}",
		  "uri: the host must be 1 to 255 characters" },
		{ "{\"uri\":\"tcp:[::1\"}",
		  "uri: an IPv6 address is [ADDRESS]:PORT" },
	};
	char req[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].args)
			snprintf(req, sizeof(req),
				 "{\"id\":1,\"command\":\"migrate\","
				 "\"arguments\":%s}",
				 bad[i].args);
		else
			snprintf(req, sizeof(req),
				 "{\"id\":1,\"command\":\"migrate\"}");
		request(req, error_text("BadRequest",
					bad[i].message ? bad[i].message : one));
	}
	cr_assert_eq(fake.migrates, 0);
	cr_assert_eq(fake.progress.status, MIGRATE_NONE);
}

/* A unix socket path of 108 bytes does not fit sun_path. */
Test(api, migrate_socket_path_too_long)
{
	char req[512], path[109];

	memset(path, 'p', 108);
	path[108] = 0;
	snprintf(req, sizeof(req),
		 "{\"id\":1,\"command\":\"migrate\","
		 "\"arguments\":{\"uri\":\"unix:%s\"}}",
		 path);
	request(req, error_text("BadRequest",
				"uri: the socket path must be 1 to 107 bytes"));
	cr_assert_eq(fake.migrates, 0);
	path[107] = 0;
	snprintf(req, sizeof(req),
		 "{\"id\":1,\"command\":\"migrate\","
		 "\"arguments\":{\"uri\":\"unix:%s\"}}",
		 path);
	request(req, "{\"id\":1,\"return\":{}}");
	cr_assert_str_eq(fake.migrate_uri.path, path);
}

Test(api, migrate_errors)
{
	static const struct {
		int error;
		const char *code, *message;
	} cases[] = {
		{ -EBUSY, "WrongState", "a snapshot or migration is running" },
		{ -ENOMEM, "Failed", "Cannot allocate memory" },
		{ -EAGAIN, "Failed", "Resource temporarily unavailable" },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake.migrate_error = cases[i].error;
		request("{\"id\":1,\"command\":\"migrate\","
			"\"arguments\":{\"uri\":\"tcp:127.0.0.1:9\"}}",
			error_text(cases[i].code, cases[i].message));
	}
	cr_assert_eq(fake.migrates, 3);
	cr_assert_eq(fake.progress.status, MIGRATE_NONE);

	/* The fake's own: a second migration while one is active. */
	fake.migrate_error = 0;
	request("{\"id\":1,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"tcp:127.0.0.1:9\"}}",
		"{\"id\":1,\"return\":{}}");
	request("{\"id\":1,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"tcp:127.0.0.1:9\"}}",
		error_text("WrongState", "a snapshot or migration is running"));
}

/* The progress of a migration, members as the status has them. */
static void fill_progress(enum migrate_status st)
{
	fake.progress = (struct migrate_progress){
		.status = st,
		.round = 3,
		.ram_bytes = 1ULL << 30,
		.remaining = 8192,
		.transferred = 1234567890123ULL,
		.pages = 262144,
		.zero_pages = 200000,
		.dirty_rate = 4242,
		.bandwidth = 987654321,
		.throttle = 30,
		.total_ns = 2500000,
		.downtime_ns = 12250000,
	};
	snprintf(fake.progress.error, sizeof(fake.progress.error),
		 "the destination refused the stream");
}

#define PROGRESS_MEMBERS                                                       \
	"\"round\":3,\"ram-bytes\":1073741824,\"remaining-bytes\":8192,"       \
	"\"transferred-bytes\":1234567890123,\"zero-pages\":200000,"           \
	"\"dirty-pages-rate\":4242,\"bandwidth-bytes-per-s\":987654321,"       \
	"\"throttle-percent\":30,\"total-ms\":2.5"

Test(api, query_migrate_none)
{
	fill_progress(MIGRATE_NONE); /* the rest is not shown */
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"none\"}}");
	request("{\"id\":2,\"command\":\"query-migrate\",\"arguments\":{}}",
		"{\"id\":2,\"return\":{\"status\":\"none\"}}");
	cr_assert_eq(fake.queries, 2);
}

Test(api, query_migrate_active)
{
	fill_progress(MIGRATE_ACTIVE);
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"active\"," PROGRESS_MEMBERS
		"}}");
}

Test(api, query_migrate_completed)
{
	fill_progress(MIGRATE_COMPLETED);
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"completed\"," PROGRESS_MEMBERS
		",\"downtime-ms\":12.25}}");
}

Test(api, query_migrate_failed)
{
	fill_progress(MIGRATE_FAILED);
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"failed\"," PROGRESS_MEMBERS
		",\"error\":\"the destination refused the stream\"}}");
}

Test(api, query_migrate_cancelled)
{
	fill_progress(MIGRATE_CANCELLED);
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"cancelled\"," PROGRESS_MEMBERS
		"}}");
}

/* The dirty tracking in use, when the worker names it, follows the
 * round. */
Test(api, query_migrate_dirty_tracking)
{
	static const char *const modes[] = { "ring", "dirty-log",
					     "dirty-log-clear" };
	char want[1024];

	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fill_progress(MIGRATE_ACTIVE);
		fake.progress.tracking = modes[i];
		snprintf(want, sizeof(want),
			 "{\"id\":1,\"return\":{\"status\":\"active\","
			 "\"round\":3,\"dirty-tracking\":\"%s\","
			 "\"ram-bytes\":1073741824,\"remaining-bytes\":8192,"
			 "\"transferred-bytes\":1234567890123,"
			 "\"zero-pages\":200000,\"dirty-pages-rate\":4242,"
			 "\"bandwidth-bytes-per-s\":987654321,"
			 "\"throttle-percent\":30,\"total-ms\":2.5}}",
			 modes[i]);
		request("{\"id\":1,\"command\":\"query-migrate\"}", want);
	}
	/* Not while none has started. */
	fake.progress.status = MIGRATE_NONE;
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"none\"}}");
}

/* An error text with quotes and a backslash comes back as JSON. */
Test(api, query_migrate_error_is_escaped)
{
	fill_progress(MIGRATE_FAILED);
	snprintf(fake.progress.error, sizeof(fake.progress.error),
		 "\"/x\"\\\n");
	request("{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"return\":{\"status\":\"failed\"," PROGRESS_MEMBERS
		",\"error\":\"\\\"/x\\\"\\\\\\n\"}}");
}

Test(api, query_migrate_and_cancel_take_no_arguments)
{
	request("{\"id\":1,\"command\":\"query-migrate\","
		"\"arguments\":{\"verbose\":true}}",
		error_text("BadRequest", "this command takes no arguments"));
	request("{\"id\":1,\"command\":\"migrate-cancel\","
		"\"arguments\":{\"force\":true}}",
		error_text("BadRequest", "this command takes no arguments"));
	cr_assert_eq(fake.queries + fake.cancels, 0);
}

Test(api, migrate_cancel)
{
	request("{\"id\":1,\"command\":\"migrate-cancel\"}",
		error_text("WrongState", "no migration is running"));
	cr_assert_eq(fake.cancels, 1);
	request("{\"id\":1,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"unix:/m\"}}",
		"{\"id\":1,\"return\":{}}");
	request("{\"id\":2,\"command\":\"migrate-cancel\",\"arguments\":{}}",
		"{\"id\":2,\"return\":{}}");
	cr_assert_eq(fake.cancels, 2);
	cr_assert_eq(fake.progress.status, MIGRATE_CANCELLED);
	request("{\"id\":3,\"command\":\"query-migrate\"}",
		"{\"id\":3,\"return\":{\"status\":\"cancelled\",\"round\":0,"
		"\"ram-bytes\":0,\"remaining-bytes\":0,"
		"\"transferred-bytes\":0,\"zero-pages\":0,"
		"\"dirty-pages-rate\":0,\"bandwidth-bytes-per-s\":0,"
		"\"throttle-percent\":0,\"total-ms\":0.0}}");
	request("{\"id\":4,\"command\":\"migrate-cancel\"}",
		"{\"id\":4,\"error\":{\"code\":\"WrongState\","
		"\"message\":\"no migration is running\"}}");
	cr_assert_eq(fake.cancels, 3);
}

static const struct migrate_params params_30ms = {
	.max_downtime_ns = 30000000,
	.max_bandwidth = 0,
};

Test(api, set_parameters_without_arguments_reports_them)
{
	fake.params = params_30ms;
	request("{\"id\":1,\"command\":\"migrate-set-parameters\"}",
		"{\"id\":1,\"return\":{\"max-downtime-ms\":30,"
		"\"max-bandwidth-mibs\":0}}");
	request("{\"id\":2,\"command\":\"migrate-set-parameters\","
		"\"arguments\":{}}",
		"{\"id\":2,\"return\":{\"max-downtime-ms\":30,"
		"\"max-bandwidth-mibs\":0}}");
	cr_assert_eq(fake.params.max_downtime_ns, 30000000);
	cr_assert_eq(fake.params.max_bandwidth, 0);
}

Test(api, set_parameters_in_range)
{
	static const struct {
		const char *args;
		uint64_t downtime_ns, bandwidth;
		const char *ret;
	} cases[] = {
		{ "{\"max-downtime-ms\":1}", 1000000, 0,
		  "{\"max-downtime-ms\":1,\"max-bandwidth-mibs\":0}" },
		{ "{\"max-downtime-ms\":60000}", 60000000000ULL, 0,
		  "{\"max-downtime-ms\":60000,\"max-bandwidth-mibs\":0}" },
		{ "{\"max-bandwidth-mibs\":1048576}", 60000000000ULL,
		  1ULL << 40,
		  "{\"max-downtime-ms\":60000,"
		  "\"max-bandwidth-mibs\":1048576}" },
		{ "{\"max-bandwidth-mibs\":0}", 60000000000ULL, 0,
		  "{\"max-downtime-ms\":60000,\"max-bandwidth-mibs\":0}" },
		{ "{\"max-bandwidth-mibs\":100,\"max-downtime-ms\":250}",
		  250000000, 100ULL << 20,
		  "{\"max-downtime-ms\":250,\"max-bandwidth-mibs\":100}" },
	};
	char req[256], want[256];

	fake.params = params_30ms;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req),
			 "{\"id\":1,\"command\":\"migrate-set-parameters\","
			 "\"arguments\":%s}",
			 cases[i].args);
		snprintf(want, sizeof(want), "{\"id\":1,\"return\":%s}",
			 cases[i].ret);
		request(req, want);
		cr_assert_eq(fake.params.max_downtime_ns, cases[i].downtime_ns,
			     "%s", cases[i].args);
		cr_assert_eq(fake.params.max_bandwidth, cases[i].bandwidth,
			     "%s", cases[i].args);
	}
}

/* A bad name or value anywhere: BadRequest, and nothing is changed, not
 * even by the good parameters before it. */
Test(api, set_parameters_refused)
{
	static const char *const downtime =
		"\\\"max-downtime-ms\\\" must be a whole number from 1 to "
		"60000";
	static const char *const bandwidth =
		"\\\"max-bandwidth-mibs\\\" must be a whole number from 0 to "
		"1048576";
	static const struct {
		const char *args, *message;
	} bad[] = {
		{ "{\"max-downtime-ms\":0}", downtime },
		{ "{\"max-downtime-ms\":-1}", downtime },
		{ "{\"max-downtime-ms\":60001}", downtime },
		{ "{\"max-downtime-ms\":1.5}", downtime },
		{ "{\"max-downtime-ms\":100.0}", downtime },
		{ "{\"max-downtime-ms\":1e3}", downtime },
		{ "{\"max-downtime-ms\":\"100\"}", downtime },
		{ "{\"max-downtime-ms\":true}", downtime },
		{ "{\"max-downtime-ms\":null}", downtime },
		{ "{\"max-downtime-ms\":[100]}", downtime },
		{ "{\"max-downtime-ms\":99999999999999999999}", downtime },
		{ "{\"max-downtime-ms\":-9223372036854775808}", downtime },
		{ "{\"max-bandwidth-mibs\":-1}", bandwidth },
		{ "{\"max-bandwidth-mibs\":1048577}", bandwidth },
		{ "{\"max-bandwidth-mibs\":4294967296}", bandwidth },
		{ "{\"max-bandwidth-mibs\":0.5}", bandwidth },
		{ "{\"max-downtime-ms\":100,\"max-bandwidth-mibs\":-1}",
		  bandwidth },
		{ "{\"max-bandwidth-mibs\":5,\"max-downtime-ms\":0}",
		  downtime },
		{ "{\"max-speed\":1}", "unknown parameter \\\"max-speed\\\"" },
		{ "{\"Max-Downtime-Ms\":5}",
		  "unknown parameter \\\"Max-Downtime-Ms\\\"" },
		{ "{\"max-downtime-ms\":100,\"downtime\":5}",
		  "unknown parameter \\\"downtime\\\"" },
		/* The name is quoted up to its 40th character. */
		{ "{\"0123456789012345678901234567890123456789abcdef\":1}",
		  "unknown parameter "
		  "\\\"0123456789012345678901234567890123456789\\\"" },
	};
	char req[256];

	fake.params = params_30ms;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req),
			 "{\"id\":1,\"command\":\"migrate-set-parameters\","
			 "\"arguments\":%s}",
			 bad[i].args);
		request(req, error_text("BadRequest", bad[i].message));
		cr_assert_eq(fake.params.max_downtime_ns, 30000000, "%s",
			     bad[i].args);
		cr_assert_eq(fake.params.max_bandwidth, 0, "%s", bad[i].args);
		cr_assert_eq(fake.sets, 0, "%s", bad[i].args);
	}
}

/* A VM without a migration worker (ops without the job members) refuses
 * every job command, with nothing called. */
Test(api, no_migration_worker)
{
	static const char *const reqs[] = {
		"{\"id\":1,\"command\":\"snapshot\","
		"\"arguments\":{\"path\":\"/s\"}}",
		"{\"id\":1,\"command\":\"migrate\","
		"\"arguments\":{\"uri\":\"unix:/m\"}}",
		"{\"id\":1,\"command\":\"query-migrate\"}",
		"{\"id\":1,\"command\":\"migrate-cancel\"}",
		"{\"id\":1,\"command\":\"migrate-set-parameters\"}",
		"{\"id\":1,\"command\":\"migrate-set-parameters\","
		"\"arguments\":{\"max-downtime-ms\":5}}",
	};

	ops = api_fake_ops_no_jobs(&fake);
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		request(reqs[i], error_text("Failed",
					    "this VM has no migration worker"));
	/* The other commands still work. */
	request("{\"id\":1,\"command\":\"query-status\"}",
		"{\"id\":1,\"return\":{\"status\":\"running\"}}");
}

Test(api, resume_refused_while_a_job_holds_the_pause)
{
	fake.paused = true;
	fake.resume_error = -EBUSY;
	request("{\"id\":1,\"command\":\"resume\"}",
		error_text("WrongState",
			   "a snapshot or migration holds the VM paused"));
	cr_assert_eq(fake.resumes, 1);
	cr_assert(fake.paused);
	fake.resume_error = -EIO;
	request("{\"id\":1,\"command\":\"resume\"}",
		error_text("Failed", "resuming the vCPUs: Input/output error"));
	fake.resume_error = 0;
	request("{\"id\":1,\"command\":\"resume\"}",
		"{\"id\":1,\"return\":{}}");
	request("{\"id\":1,\"command\":\"resume\"}",
		error_text("WrongState", "the VM is not paused"));
	cr_assert_eq(fake.resumes, 4);
}
