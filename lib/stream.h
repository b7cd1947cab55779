/* The VM state stream: what a snapshot file holds and what a live
 * migration sends. Versioned and self-describing:
 *
 *   stream header  "VMMSTATE", format version, header CRC
 *   section*       header {id, instance, version, payload length, header
 *                  CRC}, payload, payload CRC32
 *   END section    (empty payload) closes the stream
 *
 * Payloads are opaque here except RAM sections, which are page runs: a
 * run of data pages carries their bytes, a run of zero pages only a
 * marker. Every field is little-endian. A reader rejects, with a message
 * naming what is wrong, anything that is not this: wrong magic, another
 * format version, a bad header or payload CRC, an unknown section id, a
 * payload longer than its id allows, a truncated stream, RAM runs that
 * do not add up to their section's length.
 *
 * Threads: a writer or reader belongs to the one thread using it; no
 * locks. Pure library: libc and zlib's crc32 only. */
#ifndef LIB_STREAM_H
#define LIB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_MAGIC "VMMSTATE"
#define STREAM_VERSION 1
#define STREAM_PAGE_SIZE 4096u
/* Pages of RAM per RAM section at most (the writer splits larger puts). */
#define STREAM_RAM_SECTION_PAGES 256u

/* Section ids: CONFIG is the VM's shape (cpus, RAM layout, devices); RAM
 * page runs; RAM_IMAGE a snapshot's RAM region stored in the file; VCPU
 * the architecture's state of vCPU `instance`; ARCH_VM the architecture's
 * VM-level part `instance`; DEVICE the state of device `instance`. */
enum stream_section_id {
	STREAM_SEC_CONFIG = 1,
	STREAM_SEC_RAM = 2,
	STREAM_SEC_RAM_IMAGE = 3,
	STREAM_SEC_VCPU = 4,
	STREAM_SEC_ARCH_VM = 5,
	STREAM_SEC_DEVICE = 6,
	STREAM_SEC_END = 7,
	STREAM_SEC_MAX = STREAM_SEC_END,
};

/* The longest payload each id may have; a longer one is rejected before
 * anything is allocated. */
uint64_t stream_section_max(uint32_t id);

struct stream_writer {
	int fd;
	uint8_t *buf; /* pending bytes, flushed when full and by stream_flush */
	size_t len, cap;
	uint64_t bytes; /* written to fd so far, plus pending */
	int error;	/* first -errno; every later call returns it */
};

/* 0 or -ENOMEM. The writer does not own fd. */
int stream_writer_init(struct stream_writer *w, int fd);
void stream_writer_free(struct stream_writer *w);
/* The stream header. */
int stream_put_header(struct stream_writer *w);
/* One section with payload [data, data + len). */
int stream_put_section(struct stream_writer *w, uint32_t id, uint32_t instance,
		       uint32_t version, const void *data, uint64_t len);
/* npages pages of RAM starting at guest-physical gpa, read from host:
 * one or more RAM sections, zero pages as markers only. *zero_pages (may
 * be NULL) is increased by the number of zero pages found. */
int stream_put_ram(struct stream_writer *w, uint64_t gpa, const uint8_t *host,
		   uint64_t npages, uint64_t *zero_pages);
int stream_put_end(struct stream_writer *w);
/* True when the STREAM_PAGE_SIZE bytes at p are all zero. */
bool stream_page_is_zero(const uint8_t *p);
/* Writes every pending byte (full writes, EINTR retried). */
int stream_flush(struct stream_writer *w);

struct stream_section {
	uint32_t id, instance, version;
	uint64_t len;
	/* len bytes, CRC checked; valid until the next call */
	uint8_t *payload;
};

struct stream_reader {
	int fd;
	uint8_t *payload; /* the current section's, grown as needed */
	size_t cap;
	uint64_t bytes; /* read so far */
	char why[128];	/* the last rejection, for the caller's one line */
};

int stream_reader_init(struct stream_reader *r, int fd);
void stream_reader_free(struct stream_reader *r);
/* Reads and checks the stream header. 0, or -EPROTO (not a stream, other
 * version, bad CRC; r->why says which), -ENODATA (end of file before the
 * header) or another -errno from read. */
int stream_get_header(struct stream_reader *r);
/* Reads the next section, payload and CRC included, and checks it. 0, or
 * -EPROTO / -ENODATA (truncated) / -errno as above. */
int stream_get_section(struct stream_reader *r, struct stream_section *s);

/* A RAM section's runs, decoded one at a time from a checked payload. */
struct stream_ram_run {
	uint64_t gpa;
	uint64_t npages;
	const uint8_t *data; /* npages * STREAM_PAGE_SIZE bytes; NULL: zeros */
};

struct stream_ram_cursor {
	const uint8_t *p;
	uint64_t left;
};

void stream_ram_begin(struct stream_ram_cursor *c,
		      const struct stream_section *s);
/* 1 and *run filled, 0 at the end of the payload, -EPROTO for a run that
 * is malformed (page count 0, gpa not page-aligned or wrapping, data past
 * the payload, unknown kind). */
int stream_ram_next(struct stream_ram_cursor *c, struct stream_ram_run *run);

#endif
