/* lib/stream: the exact bytes of a stream header and a section (encoded
 * here independently of the library); round trips of every section kind
 * through a memfd, a pipe, a socket and non-blocking pipes, with signals
 * interrupting reads and writes; RAM as zero and data runs, coalesced,
 * split at STREAM_RAM_SECTION_PAGES, rebuilt page for page; every
 * rejection with its code and the exact reason (bad magic, another
 * version, flags, header and payload CRCs, unknown id, reserved field,
 * oversize length refused before any allocation, truncation at every
 * byte offset); malformed RAM runs; the reader never reading past END;
 * the writer's first error sticking (EPIPE, bad arguments). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/stream.h"

#define PAGE STREAM_PAGE_SIZE
#define HDR 20u	 /* stream header */
#define SHDR 28u /* section header */
#define RUN 16u	 /* RAM run header */
#define KIND_DATA 1u
#define KIND_ZERO 2u

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t crc(const void *p, size_t n)
{
	return (uint32_t)crc32(0, p, (uInt)n);
}

/* A stream header at p; its length. */
static size_t put_hdr(uint8_t *p, uint32_t version, uint32_t flags)
{
	memcpy(p, "VMMSTATE", 8);
	le32(p + 8, version);
	le32(p + 12, flags);
	le32(p + 16, crc(p, 16));
	return HDR;
}

/* A section header at p claiming len payload bytes; its length. */
static size_t put_shdr(uint8_t *p, uint32_t id, uint32_t instance,
		       uint32_t version, uint32_t reserved, uint64_t len)
{
	le32(p, id);
	le32(p + 4, instance);
	le32(p + 8, version);
	le32(p + 12, reserved);
	le64(p + 16, len);
	le32(p + 24, crc(p, 24));
	return SHDR;
}

/* A payload and its CRC at p; their length. */
static size_t put_payload(uint8_t *p, const void *data, size_t n)
{
	memcpy(p, data, n);
	le32(p + n, crc(data, n));
	return n + 4;
}

static size_t put_run(uint8_t *p, uint64_t gpa, uint32_t npages, uint32_t kind)
{
	le64(p, gpa);
	le32(p + 8, npages);
	le32(p + 12, kind);
	return RUN;
}

/* A memfd holding [p, p + n), at offset 0. */
static int mem_fd(const void *p, size_t n)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A writer on a fresh memfd. */
static int writer_on_memfd(struct stream_writer *w)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(stream_writer_init(w, fd), 0);
	return fd;
}

/* Flushes w, checks that w->bytes is what reached fd, frees w and
 * returns fd rewound, for a reader. */
static int writer_done(struct stream_writer *w, int fd)
{
	cr_assert_eq(stream_flush(w), 0);
	cr_assert_eq(w->len, 0);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)w->bytes);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	stream_writer_free(w);
	return fd;
}

/* What a writer produced, malloc'd; *n its length. */
static uint8_t *writer_bytes(struct stream_writer *w, int fd, size_t *n)
{
	uint8_t *b;

	writer_done(w, fd);
	*n = (size_t)lseek(fd, 0, SEEK_END);
	b = malloc(*n + 1);
	cr_assert_eq(pread(fd, b, *n, 0), (ssize_t)*n);
	close(fd);
	return b;
}

/* Reads a whole stream from fd: header, sections until END. 0 at END, or
 * the first error; *sections counts the sections read (END included). */
static int read_all(struct stream_reader *r, int fd, unsigned *sections)
{
	struct stream_section s;
	int e;

	*sections = 0;
	cr_assert_eq(stream_reader_init(r, fd), 0);
	e = stream_get_header(r);
	while (!e) {
		e = stream_get_section(r, &s);
		if (e)
			break;
		++*sections;
		if (s.id == STREAM_SEC_END)
			break;
	}
	return e;
}

/* Reads bytes [p, p + n) as a stream: the error and r->why checked. */
static void expect_refused(const uint8_t *p, size_t n, int err, const char *why)
{
	struct stream_reader r;
	unsigned sections;
	int fd = mem_fd(p, n);

	cr_assert_eq(read_all(&r, fd, &sections), err, "%s: got '%s'", why,
		     r.why);
	cr_assert_str_eq(r.why, why);
	stream_reader_free(&r);
	close(fd);
}

/* Page i of a test memory: zeros, or 0xa5 bytes after i in its first 8. */
static void fill_page(uint8_t *page, uint64_t i, bool zero)
{
	if (zero) {
		memset(page, 0, PAGE);
		return;
	}
	memset(page, 0xa5, PAGE);
	le64(page, i);
}

/* Reads RAM sections from r until END into mem (npages from base), every
 * run inside [base, base + npages) and inside its section; pages[k] gets
 * the page count of the k-th RAM section, runs[k] its run count. Returns
 * the number of RAM sections. */
static unsigned read_ram(struct stream_reader *r, uint64_t base, uint8_t *mem,
			 uint64_t npages, unsigned *pages, unsigned *runs,
			 unsigned max_sections)
{
	struct stream_section s;
	uint64_t next = 0;
	unsigned k = 0;

	for (;;) {
		struct stream_ram_cursor c;
		struct stream_ram_run run;
		int e;

		cr_assert_eq(stream_get_section(r, &s), 0, "%s", r->why);
		if (s.id == STREAM_SEC_END)
			break;
		cr_assert_eq(s.id, STREAM_SEC_RAM);
		cr_assert_eq(s.instance, 0);
		cr_assert_eq(s.version, 0);
		cr_assert_lt(k, max_sections);
		pages[k] = runs[k] = 0;
		stream_ram_begin(&c, &s);
		while ((e = stream_ram_next(&c, &run)) == 1) {
			uint64_t off = run.gpa - base;

			cr_assert_geq(run.gpa, base);
			cr_assert_leq(off / PAGE + run.npages, npages);
			/* Runs follow each other from base, across sections
			 * too. */
			cr_assert_eq(run.gpa, runs[k] || k ? next : base);
			next = run.gpa + run.npages * PAGE;
			if (run.data)
				memcpy(mem + off, run.data, run.npages * PAGE);
			else
				memset(mem + off, 0, run.npages * PAGE);
			pages[k] += (unsigned)run.npages;
			runs[k]++;
		}
		cr_assert_eq(e, 0);
		k++;
	}
	return k;
}

Test(stream, section_max)
{
	cr_assert_eq(stream_section_max(STREAM_SEC_CONFIG), 65536);
	cr_assert_eq(stream_section_max(STREAM_SEC_RAM), 256 * (4096 + 16));
	cr_assert_eq(stream_section_max(STREAM_SEC_RAM_IMAGE), 4096);
	cr_assert_eq(stream_section_max(STREAM_SEC_VCPU), 1 << 20);
	cr_assert_eq(stream_section_max(STREAM_SEC_ARCH_VM), 1 << 20);
	cr_assert_eq(stream_section_max(STREAM_SEC_DEVICE), 1 << 20);
	cr_assert_eq(stream_section_max(STREAM_SEC_END), 0);
	cr_assert_eq(stream_section_max(0), 0);
	cr_assert_eq(stream_section_max(8), 0);
	cr_assert_eq(stream_section_max(UINT32_MAX), 0);
}

/* The bytes, field by field, against an encoding written here. */
Test(stream, header_and_section_bytes)
{
	static const uint8_t head[16] = { 'V', 'M', 'M', 'S', 'T', 'A',
					  'T', 'E', 1,	 0,   0,   0,
					  0,   0,   0,	 0 };
	uint8_t want[256];
	struct stream_writer w;
	size_t n, k = 0;
	uint8_t *b;
	int fd = writer_on_memfd(&w);

	cr_assert_eq(stream_put_header(&w), 0);
	cr_assert_eq(w.bytes, 20);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_VCPU, 2, 3, "abc", 3),
		     0);
	cr_assert_eq(w.bytes, 20 + 28 + 3 + 4);
	cr_assert_eq(stream_put_end(&w), 0);
	cr_assert_eq(w.bytes, 20 + 35 + 32);
	b = writer_bytes(&w, fd, &n);
	cr_assert_eq(n, 87);

	cr_assert_eq(memcmp(b, head, 16), 0);
	k += put_hdr(want, 1, 0);
	cr_assert_eq(memcmp(b, want, 20), 0);
	/* The section header: id 4, instance 2, version 3, reserved,
	 * length 3, CRC; then "abc" and crc32("abc"). */
	static const uint8_t sec[24] = { 4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
					 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(memcmp(b + 20, sec, 24), 0);
	k += put_shdr(want + k, 4, 2, 3, 0, 3);
	k += put_payload(want + k, "abc", 3);
	cr_assert_eq(memcmp(b + 51, "\xc2\x41\x24\x35", 4), 0);
	/* END: id 7, everything else 0, CRC of the empty payload 0. */
	k += put_shdr(want + k, 7, 0, 0, 0, 0);
	k += put_payload(want + k, "", 0);
	cr_assert_eq(k, n);
	cr_assert_eq(memcmp(b, want, n), 0);
	cr_assert_eq(memcmp(b + 83, "\0\0\0\0", 4), 0);
	free(b);
}

struct job {
	int fd;
	uint8_t *ram;
	uint64_t npages;
	uint8_t *config;
	uint64_t bytes;
	int result;
};

static void *write_job(void *arg)
{
	struct job *j = arg;
	struct stream_writer w;
	uint8_t vcpu[100];
	int e;

	memset(vcpu, 0x11, sizeof(vcpu));
	e = stream_writer_init(&w, j->fd);
	e = e ?: stream_put_header(&w);
	e = e
		    ?: stream_put_section(&w, STREAM_SEC_CONFIG, 0, 1,
					  j->config, 65536);
	for (uint32_t i = 0; i < 2 && !e; i++) {
		vcpu[0] = (uint8_t)i;
		e = stream_put_section(&w, STREAM_SEC_VCPU, i, 5, vcpu,
				       sizeof(vcpu));
	}
	e = e ?: stream_put_section(&w, STREAM_SEC_DEVICE, 9, 2, NULL, 0);
	e = e ?: stream_put_ram(&w, 1ull << 32, j->ram, j->npages, NULL);
	e = e ?: stream_put_end(&w);
	e = e ?: stream_flush(&w);
	j->bytes = w.bytes;
	j->result = e;
	stream_writer_free(&w);
	close(j->fd);
	return NULL;
}

/* A pipe: no seeking, reads and writes of any length. */
Test(stream, round_trip_over_a_pipe, .timeout = 30)
{
	struct job j = { .npages = 300 };
	struct stream_reader r;
	struct stream_section s;
	unsigned pages[4], runs[4];
	uint8_t *back;
	pthread_t t;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	j.fd = p[1];
	j.config = malloc(65536);
	for (size_t i = 0; i < 65536; i++)
		j.config[i] = (uint8_t)(i * 7);
	j.ram = malloc(j.npages * PAGE);
	back = calloc(j.npages, PAGE);
	for (uint64_t i = 0; i < j.npages; i++)
		fill_page(j.ram + i * PAGE, i, i % 5 == 0);
	cr_assert_eq(pthread_create(&t, NULL, write_job, &j), 0);

	cr_assert_eq(stream_reader_init(&r, p[0]), 0);
	cr_assert_eq(stream_get_header(&r), 0, "%s", r.why);
	cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
	cr_assert_eq(s.id, STREAM_SEC_CONFIG);
	cr_assert_eq(s.version, 1);
	cr_assert_eq(s.len, 65536);
	cr_assert_eq(memcmp(s.payload, j.config, 65536), 0);
	for (uint32_t i = 0; i < 2; i++) {
		cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
		cr_assert_eq(s.id, STREAM_SEC_VCPU);
		cr_assert_eq(s.instance, i);
		cr_assert_eq(s.version, 5);
		cr_assert_eq(s.len, 100);
		cr_assert_eq(s.payload[0], i);
		cr_assert_eq(s.payload[99], 0x11);
	}
	cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
	cr_assert_eq(s.id, STREAM_SEC_DEVICE);
	cr_assert_eq(s.instance, 9);
	cr_assert_eq(s.version, 2);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(read_ram(&r, 1ull << 32, back, j.npages, pages, runs, 4),
		     2);
	cr_assert_eq(pages[0], 256);
	cr_assert_eq(pages[1], 44);
	cr_assert_eq(memcmp(back, j.ram, j.npages * PAGE), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(j.result, 0);
	cr_assert_eq(r.bytes, j.bytes);
	{
		uint8_t c;
		cr_assert_eq(read(p[0], &c, 1), 0); /* nothing after END */
	}
	stream_reader_free(&r);
	close(p[0]);
	free(j.config);
	free(j.ram);
	free(back);
}

/* D D Z Z Z D Z D D D: five runs, the zero ones markers only. Pages
 * zero but for their last or first byte are data. */
Test(stream, ram_runs_coalesce)
{
	static const bool zero[10] = { 0, 0, 1, 1, 1, 0, 1, 0, 0, 0 };
	static const struct {
		uint64_t page, npages;
		bool data;
	} want[] = {
		{ 0, 2, 1 }, { 2, 3, 0 }, { 5, 1, 1 }, { 6, 1, 0 }, { 7, 3, 1 }
	};
	const uint64_t base = 0x100000;
	uint8_t *mem = malloc(10 * PAGE);
	struct stream_writer w;
	struct stream_reader r;
	struct stream_section s;
	struct stream_ram_cursor c;
	struct stream_ram_run run;
	uint64_t zeros = 10;
	int fd = writer_on_memfd(&w);

	for (int i = 0; i < 10; i++)
		fill_page(mem + i * PAGE, (uint64_t)i, zero[i]);
	memset(mem + 5 * PAGE, 0, PAGE);
	mem[5 * PAGE + PAGE - 1] = 1;
	memset(mem + 8 * PAGE, 0, PAGE);
	mem[8 * PAGE] = 0x80;
	cr_assert_eq(stream_put_ram(&w, base, mem, 10, &zeros), 0);
	cr_assert_eq(zeros, 14);
	cr_assert_eq(w.bytes, SHDR + 5 * RUN + 6 * PAGE + 4);
	cr_assert_eq(stream_put_end(&w), 0);
	writer_done(&w, fd);

	cr_assert_eq(stream_reader_init(&r, fd), 0);
	cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
	cr_assert_eq(s.id, STREAM_SEC_RAM);
	cr_assert_eq(s.len, 5 * RUN + 6 * PAGE);
	stream_ram_begin(&c, &s);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(stream_ram_next(&c, &run), 1);
		cr_assert_eq(run.gpa, base + want[i].page * PAGE);
		cr_assert_eq(run.npages, want[i].npages);
		if (want[i].data)
			cr_assert_eq(memcmp(run.data, mem + want[i].page * PAGE,
					    run.npages * PAGE),
				     0);
		else
			cr_assert_null(run.data);
	}
	cr_assert_eq(stream_ram_next(&c, &run), 0);
	cr_assert_eq(stream_ram_next(&c, &run), 0);
	cr_assert_eq(stream_get_section(&r, &s), 0);
	cr_assert_eq(s.id, STREAM_SEC_END);
	stream_reader_free(&r);
	close(fd);
	free(mem);
}

/* n pages, zero in blocks of 7 (odd blocks), written and read back:
 * the page count of each section and the memory rebuilt. */
static void split(uint64_t n, unsigned nsec, const unsigned *want_pages)
{
	const uint64_t base = 0x7f000000;
	uint8_t *mem = malloc(n * PAGE), *back = malloc(n * PAGE);
	unsigned pages[8], runs[8];
	struct stream_writer w;
	struct stream_reader r;
	uint64_t zeros = 0, want_zeros = 0;
	int fd = writer_on_memfd(&w);

	memset(back, 0xee, n * PAGE);
	for (uint64_t i = 0; i < n; i++) {
		fill_page(mem + i * PAGE, i, (i / 7) % 2);
		want_zeros += (i / 7) % 2;
	}
	cr_assert_eq(stream_put_ram(&w, base, mem, n, &zeros), 0);
	cr_assert_eq(zeros, want_zeros);
	cr_assert_eq(stream_put_end(&w), 0);
	writer_done(&w, fd);
	cr_assert_eq(stream_reader_init(&r, fd), 0);
	cr_assert_eq(read_ram(&r, base, back, n, pages, runs, 8), nsec);
	for (unsigned k = 0; k < nsec; k++)
		cr_assert_eq(pages[k], want_pages[k], "section %u", k);
	cr_assert_eq(memcmp(back, mem, n * PAGE), 0);
	/* 256 pages, runs of 7 alternating: 36 whole runs and a split one. */
	if (n >= 256)
		cr_assert_eq(runs[0], 37);
	stream_reader_free(&r);
	close(fd);
	free(mem);
	free(back);
}

Test(stream, ram_splits_at_section_pages)
{
	split(1, 1, (unsigned[]){ 1 });
	split(255, 1, (unsigned[]){ 255 });
	split(256, 1, (unsigned[]){ 256 });
	split(257, 2, (unsigned[]){ 256, 1 });
	split(600, 3, (unsigned[]){ 256, 256, 88 });
}

Test(stream, ram_all_zero_is_markers_only)
{
	uint8_t *mem = calloc(1000, PAGE);
	struct stream_writer w;
	uint64_t zeros = 0;
	size_t n;
	uint8_t *b;
	int fd = writer_on_memfd(&w);

	cr_assert_eq(stream_put_ram(&w, 0, mem, 1000, &zeros), 0);
	cr_assert_eq(stream_put_ram(&w, 0, mem, 0, &zeros), 0);
	cr_assert_eq(zeros, 1000);
	b = writer_bytes(&w, fd, &n);
	cr_assert_eq(n, 4 * (SHDR + RUN + 4));
	for (unsigned k = 0; k < 4; k++) {
		uint8_t want[SHDR + RUN + 4], run[RUN];
		size_t at = k * sizeof(want);

		put_shdr(want, STREAM_SEC_RAM, 0, 0, 0, RUN);
		put_run(run, k * 256ull * PAGE, k < 3 ? 256 : 232, KIND_ZERO);
		put_payload(want + SHDR, run, RUN);
		cr_assert_eq(memcmp(b + at, want, sizeof(want)), 0, "%u", k);
	}
	free(b);
	free(mem);
}

Test(stream, header_rejections)
{
	uint8_t b[64];

	put_hdr(b, 1, 0);
	memcpy(b, "VMMSTATF", 8);
	le32(b + 16, crc(b, 16));
	expect_refused(b, HDR, -EPROTO, "not a vmm state stream (bad magic)");
	expect_refused((const uint8_t *)"\x7f"
					"ELF\2\1\1\0\0\0\0\0\0\0\0\0\0\0\0\0",
		       HDR, -EPROTO, "not a vmm state stream (bad magic)");
	put_hdr(b, 7, 0);
	expect_refused(b, HDR, -EPROTO,
		       "stream format version 7, this vmm reads 1");
	put_hdr(b, 0, 0);
	expect_refused(b, HDR, -EPROTO,
		       "stream format version 0, this vmm reads 1");
	/* Another version is named even when its header does not check. */
	b[16] ^= 1;
	expect_refused(b, HDR, -EPROTO,
		       "stream format version 0, this vmm reads 1");
	for (size_t i = 12; i < HDR; i++) {
		put_hdr(b, 1, 0);
		b[i] ^= 0x40;
		expect_refused(b, HDR, -EPROTO, "stream header CRC mismatch");
	}
	put_hdr(b, 1, 1);
	expect_refused(b, HDR, -EPROTO,
		       "stream header flags 0x1, this vmm knows none");
	put_hdr(b, 1, 0x80000000);
	expect_refused(b, HDR, -EPROTO,
		       "stream header flags 0x80000000, this vmm knows none");
	expect_refused(b, 0, -ENODATA,
		       "truncated in the stream header (0 of 20 bytes)");
	expect_refused(b, 19, -ENODATA,
		       "truncated in the stream header (19 of 20 bytes)");
	put_hdr(b, 1, 0);
	expect_refused(b, HDR, -ENODATA,
		       "truncated at byte 20: the stream ends before its END "
		       "section");
}

/* A valid header and a 3-byte CONFIG section (55 bytes), then at 55 a
 * VCPU section with a 5-byte payload (at 83) and its CRC (at 88); END at 92. */
static size_t two_sections(uint8_t *b)
{
	size_t k = put_hdr(b, 1, 0);

	k += put_shdr(b + k, STREAM_SEC_CONFIG, 0, 0, 0, 3);
	k += put_payload(b + k, "cfg", 3);
	k += put_shdr(b + k, STREAM_SEC_VCPU, 1, 1, 0, 5);
	k += put_payload(b + k, "regs!", 5);
	k += put_shdr(b + k, STREAM_SEC_END, 0, 0, 0, 0);
	k += put_payload(b + k, "", 0);
	return k;
}

Test(stream, section_rejections)
{
	uint8_t b[256];
	size_t n = two_sections(b);

	cr_assert_eq(n, 20 + 35 + 37 + 32);
	expect_refused(b, n, 0, "");
	/* Each byte of the VCPU section's header, its CRC included. */
	for (size_t i = 55; i < 55 + SHDR; i++) {
		two_sections(b);
		b[i] ^= 4;
		expect_refused(b, n, -EPROTO,
			       "section header at byte 55: CRC mismatch");
	}
	for (size_t i = 83; i < 83 + 5 + 4; i++) {
		two_sections(b);
		b[i] ^= 0x10;
		expect_refused(b, n, -EPROTO,
			       "section 4 (vcpu) at byte 55: payload CRC "
			       "mismatch");
	}
	static const uint32_t bad_ids[] = { 0, 8, 255, UINT32_MAX };
	for (size_t i = 0; i < 4; i++) {
		char why[128];

		two_sections(b);
		put_shdr(b + 55, bad_ids[i], 1, 1, 0, 5);
		snprintf(why, sizeof(why),
			 "section header at byte 55: unknown section id %u",
			 bad_ids[i]);
		expect_refused(b, n, -EPROTO, why);
	}
	two_sections(b);
	put_shdr(b + 55, STREAM_SEC_VCPU, 1, 1, 0x100, 5);
	expect_refused(b, n, -EPROTO,
		       "section 4 (vcpu) at byte 55: reserved field 0x100, "
		       "not 0");
	/* The END section has no payload. */
	two_sections(b);
	put_shdr(b + 92, STREAM_SEC_END, 0, 0, 0, 1);
	expect_refused(b, n, -EPROTO,
		       "section 7 (end) at byte 92: payload length 1 over its "
		       "maximum 0");
}

/* A length over the maximum is refused from the header alone: nothing
 * allocated, nothing of the payload read. */
Test(stream, oversize_refused_before_allocation)
{
	static const struct {
		uint32_t id;
		uint64_t len;
		const char *why;
	} c[] = {
		{ STREAM_SEC_CONFIG, 65537,
		  "section 1 (config) at byte 20: payload length 65537 over its maximum 65536" },
		{ STREAM_SEC_RAM, 256 * 4112 + 1,
		  "section 2 (ram) at byte 20: payload length 1052673 over its maximum 1052672" },
		{ STREAM_SEC_RAM_IMAGE, 4097,
		  "section 3 (ram-image) at byte 20: payload length 4097 over its maximum 4096" },
		{ STREAM_SEC_DEVICE, UINT64_MAX,
		  "section 6 (device) at byte 20: payload length 18446744073709551615 over its maximum 1048576" },
		{ STREAM_SEC_ARCH_VM, 1ull << 63,
		  "section 5 (arch-vm) at byte 20: payload length 9223372036854775808 over its maximum 1048576" },
	};
	uint8_t b[HDR + SHDR + 16];

	memset(b, 0, sizeof(b));
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct stream_reader r;
		struct stream_section s;
		int fd;

		put_hdr(b, 1, 0);
		put_shdr(b + HDR, c[i].id, 0, 0, 0, c[i].len);
		fd = mem_fd(b, sizeof(b));
		cr_assert_eq(stream_reader_init(&r, fd), 0);
		cr_assert_eq(stream_get_header(&r), 0);
		cr_assert_eq(stream_get_section(&r, &s), -EPROTO);
		cr_assert_str_eq(r.why, c[i].why);
		cr_assert_null(r.payload);
		cr_assert_eq(r.cap, 0);
		cr_assert_eq(r.bytes, HDR + SHDR);
		stream_reader_free(&r);
		close(fd);
	}
}

/* Every prefix of a small valid stream is truncated, never malformed,
 * every byte of it read; the whole stream reads to END. */
Test(stream, truncation_at_every_byte)
{
	uint8_t mem[3 * PAGE];
	struct stream_writer w;
	size_t n;
	uint8_t *b;
	int fd = writer_on_memfd(&w);

	fill_page(mem, 0, false);
	fill_page(mem + PAGE, 1, true);
	fill_page(mem + 2 * PAGE, 2, false);
	cr_assert_eq(stream_put_header(&w), 0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_CONFIG, 0, 1, "cfg", 3),
		     0);
	cr_assert_eq(stream_put_ram(&w, 0x2000, mem, 3, NULL), 0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_DEVICE, 3, 1, NULL, 0),
		     0);
	cr_assert_eq(stream_put_end(&w), 0);
	b = writer_bytes(&w, fd, &n);
	cr_assert_eq(n, HDR + (SHDR + 3 + 4) + (SHDR + 3 * RUN + 2 * PAGE + 4) +
				(SHDR + 4) + (SHDR + 4));

	for (size_t k = 0; k <= n; k++) {
		struct stream_reader r;
		unsigned sections;
		int e;

		fd = mem_fd(b, k);
		e = read_all(&r, fd, &sections);
		cr_assert_eq(r.bytes, k);
		if (k == n) {
			cr_assert_eq(e, 0, "%s", r.why);
			cr_assert_eq(sections, 4);
		} else {
			cr_assert_eq(e, -ENODATA, "at %zu: %d %s", k, e, r.why);
			cr_assert_eq(strncmp(r.why, "truncated ", 10), 0,
				     "at %zu: %s", k, r.why);
		}
		stream_reader_free(&r);
		close(fd);
	}
	/* A few of the reasons, exactly. */
	fd = mem_fd(b, 30);
	{
		struct stream_reader r;
		unsigned sections;

		read_all(&r, fd, &sections);
		cr_assert_str_eq(r.why, "truncated in the section header at "
					"byte 20 (10 of 28 bytes)");
		close(fd);
		fd = mem_fd(b, 50);
		read_all(&r, fd, &sections);
		cr_assert_str_eq(r.why, "truncated in section 1 (config) at "
					"byte 20 (2 of 7 payload and CRC "
					"bytes)");
		stream_reader_free(&r);
		close(fd);
	}
	free(b);
}

/* A RAM section of the given payload, through the cursor: the result of
 * each stream_ram_next until one is not 1, the last one returned. */
static int walk(const uint8_t *p, size_t n, unsigned *good)
{
	struct stream_section s = { .id = STREAM_SEC_RAM,
				    .len = n,
				    .payload = (uint8_t *)p };
	struct stream_ram_cursor c;
	struct stream_ram_run run;
	int e;

	*good = 0;
	stream_ram_begin(&c, &s);
	while ((e = stream_ram_next(&c, &run)) == 1)
		++*good;
	/* A malformed run stays malformed. */
	if (e < 0)
		cr_assert_eq(stream_ram_next(&c, &run), e);
	return e;
}

Test(stream, ram_run_rejections)
{
	uint8_t p[2 * RUN + 2 * PAGE] = { 0 };
	unsigned good;
	size_t k;

	cr_assert_eq(walk(p, 0, &good), 0);
	cr_assert_eq(good, 0);
	/* Page count 0. */
	put_run(p, 0x1000, 0, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	put_run(p, 0x1000, 0, KIND_DATA);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	/* Unaligned. */
	put_run(p, 0x1001, 1, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	put_run(p, 0x1800, 1, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	/* Wrapping, and ending exactly at 2^64 (not representable). */
	put_run(p, UINT64_MAX - 0xfff, 2, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	put_run(p, UINT64_MAX - 0xfff, 1, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	put_run(p, 1ull << 63, UINT32_MAX, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), 0);
	put_run(p, UINT64_MAX - 0x1fff, 1, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), 0);
	cr_assert_eq(good, 1);
	put_run(p, UINT64_MAX - 0xfffffffffffull, UINT32_MAX, KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), 0);
	put_run(p, UINT64_MAX - 0xfffffffffffull + 0x1000, UINT32_MAX,
		KIND_ZERO);
	cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	/* Unknown kinds. */
	static const uint32_t kinds[] = { 0, 3, 0x101, UINT32_MAX };
	for (size_t i = 0; i < 4; i++) {
		put_run(p, 0, 1, kinds[i]);
		cr_assert_eq(walk(p, RUN, &good), -EPROTO);
	}
	/* Data past the payload: 2 pages claimed, 1 and 4095 bytes there. */
	k = put_run(p, 0, 2, KIND_DATA);
	memset(p + k, 1, 2 * PAGE);
	cr_assert_eq(walk(p, k + 2 * PAGE, &good), 0);
	cr_assert_eq(good, 1);
	static const size_t short_by[] = { 1,	    RUN - 1, RUN,
					   RUN + 1, PAGE,    2 * PAGE };
	for (size_t i = 0; i < sizeof(short_by) / sizeof(short_by[0]); i++) {
		cr_assert_eq(walk(p, k + 2 * PAGE - short_by[i], &good),
			     -EPROTO, "%zu", short_by[i]);
		cr_assert_eq(good, 0);
	}
	put_run(p, 0, UINT32_MAX, KIND_DATA);
	cr_assert_eq(walk(p, k + 2 * PAGE, &good), -EPROTO);
	cr_assert_eq(good, 0);
	/* A partial run header after a good run. */
	k = put_run(p, 0x4000, 1, KIND_DATA) + PAGE;
	for (size_t extra = 1; extra < RUN; extra++) {
		cr_assert_eq(walk(p, k + extra, &good), -EPROTO);
		cr_assert_eq(good, 1);
	}
	/* A bad run after a good one: the good one is still returned. */
	k += put_run(p + k, 0x6000, 1, 9);
	cr_assert_eq(walk(p, k, &good), -EPROTO);
	cr_assert_eq(good, 1);
	put_run(p + k - RUN, 0x6000, 1, KIND_ZERO);
	cr_assert_eq(walk(p, k, &good), 0);
	cr_assert_eq(good, 2);
}

/* Through the whole reader: a RAM section with a bad run passes the
 * section checks (its CRC is right) and fails in the cursor. */
Test(stream, ram_bad_run_in_a_valid_section)
{
	uint8_t b[256], run[RUN];
	struct stream_reader r;
	struct stream_section s;
	struct stream_ram_cursor c;
	struct stream_ram_run rr;
	size_t k = put_hdr(b, 1, 0);
	int fd;

	put_run(run, 0x1234, 1, KIND_ZERO);
	k += put_shdr(b + k, STREAM_SEC_RAM, 0, 0, 0, RUN);
	k += put_payload(b + k, run, RUN);
	fd = mem_fd(b, k);
	cr_assert_eq(stream_reader_init(&r, fd), 0);
	cr_assert_eq(stream_get_header(&r), 0);
	cr_assert_eq(stream_get_section(&r, &s), 0);
	stream_ram_begin(&c, &s);
	cr_assert_eq(stream_ram_next(&c, &rr), -EPROTO);
	stream_reader_free(&r);
	close(fd);
}

/* A socket left open after END: the reader reaches END without waiting
 * for more, and what follows END is still in the socket. */
Test(stream, no_read_past_end, .timeout = 30)
{
	struct stream_writer w;
	struct stream_reader r;
	unsigned sections;
	char tail[8];
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(stream_writer_init(&w, sv[0]), 0);
	cr_assert_eq(stream_put_header(&w), 0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_VCPU, 0, 1, "x", 1), 0);
	cr_assert_eq(stream_put_end(&w), 0);
	cr_assert_eq(stream_flush(&w), 0);
	cr_assert_eq(write(sv[0], "tail", 4), 4);
	cr_assert_eq(read_all(&r, sv[1], &sections), 0, "%s", r.why);
	cr_assert_eq(sections, 2);
	cr_assert_eq(r.bytes, w.bytes);
	cr_assert_eq(recv(sv[1], tail, sizeof(tail), MSG_DONTWAIT), 4);
	cr_assert_eq(memcmp(tail, "tail", 4), 0);
	stream_writer_free(&w);
	stream_reader_free(&r);
	close(sv[0]);
	close(sv[1]);
}

/* Both ends non-blocking: the writer and the reader wait for the pipe
 * (EAGAIN, poll) instead of failing. */
Test(stream, non_blocking_pipe, .timeout = 30)
{
	struct job j = { .npages = 700 };
	struct stream_reader r;
	struct stream_section s;
	unsigned pages[4], runs[4];
	uint8_t *back;
	pthread_t t;
	int p[2];

	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	j.fd = p[1];
	j.config = calloc(1, 65536);
	j.ram = malloc(j.npages * PAGE);
	back = malloc(j.npages * PAGE);
	for (uint64_t i = 0; i < j.npages; i++)
		fill_page(j.ram + i * PAGE, i, i % 3 == 1);
	cr_assert_eq(pthread_create(&t, NULL, write_job, &j), 0);
	cr_assert_eq(stream_reader_init(&r, p[0]), 0);
	cr_assert_eq(stream_get_header(&r), 0, "%s", r.why);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
	cr_assert_eq(s.id, STREAM_SEC_DEVICE);
	cr_assert_eq(read_ram(&r, 1ull << 32, back, j.npages, pages, runs, 4),
		     3);
	cr_assert_eq(pages[2], 700 - 512);
	cr_assert_eq(memcmp(back, j.ram, j.npages * PAGE), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(j.result, 0);
	cr_assert_eq(r.bytes, j.bytes);
	stream_reader_free(&r);
	close(p[0]);
	free(j.config);
	free(j.ram);
	free(back);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM without SA_RESTART every millisecond, taken by the reader (this
 * thread) or the writer (the other one) only, the other side blocking
 * it: reads and writes return EINTR or short counts (a slow reader
 * keeps the writer blocked on a full pipe), and the stream still goes
 * through. */
static void interrupted(bool reader_side)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct job j = { .npages = 1024 };
	struct stream_reader r;
	unsigned pages[8], runs[8];
	sigset_t set, old;
	uint8_t *back;
	pthread_t t;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	j.fd = p[1];
	j.config = calloc(1, 65536);
	j.ram = malloc(j.npages * PAGE);
	back = malloc(j.npages * PAGE);
	for (uint64_t i = 0; i < j.npages; i++)
		fill_page(j.ram + i * PAGE, i, i % 4 == 3);
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (reader_side) {
		cr_assert_eq(pthread_create(&t, NULL, write_job, &j), 0);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	} else {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		cr_assert_eq(pthread_create(&t, NULL, write_job, &j), 0);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	cr_assert_eq(stream_reader_init(&r, p[0]), 0);
	cr_assert_eq(stream_get_header(&r), 0, "%s", r.why);
	for (int i = 0; i < 4; i++) {
		struct stream_section s;

		if (!reader_side)
			usleep(5000);
		cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
	}
	cr_assert_eq(read_ram(&r, 1ull << 32, back, j.npages, pages, runs, 8),
		     4);
	cr_assert_eq(pthread_join(t, NULL), 0);
	it = (struct itimerval){ 0 };
	setitimer(ITIMER_REAL, &it, NULL);
	cr_assert_gt(alarms, 0);
	cr_assert_eq(j.result, 0);
	cr_assert_eq(memcmp(back, j.ram, j.npages * PAGE), 0);
	cr_assert_eq(r.bytes, j.bytes);
	stream_reader_free(&r);
	close(p[0]);
	free(j.config);
	free(j.ram);
	free(back);
}

Test(stream, reads_interrupted_by_signals, .timeout = 30)
{
	interrupted(true);
}

Test(stream, writes_interrupted_by_signals, .timeout = 30)
{
	interrupted(false);
}

/* The reader gone: the first write fails with EPIPE (SIGPIPE ignored)
 * and every later call returns it. */
Test(stream, writer_error_sticks)
{
	uint8_t *mem = malloc(300 * PAGE);
	struct stream_writer w;
	int p[2];

	memset(mem, 0x33, 300 * PAGE);
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	cr_assert_eq(stream_writer_init(&w, p[1]), 0);
	cr_assert_eq(stream_put_header(&w), 0); /* buffered */
	cr_assert_eq(w.error, 0);
	cr_assert_eq(stream_flush(&w), -EPIPE);
	cr_assert_eq(w.error, -EPIPE);
	cr_assert_eq(stream_put_header(&w), -EPIPE);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_VCPU, 0, 0, "a", 1),
		     -EPIPE);
	cr_assert_eq(stream_put_ram(&w, 0, mem, 1, NULL), -EPIPE);
	cr_assert_eq(stream_put_end(&w), -EPIPE);
	cr_assert_eq(stream_flush(&w), -EPIPE);
	/* Even an argument error does not replace the first error. */
	cr_assert_eq(stream_put_section(&w, 99, 0, 0, NULL, 0), -EPIPE);
	cr_assert_eq(w.error, -EPIPE);
	stream_writer_free(&w);

	/* A put larger than the buffer fails by itself, mid-section. */
	cr_assert_eq(stream_writer_init(&w, p[1]), 0);
	cr_assert_eq(stream_put_ram(&w, 0, mem, 300, NULL), -EPIPE);
	cr_assert_eq(w.error, -EPIPE);
	cr_assert_eq(stream_flush(&w), -EPIPE);
	stream_writer_free(&w);
	close(p[1]);

	/* A closed fd. */
	cr_assert_eq(stream_writer_init(&w, p[1]), 0);
	cr_assert_eq(stream_put_end(&w), 0);
	cr_assert_eq(stream_flush(&w), -EBADF);
	cr_assert_eq(stream_put_end(&w), -EBADF);
	stream_writer_free(&w);
	free(mem);
}

/* What the reader would refuse is refused by the writer: -EINVAL,
 * nothing written, and it sticks. */
Test(stream, writer_refuses_bad_arguments)
{
	static const uint8_t page[PAGE];
	static uint8_t big[65537];
	struct stream_writer w;
	uint64_t zeros = 5;
	int fd;

#define REFUSED(call)                                                          \
	do {                                                                   \
		fd = writer_on_memfd(&w);                                      \
		cr_assert_eq(call, -EINVAL, #call);                            \
		cr_assert_eq(w.bytes, 0, #call);                               \
		cr_assert_eq(stream_put_header(&w), -EINVAL, #call);           \
		cr_assert_eq(stream_flush(&w), -EINVAL, #call);                \
		cr_assert_eq(lseek(fd, 0, SEEK_END), 0, #call);                \
		stream_writer_free(&w);                                        \
		close(fd);                                                     \
	} while (0)
	REFUSED(stream_put_section(&w, 0, 0, 0, NULL, 0));
	REFUSED(stream_put_section(&w, 8, 0, 0, NULL, 0));
	REFUSED(stream_put_section(&w, STREAM_SEC_CONFIG, 0, 0, big, 65537));
	REFUSED(stream_put_section(&w, STREAM_SEC_END, 0, 0, big, 1));
	REFUSED(stream_put_section(&w, STREAM_SEC_VCPU, 0, 0, NULL, 1));
	REFUSED(stream_put_ram(&w, 0x800, page, 1, &zeros));
	REFUSED(stream_put_ram(&w, UINT64_MAX - 0xfff, page, 1, &zeros));
	REFUSED(stream_put_ram(&w, 0, NULL, 1, &zeros));
	REFUSED(stream_put_ram(&w, 0, page, 1ull << 53, &zeros));
#undef REFUSED
	cr_assert_eq(zeros, 5);

	/* The largest of each is accepted. */
	fd = writer_on_memfd(&w);
	cr_assert_eq(
		stream_put_section(&w, STREAM_SEC_CONFIG, 0, 0, big, 65536), 0);
	cr_assert_eq(stream_put_ram(&w, UINT64_MAX - 0x1fff, page, 1, &zeros),
		     0);
	cr_assert_eq(zeros, 6);
	cr_assert_eq(stream_put_ram(&w, 0, NULL, 0, &zeros), 0);
	cr_assert_eq(w.bytes, (SHDR + 65536 + 4) + (SHDR + RUN + 4));
	writer_done(&w, fd);
	close(fd);
}

/* A read error other than the end of the file: its errno, named. */
Test(stream, read_error_named)
{
	struct stream_reader r;
	struct stream_section s;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(stream_reader_init(&r, p[1]), 0); /* the write end */
	cr_assert_eq(stream_get_header(&r), -EBADF);
	cr_assert_str_eq(r.why, "read error at byte 0: Bad file descriptor");
	cr_assert_eq(stream_get_section(&r, &s), -EBADF);
	stream_reader_free(&r);
	close(p[0]);
	close(p[1]);
}
