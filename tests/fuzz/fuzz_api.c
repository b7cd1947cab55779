/* The control socket's protocol (vmm/api.c) on arbitrary bytes, fed in
 * chunks whose sizes the input's first bytes choose (a request split
 * across reads, several in one), against fake ops that keep a paused
 * flag. Every reply must be one line of one JSON object holding "id" and
 * exactly one of "return" and "error" (a code from the fixed set); a
 * session answers at most one reply per newline it was given, plus the
 * one that ends an oversize line; the fakes are called only in the
 * states their replies claim (pause only when running, and so on). */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tests/unit/api_fake.h"
#include "vmm/api.h"

struct fake {
	struct api_fake vm;
	unsigned replies;
};

static bool known_code(const char *c)
{
	for (int e = 0; e < API_ERROR_COUNT; e++)
		if (!strcmp(c, api_error_name((enum api_error)e)))
			return true;
	return false;
}

static int check_reply(void *ctx, const char *line, size_t len)
{
	struct fake *f = ctx;
	json_object *v, *err, *code;
	bool has_ret, has_err;

	f->replies++;
	INVARIANT(len > 0 && line[len - 1] == '\n');
	INVARIANT(!memchr(line, 0, len));
	INVARIANT(!memchr(line, '\n', len - 1));
	{
		char *text = strndup(line, len); /* a line has no NUL */

		INVARIANT(text);
		v = json_tokener_parse(text);
		free(text);
	}
	INVARIANT(v && json_object_is_type(v, json_type_object));
	INVARIANT(json_object_object_get_ex(v, "id", NULL));
	has_ret = json_object_object_get_ex(v, "return", NULL);
	has_err = json_object_object_get_ex(v, "error", &err);
	INVARIANT(has_ret != has_err);
	if (has_err) {
		INVARIANT(json_object_object_get_ex(err, "code", &code));
		INVARIANT(json_object_is_type(code, json_type_string));
		INVARIANT(known_code(json_object_get_string(code)));
		INVARIANT(json_object_object_get_ex(err, "message", NULL));
	}
	json_object_put(v);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_session s; /* 64 KiB: not on the stack */
	struct fake f = { 0 };
	const struct api_ops ops = api_fake_ops(&f.vm);
	unsigned newlines = 0;
	size_t at = 1;
	int r = 0;

	if (!size)
		return 0;
	api_session_init(&s, &ops, check_reply, &f);
	/* The first byte: the chunk size (1 to 256; 0 takes all at once). */
	while (at < size && !r) {
		size_t chunk = data[0] ? data[0] : size;
		size_t n = size - at < chunk ? size - at : chunk;

		for (size_t i = 0; i < n; i++)
			newlines += data[at + i] == '\n';
		r = api_session_input(&s, data + at, n);
		at += n;
	}
	INVARIANT(r == 0 || r == -EMSGSIZE);
	INVARIANT(f.replies <= newlines + (r == -EMSGSIZE));
	INVARIANT(r || s.len < API_LINE_MAX);
	return 0;
}
