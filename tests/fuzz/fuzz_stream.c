/* The VM state stream's reader (lib/stream.c) on arbitrary bytes, given
 * through a pipe when they fit in one, else a memfd: the stream header,
 * then sections until END, the first error or 64 sections; every RAM
 * section walked with the run cursor. Each input is read as it is, then
 * again with every CRC set right where the layout has one, so that
 * mutations also reach the checks behind the CRCs.
 *
 * Checked for every input: no sanitizer report; every call returns 0,
 * -EPROTO or -ENODATA, an error with a reason (-ENODATA's starting
 * "truncated") and -ENODATA only once every byte was read; the reader
 * never counts more bytes than the input has; an accepted section is
 * within its id's maximum, and the writer re-encodes the header and the
 * accepted sections into exactly the input's bytes they came from (the
 * format has one encoding); every run the cursor returns is non-empty,
 * page-aligned, does not wrap, its data where it is in the payload, and
 * a walk that ends with 0 has accounted for every byte of the payload. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz.h"
#include "lib/stream.h"

#define MAX_SECTIONS 64

/* Reused across inputs: two memfds, and the writer (its 1 MiB buffer is
 * empty after each input's flush; its byte count only grows). */
static int in_fd = -1, out_fd = -1;
static struct stream_writer w;

/* An fd reading [data, data + size) to its end. */
static int input_fd(const uint8_t *data, size_t size)
{
	int p[2];

	if (size <= 65536 && pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		ssize_t n = size ? write(p[1], data, size) : 0;

		close(p[1]);
		if (n == (ssize_t)size)
			return p[0];
		close(p[0]);
	}
	if (in_fd < 0)
		in_fd = memfd_create("fuzz_stream_in", MFD_CLOEXEC);
	INVARIANT(in_fd >= 0);
	INVARIANT(ftruncate(in_fd, 0) == 0);
	INVARIANT(pwrite(in_fd, data, size, 0) == (ssize_t)size);
	INVARIANT(lseek(in_fd, 0, SEEK_SET) == 0);
	return dup(in_fd);
}

static void check_error(const struct stream_reader *r, int e, size_t size)
{
	INVARIANT(e == -EPROTO || e == -ENODATA);
	INVARIANT(r->why[0] && strlen(r->why) < sizeof(r->why));
	if (e == -ENODATA) {
		INVARIANT(r->bytes == size);
		INVARIANT(!strncmp(r->why, "truncated ", 10));
	}
}

static void walk_ram(const struct stream_section *s)
{
	struct stream_ram_cursor c;
	struct stream_ram_run run;
	uint64_t at = 0;
	int e;

	stream_ram_begin(&c, s);
	while ((e = stream_ram_next(&c, &run)) == 1) {
		uint64_t bytes = run.npages * STREAM_PAGE_SIZE;

		INVARIANT(run.npages > 0 && run.npages <= UINT32_MAX);
		INVARIANT(run.gpa % STREAM_PAGE_SIZE == 0);
		INVARIANT(run.gpa + bytes > run.gpa);
		at += 16;
		if (run.data) {
			INVARIANT(run.data == s->payload + at);
			INVARIANT(at + bytes <= s->len);
			at += bytes;
			/* Every byte of a data run is readable (ASan). */
			volatile uint8_t sink = run.data[bytes - 1];
			(void)sink;
		}
		INVARIANT(at <= s->len);
		INVARIANT(c.left == s->len - at);
	}
	INVARIANT(e == 0 || e == -EPROTO);
	if (e == 0)
		INVARIANT(at == s->len);
	else
		INVARIANT(stream_ram_next(&c, &run) == -EPROTO);
}

/* The input through the reader, checked as above. */
static void one(const uint8_t *data, size_t size)
{
	struct stream_reader r;
	struct stream_section s;
	uint64_t good = 0; /* input bytes re-encoded */
	uint64_t before;
	int fd = input_fd(data, size), e;

	INVARIANT(fd >= 0);
	if (out_fd < 0) {
		out_fd = memfd_create("fuzz_stream_out", MFD_CLOEXEC);
		INVARIANT(out_fd >= 0);
		INVARIANT(stream_writer_init(&w, out_fd) == 0);
	}
	INVARIANT(ftruncate(out_fd, 0) == 0);
	INVARIANT(lseek(out_fd, 0, SEEK_SET) == 0);
	INVARIANT(w.len == 0 && w.error == 0);
	before = w.bytes;
	INVARIANT(stream_reader_init(&r, fd) == 0);

	e = stream_get_header(&r);
	INVARIANT(r.bytes <= size);
	if (e) {
		check_error(&r, e, size);
	} else {
		INVARIANT(r.bytes == 20);
		INVARIANT(stream_put_header(&w) == 0);
		good = r.bytes;
	}
	for (int i = 0; !e && i < MAX_SECTIONS; i++) {
		e = stream_get_section(&r, &s);
		INVARIANT(r.bytes <= size);
		if (e) {
			check_error(&r, e, size);
			break;
		}
		INVARIANT(s.id >= STREAM_SEC_CONFIG && s.id <= STREAM_SEC_MAX);
		INVARIANT(s.len <= stream_section_max(s.id));
		INVARIANT(r.bytes == good + 28 + s.len + 4);
		INVARIANT(stream_put_section(&w, s.id, s.instance, s.version,
					     s.payload, s.len) == 0);
		good = r.bytes;
		if (s.id == STREAM_SEC_RAM)
			walk_ram(&s);
		if (s.id == STREAM_SEC_END)
			break;
	}
	INVARIANT(stream_flush(&w) == 0);
	INVARIANT(w.bytes - before == good);
	if (good) {
		uint8_t *out = malloc(good);

		INVARIANT(out);
		INVARIANT(pread(out_fd, out, good, 0) == (ssize_t)good);
		INVARIANT(!memcmp(out, data, good));
		free(out);
	}
	stream_reader_free(&r);
	close(fd);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Sets every CRC where the layout puts one: the header's, then each
 * section's header and payload CRCs while the sections fit. */
static void fix_crcs(uint8_t *b, size_t n)
{
	size_t off = 20;

	if (n < 20)
		return;
	put_le32(b + 16, (uint32_t)crc32(0, b, 16));
	while (n - off >= 28) {
		uint64_t len;

		put_le32(b + off + 24, (uint32_t)crc32(0, b + off, 24));
		len = get_le64(b + off + 16);
		if (len > n - off - 28 || n - off - 28 - len < 4)
			return;
		put_le32(b + off + 28 + len,
			 (uint32_t)crc32(0, b + off + 28, (uInt)len));
		off += 28 + len + 4;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	one(data, size);
	/* Again with its CRCs right, so that mutations reach the checks
	 * behind them: ids, lengths, RAM runs. */
	fixed = malloc(size + 1);
	INVARIANT(fixed);
	memcpy(fixed, data, size);
	fix_crcs(fixed, size);
	if (memcmp(fixed, data, size))
		one(fixed, size);
	free(fixed);
	return 0;
}
