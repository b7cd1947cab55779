/* The VM state stream (lib/stream.h): the writer's buffering and
 * encoding, the reader's checks, the RAM run cursor.
 *
 * Threads: a writer or a reader is used by the one thread that saves or
 * loads the state (a snapshot or migration thread, or the main thread);
 * all its state is in its struct, touched by that thread only: no locks,
 * no global mutable state. Pure library: libc and zlib's crc32.
 *
 * Byte layout, every integer little-endian:
 *
 *   stream header (20): "VMMSTATE", u32 format version, u32 flags (0),
 *                       u32 CRC32 of the 16 bytes before it
 *   section header (28): u32 id, u32 instance, u32 version, u32 reserved
 *                       (0), u64 payload length, u32 CRC32 of the 24
 *                       bytes before it
 *   payload, then u32 CRC32 of the payload (0 for an empty one)
 *   RAM payload: runs of u64 gpa, u32 page count, u32 kind (1 data: the
 *                pages' bytes follow; 2 zero: nothing follows)
 *
 * The writer copies everything into its buffer and computes the CRCs
 * over that copy, so a page the guest changes while it is being saved
 * (live migration) goes out with a CRC that matches what was sent; the
 * dirty log sends it again. The reader reads exactly the bytes of what it
 * decodes (a socket is never read past the END section) and checks each
 * length against its section's maximum before it allocates. */
#include "stream.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/checked.h"

#define HEADER_LEN 20u
#define SEC_HEADER_LEN 28u
#define RUN_HEADER_LEN 16u
#define CRC_LEN 4u
#define RUN_DATA 1u
#define RUN_ZERO 2u
/* Flushed when full; a section need not fit. */
#define WRITER_CAP (1u << 20)

/* Explicit little-endian encoding: lib/bytes.h's are host-endian. */
static void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void le64_put(uint8_t *p, uint64_t v)
{
	le32_put(p, (uint32_t)v);
	le32_put(p + 4, (uint32_t)(v >> 32));
}

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(0, p, (uInt)n);
}

static bool id_known(uint32_t id)
{
	return id >= STREAM_SEC_CONFIG && id <= STREAM_SEC_MAX;
}

static const char *id_name(uint32_t id)
{
	static const char *const names[] = {
		[STREAM_SEC_CONFIG] = "config",
		[STREAM_SEC_RAM] = "ram",
		[STREAM_SEC_RAM_IMAGE] = "ram-image",
		[STREAM_SEC_VCPU] = "vcpu",
		[STREAM_SEC_ARCH_VM] = "arch-vm",
		[STREAM_SEC_DEVICE] = "device",
		[STREAM_SEC_END] = "end",
	};

	return id_known(id) ? names[id] : "unknown";
}

uint64_t stream_section_max(uint32_t id)
{
	switch (id) {
	case STREAM_SEC_CONFIG: return 64u << 10;
	/* Every page its own data run: what no RAM section can exceed. */
	case STREAM_SEC_RAM:
		return (uint64_t)STREAM_RAM_SECTION_PAGES *
		       (RUN_HEADER_LEN + STREAM_PAGE_SIZE);
	case STREAM_SEC_RAM_IMAGE: return 4u << 10;
	case STREAM_SEC_VCPU:
	case STREAM_SEC_ARCH_VM:
	case STREAM_SEC_DEVICE: return 1u << 20;
	default: return 0; /* END: empty; unknown ids: refused */
	}
}

/* Waits until fd is ready for events (a non-blocking fd's EAGAIN). */
static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* ---- writer ---- */

int stream_writer_init(struct stream_writer *w, int fd)
{
	*w = (struct stream_writer){ .fd = fd };
	w->buf = malloc(WRITER_CAP);
	if (!w->buf)
		return -ENOMEM;
	w->cap = WRITER_CAP;
	return 0;
}

void stream_writer_free(struct stream_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

/* Records the first error; returns the one that sticks. */
static int w_fail(struct stream_writer *w, int err)
{
	if (!w->error)
		w->error = err;
	return w->error;
}

/* Writes the buffer out whole: short writes continued, EINTR retried, a
 * non-blocking fd waited for. */
static int write_out(struct stream_writer *w)
{
	size_t off = 0;

	while (off < w->len) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);
		int e;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			return w_fail(w, -EIO);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return w_fail(w, -errno);
		e = wait_fd(w->fd, POLLOUT);
		if (e)
			return w_fail(w, e);
	}
	w->len = 0;
	return 0;
}

/* Appends n bytes, flushing whenever the buffer fills; *crc, when given,
 * is carried over the copy in the buffer. */
static int append(struct stream_writer *w, const void *src, size_t n,
		  uint32_t *crc)
{
	const uint8_t *s = src;

	while (n) {
		size_t room;

		if (w->len == w->cap && write_out(w))
			return w->error;
		room = w->cap - w->len < n ? w->cap - w->len : n;
		memcpy(w->buf + w->len, s, room);
		if (crc)
			*crc = (uint32_t)crc32(*crc, w->buf + w->len,
					       (uInt)room);
		w->len += room;
		w->bytes += room;
		s += room;
		n -= room;
	}
	return 0;
}

static int put_crc(struct stream_writer *w, uint32_t crc)
{
	uint8_t b[CRC_LEN];

	le32_put(b, crc);
	return append(w, b, sizeof(b), NULL);
}

static int put_section_header(struct stream_writer *w, uint32_t id,
			      uint32_t instance, uint32_t version, uint64_t len)
{
	uint8_t h[SEC_HEADER_LEN];

	le32_put(h, id);
	le32_put(h + 4, instance);
	le32_put(h + 8, version);
	le32_put(h + 12, 0);
	le64_put(h + 16, len);
	le32_put(h + 24, crc_of(h, 24));
	return append(w, h, sizeof(h), NULL);
}

int stream_put_header(struct stream_writer *w)
{
	uint8_t h[HEADER_LEN];

	if (w->error)
		return w->error;
	memcpy(h, STREAM_MAGIC, 8);
	le32_put(h + 8, STREAM_VERSION);
	le32_put(h + 12, 0);
	le32_put(h + 16, crc_of(h, 16));
	return append(w, h, sizeof(h), NULL);
}

/* A caller's mistake (unknown id, payload over the maximum) also sticks:
 * a caller that looks only at the last flush still learns of it. */
int stream_put_section(struct stream_writer *w, uint32_t id, uint32_t instance,
		       uint32_t version, const void *data, uint64_t len)
{
	uint32_t crc = 0;

	if (w->error)
		return w->error;
	if (!id_known(id) || len > stream_section_max(id) || (len && !data))
		return w_fail(w, -EINVAL);
	if (put_section_header(w, id, instance, version, len) ||
	    append(w, data, (size_t)len, &crc))
		return w->error;
	return put_crc(w, crc);
}

/* Compares 8-byte words, 64 bytes at a time (vectorised by the
 * compiler), leaving at the first non-zero block. */
bool stream_page_is_zero(const uint8_t *p)
{
	for (size_t i = 0; i < STREAM_PAGE_SIZE; i += 64) {
		uint64_t acc = 0;

		for (size_t j = 0; j < 64; j += 8) {
			uint64_t v;

			memcpy(&v, p + i + j, 8);
			acc |= v;
		}
		if (acc)
			return false;
	}
	return true;
}

/* One RAM section of n <= STREAM_RAM_SECTION_PAGES pages whose kinds
 * are zero[]: consecutive pages of one kind make one run. */
static int put_ram_section(struct stream_writer *w, uint64_t gpa,
			   const uint8_t *host, uint32_t n, const bool *zero)
{
	uint64_t len = 0;
	uint32_t crc = 0, i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && zero[j] == zero[i]; j++)
			;
		len += RUN_HEADER_LEN +
		       (zero[i] ? 0 : (uint64_t)(j - i) * STREAM_PAGE_SIZE);
	}
	if (put_section_header(w, STREAM_SEC_RAM, 0, 0, len))
		return w->error;
	for (i = 0; i < n; i = j) {
		uint8_t run[RUN_HEADER_LEN];

		for (j = i + 1; j < n && zero[j] == zero[i]; j++)
			;
		le64_put(run, gpa + (uint64_t)i * STREAM_PAGE_SIZE);
		le32_put(run + 8, j - i);
		le32_put(run + 12, zero[i] ? RUN_ZERO : RUN_DATA);
		if (append(w, run, sizeof(run), &crc))
			return w->error;
		if (!zero[i] &&
		    append(w, host + (size_t)i * STREAM_PAGE_SIZE,
			   (size_t)(j - i) * STREAM_PAGE_SIZE, &crc))
			return w->error;
	}
	return put_crc(w, crc);
}

int stream_put_ram(struct stream_writer *w, uint64_t gpa, const uint8_t *host,
		   uint64_t npages, uint64_t *zero_pages)
{
	uint64_t bytes, end;

	if (w->error)
		return w->error;
	/* What the reader would refuse is refused here. */
	if (gpa % STREAM_PAGE_SIZE || (npages && !host) ||
	    !checked_mul(npages, STREAM_PAGE_SIZE, &bytes) ||
	    !checked_add(gpa, bytes, &end))
		return w_fail(w, -EINVAL);
	while (npages) {
		bool zero[STREAM_RAM_SECTION_PAGES];
		uint32_t n = npages < STREAM_RAM_SECTION_PAGES
				     ? (uint32_t)npages
				     : STREAM_RAM_SECTION_PAGES;
		uint64_t zeros = 0;
		int e;

		for (uint32_t i = 0; i < n; i++) {
			zero[i] = stream_page_is_zero(
				host + (size_t)i * STREAM_PAGE_SIZE);
			zeros += zero[i];
		}
		e = put_ram_section(w, gpa, host, n, zero);
		if (e)
			return e;
		if (zero_pages)
			*zero_pages += zeros;
		gpa += (uint64_t)n * STREAM_PAGE_SIZE;
		host += (size_t)n * STREAM_PAGE_SIZE;
		npages -= n;
	}
	return 0;
}

int stream_put_end(struct stream_writer *w)
{
	return stream_put_section(w, STREAM_SEC_END, 0, 0, NULL, 0);
}

int stream_flush(struct stream_writer *w)
{
	if (w->error)
		return w->error;
	return write_out(w);
}

/* ---- reader ---- */

int stream_reader_init(struct stream_reader *r, int fd)
{
	*r = (struct stream_reader){ .fd = fd };
	return 0;
}

void stream_reader_free(struct stream_reader *r)
{
	free(r->payload);
	r->payload = NULL;
	r->cap = 0;
}

__attribute__((format(printf, 3, 4))) static int
r_fail(struct stream_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return err;
}

/* Exactly n bytes, never more: 0, -ENODATA at end of file, -errno. */
static int read_exact(struct stream_reader *r, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(r->fd, buf + got, n - got);
		int e;

		if (k > 0) {
			got += (size_t)k;
			r->bytes += (uint64_t)k;
			continue;
		}
		if (k == 0)
			return -ENODATA;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		e = wait_fd(r->fd, POLLIN);
		if (e)
			return e;
	}
	return 0;
}

static int read_error(struct stream_reader *r, int err)
{
	return r_fail(r, err, "read error at byte %llu: %s",
		      (unsigned long long)r->bytes, strerror(-err));
}

int stream_get_header(struct stream_reader *r)
{
	uint64_t at = r->bytes;
	uint8_t h[HEADER_LEN];
	uint32_t version, flags;
	int e = read_exact(r, h, sizeof(h));

	if (e == -ENODATA)
		return r_fail(r, e,
			      "truncated in the stream header (%llu of %u "
			      "bytes)",
			      (unsigned long long)(r->bytes - at), HEADER_LEN);
	if (e)
		return read_error(r, e);
	if (memcmp(h, STREAM_MAGIC, 8))
		return r_fail(r, -EPROTO, "not a vmm state stream (bad magic)");
	/* Before the CRC: another version may lay its header out anew. */
	version = le32_get(h + 8);
	if (version != STREAM_VERSION)
		return r_fail(r, -EPROTO,
			      "stream format version %u, this vmm reads %u",
			      version, STREAM_VERSION);
	if (le32_get(h + 16) != crc_of(h, 16))
		return r_fail(r, -EPROTO, "stream header CRC mismatch");
	flags = le32_get(h + 12);
	if (flags)
		return r_fail(r, -EPROTO,
			      "stream header flags %#x, this vmm knows none",
			      flags);
	return 0;
}

int stream_get_section(struct stream_reader *r, struct stream_section *s)
{
	unsigned long long at = r->bytes;
	uint8_t h[SEC_HEADER_LEN];
	uint32_t id, instance, version, reserved;
	uint64_t len, max;
	size_t need;
	int e = read_exact(r, h, sizeof(h));

	if (e == -ENODATA && r->bytes == at)
		return r_fail(r, e,
			      "truncated at byte %llu: the stream ends "
			      "before its END section",
			      at);
	if (e == -ENODATA)
		return r_fail(r, e,
			      "truncated in the section header at byte %llu "
			      "(%llu of %u bytes)",
			      at, (unsigned long long)r->bytes - at,
			      SEC_HEADER_LEN);
	if (e)
		return read_error(r, e);
	if (le32_get(h + 24) != crc_of(h, 24))
		return r_fail(r, -EPROTO,
			      "section header at byte %llu: CRC mismatch", at);
	id = le32_get(h);
	instance = le32_get(h + 4);
	version = le32_get(h + 8);
	reserved = le32_get(h + 12);
	len = le64_get(h + 16);
	if (!id_known(id))
		return r_fail(r, -EPROTO,
			      "section header at byte %llu: unknown section "
			      "id %u",
			      at, id);
	if (reserved)
		return r_fail(r, -EPROTO,
			      "section %u (%s) at byte %llu: reserved field "
			      "%#x, not 0",
			      id, id_name(id), at, reserved);
	max = stream_section_max(id);
	if (len > max)
		return r_fail(r, -EPROTO,
			      "section %u (%s) at byte %llu: payload length "
			      "%llu over its maximum %llu",
			      id, id_name(id), at, (unsigned long long)len,
			      (unsigned long long)max);
	/* Payload and its CRC in one read; nothing of what follows. */
	need = (size_t)len + CRC_LEN;
	if (need > r->cap) {
		free(r->payload);
		r->cap = 0;
		r->payload = malloc(need);
		if (!r->payload)
			return r_fail(r, -ENOMEM,
				      "section %u (%s) at byte %llu: no "
				      "memory for %zu bytes",
				      id, id_name(id), at, need);
		r->cap = need;
	}
	e = read_exact(r, r->payload, need);
	if (e == -ENODATA)
		return r_fail(r, e,
			      "truncated in section %u (%s) at byte %llu "
			      "(%llu of %zu payload and CRC bytes)",
			      id, id_name(id), at,
			      (unsigned long long)r->bytes - at -
				      SEC_HEADER_LEN,
			      need);
	if (e)
		return read_error(r, e);
	if (le32_get(r->payload + len) != crc_of(r->payload, (size_t)len))
		return r_fail(r, -EPROTO,
			      "section %u (%s) at byte %llu: payload CRC "
			      "mismatch",
			      id, id_name(id), at);
	*s = (struct stream_section){ .id = id,
				      .instance = instance,
				      .version = version,
				      .len = len,
				      .payload = r->payload };
	return 0;
}

/* ---- RAM runs ---- */

void stream_ram_begin(struct stream_ram_cursor *c,
		      const struct stream_section *s)
{
	c->p = s->payload;
	c->left = s->len;
}

/* A malformed run leaves the cursor where it is: every later call
 * returns -EPROTO again. */
int stream_ram_next(struct stream_ram_cursor *c, struct stream_ram_run *run)
{
	uint64_t gpa, npages, bytes, end, take = RUN_HEADER_LEN;
	uint32_t kind;

	if (!c->left)
		return 0;
	if (c->left < RUN_HEADER_LEN)
		return -EPROTO;
	gpa = le64_get(c->p);
	npages = le32_get(c->p + 8);
	kind = le32_get(c->p + 12);
	bytes = npages * STREAM_PAGE_SIZE; /* < 2^44 */
	/* The end, gpa + bytes, must be representable. */
	if (!npages || gpa % STREAM_PAGE_SIZE || !checked_add(gpa, bytes, &end))
		return -EPROTO;
	if (kind == RUN_DATA) {
		if (bytes > c->left - RUN_HEADER_LEN)
			return -EPROTO;
		take += bytes;
	} else if (kind != RUN_ZERO) {
		return -EPROTO;
	}
	*run = (struct stream_ram_run){
		.gpa = gpa,
		.npages = npages,
		.data = kind == RUN_DATA ? c->p + RUN_HEADER_LEN : NULL,
	};
	c->p += take;
	c->left -= take;
	return 1;
}
