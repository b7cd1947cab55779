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
	feed("{\"id\":9,\"command\":\"migrate\"}\n");
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
