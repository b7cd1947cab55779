/* virtio-9p saved and restored (devices/virtio/9p_state.h): the session
 * cut into chunk sections and put back together (a session of several
 * chunks, an empty one) and the chunks' hostile cases (bad magic, another
 * tag, chunks out of order, counts and totals that do not agree, a total
 * too large, a chunk of the wrong size, the last chunk missing before
 * the virtio section); then two devices on virtio-mmio over one
 * directory: fids walked and opened on the first, which is quiesced and
 * saved, restored into the second, where the same fids read and write
 * the same files; a record lock held refuses the save. No KVM: the
 * test's thread plays the guest (T-messages straight to the session). */
#include <fcntl.h>
#include <linux/virtio_mmio.h>
#include <sys/mman.h>

#include "devices/virtio/9p.h"
#include "devices/virtio/9p_state.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/virtio_state.h"
#include "fs9p/session_state.h"
#include "fs9p_client.h"
#include "lib/stream.h"
#include "stderr_capture.h"
#include "tests/unit/guest_ram.h"

#define WHY 256
#define MAX_SECS 8

/* The sections of one stream, payloads copied. */
struct saved {
	unsigned n;
	struct stream_section s[MAX_SECS];
	uint8_t *payload[MAX_SECS];
};

static void saved_free(struct saved *st)
{
	for (unsigned i = 0; i < st->n; i++)
		free(st->payload[i]);
	st->n = 0;
}

typedef int (*save_fn)(void *ctx, struct stream_writer *w);

static void save_sections(save_fn fn, void *ctx, struct saved *out, int want)
{
	int fd = memfd_create("state", 0);
	struct stream_writer w;
	struct stream_reader r;
	struct stream_section s;

	cr_assert(fd >= 0);
	cr_assert_eq(stream_writer_init(&w, fd), 0);
	cr_assert_eq(stream_put_header(&w), 0);
	cr_assert_eq(fn(ctx, &w), want);
	memset(out, 0, sizeof(*out));
	if (want) {
		stream_writer_free(&w);
		close(fd);
		return;
	}
	cr_assert_eq(stream_put_end(&w), 0);
	cr_assert_eq(stream_flush(&w), 0);
	stream_writer_free(&w);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(stream_reader_init(&r, fd), 0);
	cr_assert_eq(stream_get_header(&r), 0);
	for (;;) {
		cr_assert_eq(stream_get_section(&r, &s), 0, "%s", r.why);
		if (s.id == STREAM_SEC_END)
			break;
		cr_assert_lt(out->n, MAX_SECS);
		cr_assert_eq(s.id, STREAM_SEC_DEVICE);
		out->payload[out->n] = malloc(s.len);
		cr_assert(out->payload[out->n]);
		memcpy(out->payload[out->n], s.payload, s.len);
		out->s[out->n] = s;
		out->s[out->n].payload = out->payload[out->n];
		out->n++;
	}
	stream_reader_free(&r);
	close(fd);
}

/* ---- the chunks ---- */

struct put_args {
	const char *tag;
	const uint8_t *buf;
	size_t len;
};

static int put_chunks(void *ctx, struct stream_writer *w)
{
	const struct put_args *a = ctx;

	return v9p_state_put(w, 3, a->tag, a->buf, a->len);
}

/* Feeds every section; the results in order. */
static void collect_all(struct v9p_incoming *in, const char *tag,
			const struct saved *st, int *res)
{
	char why[WHY];

	for (unsigned i = 0; i < st->n; i++)
		res[i] =
			v9p_state_collect(in, tag, &st->s[i], why, sizeof(why));
}

Test(v9p_chunks, several_chunks_round_trip)
{
	size_t len = 2 * V9P_CHUNK_DATA + 12345;
	uint8_t *buf = malloc(len);
	struct put_args a = { "share", buf, len };
	struct v9p_incoming in = { 0 };
	struct saved st;
	int res[MAX_SECS];

	cr_assert(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 13));
	save_sections(put_chunks, &a, &st, 0);
	cr_assert_eq(st.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(st.s[i].instance, 3);
		cr_assert_eq(st.s[i].version, V9P_STATE_VERSION);
		cr_assert(!virtio_state_is(&st.s[i]));
		cr_assert_leq(st.s[i].len,
			      stream_section_max(STREAM_SEC_DEVICE));
	}
	cr_assert_eq(st.s[0].len, V9P_SECTION_MAX);
	cr_assert_eq(st.s[2].len, sizeof(struct v9p_chunk_header) + 12345);
	collect_all(&in, "share", &st, res);
	cr_assert_eq(res[0], 0);
	cr_assert_eq(res[1], 0);
	cr_assert_eq(res[2], 1);
	cr_assert_eq(in.len, len);
	cr_assert_eq(memcmp(in.buf, buf, len), 0);
	cr_assert(in.done);
	v9p_incoming_free(&in);
	saved_free(&st);
	free(buf);
}

Test(v9p_chunks, empty_session_is_one_chunk)
{
	struct put_args a = { "t", NULL, 0 };
	struct v9p_incoming in = { 0 };
	struct saved st;
	int res[MAX_SECS];

	save_sections(put_chunks, &a, &st, 0);
	cr_assert_eq(st.n, 1);
	cr_assert_eq(st.s[0].len, sizeof(struct v9p_chunk_header));
	collect_all(&in, "t", &st, res);
	cr_assert_eq(res[0], 1);
	cr_assert_eq(in.len, 0);
	cr_assert(in.done);
	v9p_incoming_free(&in);
	saved_free(&st);
}

Test(v9p_chunks, too_large_refused_at_save)
{
	struct put_args a = { "t", (const uint8_t *)"", V9P_STATE_MAX + 1 };
	struct saved st;

	save_sections(put_chunks, &a, &st, -EFBIG);
}

/* A chunk built by hand: header fields as given, n data bytes. */
static struct stream_section chunk(uint8_t *mem, uint32_t index, uint32_t count,
				   uint64_t total, const char *tag, size_t n)
{
	struct v9p_chunk_header h = { .magic = V9P_STATE_MAGIC,
				      .index = index,
				      .count = count,
				      .tag_len = (uint16_t)strlen(tag),
				      .total = total };

	memcpy(h.tag, tag, strlen(tag));
	memcpy(mem, &h, sizeof(h));
	memset(mem + sizeof(h), 0x5a, n);
	return (struct stream_section){ .id = STREAM_SEC_DEVICE,
					.version = V9P_STATE_VERSION,
					.len = sizeof(h) + n,
					.payload = mem };
}

static uint8_t *mem1;
static struct v9p_incoming in1;

static void chunks_setup(void)
{
	mem1 = malloc(V9P_SECTION_MAX + 4096);
	cr_assert(mem1);
	memset(&in1, 0, sizeof(in1));
}

static void chunks_teardown(void)
{
	v9p_incoming_free(&in1);
	free(mem1);
}

TestSuite(v9p_hostile, .init = chunks_setup, .fini = chunks_teardown);

/* s is refused with a reason holding `expect`; the collection is reset. */
static void refused(const struct stream_section *s, const char *expect)
{
	char why[WHY] = "";

	cr_assert_eq(v9p_state_collect(&in1, "share", s, why, sizeof(why)),
		     -EPROTO, "accepted, expected '%s'", expect);
	cr_assert(strstr(why, expect), "why '%s', expected '%s'", why, expect);
	cr_assert_null(in1.buf);
	cr_assert_eq(in1.next, 0);
}

static void accepted(const struct stream_section *s, int want)
{
	char why[WHY] = "";

	cr_assert_eq(v9p_state_collect(&in1, "share", s, why, sizeof(why)),
		     want, "%s", why);
}

#define FULL V9P_CHUNK_DATA

Test(v9p_hostile, bad_magic)
{
	struct stream_section s = chunk(mem1, 0, 1, 10, "share", 10);

	mem1[0] ^= 1;
	refused(&s, "not a 9p session chunk");
}

Test(v9p_hostile, wrong_tag)
{
	struct stream_section s = chunk(mem1, 0, 1, 10, "other", 10);

	refused(&s, "another share (tag 'other')");
	s = chunk(mem1, 0, 1, 10, "shar", 10);
	refused(&s, "another share");
	s = chunk(mem1, 0, 1, 10, "share", 10);
	mem1[offsetof(struct v9p_chunk_header, tag) + 6] = 'x';
	refused(&s, "another share");
	s = chunk(mem1, 0, 1, 10, "share", 10);
	((struct v9p_chunk_header *)mem1)->tag_len = 300;
	refused(&s, "another share");
	s = chunk(mem1, 0, 1, 10, "share", 10);
	((struct v9p_chunk_header *)mem1)->reserved = 1;
	refused(&s, "another share");
}

Test(v9p_hostile, index_out_of_order)
{
	struct stream_section s = chunk(mem1, 1, 2, FULL + 5, "share", 5);

	refused(&s, "chunk 1 where 0 was expected");
	s = chunk(mem1, 0, 3, 2 * FULL + 5, "share", FULL);
	accepted(&s, 0);
	s = chunk(mem1, 2, 3, 2 * FULL + 5, "share", 5);
	refused(&s, "chunk 2 where 1 was expected");
	s = chunk(mem1, 0, 3, 2 * FULL + 5, "share", FULL);
	accepted(&s, 0);
	refused(&s, "chunk 0 where 1 was expected");
}

Test(v9p_hostile, count_mismatch)
{
	struct stream_section s = chunk(mem1, 0, 2, 10, "share", 10);

	refused(&s, "2 chunks for 10 bytes (1 expected)");
	s = chunk(mem1, 0, 1, FULL + 1, "share", FULL);
	refused(&s, "1 chunks for");
	s = chunk(mem1, 0, 0, 0, "share", 0);
	refused(&s, "0 chunks for 0 bytes");
	/* Chunks that disagree with those before them. */
	s = chunk(mem1, 0, 3, 2 * FULL + 5, "share", FULL);
	accepted(&s, 0);
	s = chunk(mem1, 1, 2, FULL + 5, "share", 5);
	refused(&s, "chunk 1 of 2");
	s = chunk(mem1, 0, 3, 2 * FULL + 5, "share", FULL);
	accepted(&s, 0);
	s = chunk(mem1, 1, 3, 2 * FULL + 6, "share", FULL);
	refused(&s, "after chunks of 3");
}

Test(v9p_hostile, total_too_large)
{
	uint64_t big = V9P_STATE_MAX + 1;
	struct stream_section s =
		chunk(mem1, 0, (uint32_t)(big / FULL + 1), big, "share", FULL);

	refused(&s, "a session of 268435457 bytes");
	s = chunk(mem1, 0, 1, ~0ull, "share", FULL);
	refused(&s, "a session of");
}

Test(v9p_hostile, chunk_of_the_wrong_size)
{
	struct stream_section s = chunk(mem1, 0, 2, FULL + 5, "share", 100);

	refused(&s, "chunk 0 of 2 holds 100 bytes");
	s = chunk(mem1, 0, 1, 10, "share", 11);
	refused(&s, "chunk 0 of 1 holds 11 bytes, 10 expected");
	s = chunk(mem1, 0, 1, 10, "share", 10);
	s.len = 20;
	refused(&s, "a section of 20 bytes");
	s = chunk(mem1, 0, 1, 10, "share", 10);
	s.version = 2;
	refused(&s, "version 2");
}

Test(v9p_hostile, given_twice)
{
	struct stream_section s = chunk(mem1, 0, 1, 10, "share", 10);

	accepted(&s, 1);
	refused(&s, "the session given twice");
}

/* ---- two devices on virtio-mmio ---- */

#define RAM (16ULL << 20)
#define QSIZE 64
#define RING 0x400000ULL

static struct guest_mem mem;
static struct v9p pa, pb;
static struct virtio_mmio ma, mb;
static char dir[] = "/tmp/vmm-test-9p-state-XXXXXX";

static void irq(void *o)
{
	(void)o;
}
static void notify(void *o, unsigned q)
{
	v9p_kick(o, q);
}

static void dev_setup(void)
{
	struct mem_config mc = { .size = RAM, .backend = MEM_BACKEND_ANON };
	struct v9p_config cfg = { .tag = "share" };

	strcpy(dir, "/tmp/vmm-test-9p-state-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cfg.path = dir;
	cr_assert_eq(test_mem_create(&mem, &mc), 0);
	cr_assert_eq(v9p_init(&pa, &cfg, 0, &mem), 0);
	cr_assert_eq(v9p_init(&pb, &cfg, 1, &mem), 0);
	virtio_mmio_init(&ma, &pa.vdev, irq, notify, &pa);
	virtio_mmio_init(&mb, &pb.vdev, irq, notify, &pb);
}

static void mwr(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(m, off, (const uint8_t *)&v, 4);
}

static uint32_t mrd(struct virtio_mmio *m, uint64_t off)
{
	uint32_t v;
	virtio_mmio_ops.read(m, off, (uint8_t *)&v, 4);
	return v;
}

static void dev_teardown(void)
{
	char cmd[80];

	mwr(&ma, VIRTIO_MMIO_STATUS, 0);
	mwr(&mb, VIRTIO_MMIO_STATUS, 0);
	v9p_destroy(&pa);
	v9p_destroy(&pb);
	mem_destroy(&mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(v9p_state, .init = dev_setup, .fini = dev_teardown, .timeout = 30);

/* The driver starts device a (its queue empty). */
static void bring_up(void)
{
	memset(mem_ptr(&mem, RING, 0x3000), 0, 0x3000);
	mwr(&ma, VIRTIO_MMIO_STATUS, 0);
	mwr(&ma, VIRTIO_MMIO_STATUS, 3);
	mwr(&ma, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mwr(&ma, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* MOUNT_TAG */
	mwr(&ma, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mwr(&ma, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	mwr(&ma, VIRTIO_MMIO_STATUS, 0x0b);
	mwr(&ma, VIRTIO_MMIO_QUEUE_SEL, 0);
	mwr(&ma, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	mwr(&ma, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RING);
	mwr(&ma, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)RING + 0x1000);
	mwr(&ma, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)RING + 0x2000);
	mwr(&ma, VIRTIO_MMIO_QUEUE_READY, 1);
	mwr(&ma, VIRTIO_MMIO_STATUS, 0x0f);
	cr_assert_eq(mrd(&ma, VIRTIO_MMIO_STATUS), 0x0f);
}

/* A client of p's current session. */
static struct tc *client(struct v9p *p)
{
	struct tc *c = calloc(1, sizeof(*c));

	cr_assert(c);
	c->ex = p->export;
	c->s = p->session;
	c->out_len = TC_BUF;
	strcpy(c->dir, dir);
	return c;
}

static int save_a(void *ctx, struct stream_writer *w)
{
	(void)ctx;
	return v9p_save(&pa, w, 0);
}

static void host_write(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void host_read(const char *name, char *buf, size_t cap)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* The guest's session: version, root fid 0, directory d walked as fid 1,
 * d/f opened read-write as fid 2, read-only as fid 3. */
static void open_fids(struct tc *c)
{
	uint32_t msize;
	char v[32];
	const char *df[] = { "d", "f" };
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/d", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	host_write("d/f", "hello, world");
	cr_assert_eq(tc_version(c, TC_MSIZE, "9P2000.L", &msize, v), 0);
	cr_assert_eq(tc_attach(c, 0, 0, NULL), 0);
	cr_assert_eq(tc_walk1(c, 0, 1, "d", NULL), 1);
	cr_assert_eq(tc_walkv(c, 0, 2, 2, df, NULL), 2);
	cr_assert_eq(tc_lopen(c, 2, O_RDWR, NULL), 0);
	cr_assert_eq(tc_walk1(c, 1, 3, "f", NULL), 1);
	cr_assert_eq(tc_lopen(c, 3, O_RDONLY, NULL), 0);
}

static void restore_into_b(const struct saved *st)
{
	for (unsigned i = 0; i < st->n; i++)
		cr_assert_eq(v9p_restore(&pb, &st->s[i]), 0, "section %u", i);
}

/* Open fids survive: the restored device's session answers on them. */
Test(v9p_state, open_fids_carried_over)
{
	struct tc *c = client(&pa), *d;
	struct saved st;
	char buf[64];

	bring_up();
	open_fids(c);
	cr_assert_eq(tc_write(c, 2, 12, "!", 1), 1);
	cr_assert_eq(v9p_quiesce(&pa), 0);
	save_sections(save_a, NULL, &st, 0);
	cr_assert_eq(st.n, 2);
	cr_assert(!virtio_state_is(&st.s[0]));
	cr_assert(virtio_state_is(&st.s[1]));
	restore_into_b(&st);
	cr_assert(pb.vdev.active);
	cr_assert(pb.incoming.done);
	cr_assert_null(pb.incoming.buf);
	/* The session restored is the one the started device serves. */
	d = client(&pb);
	cr_assert_eq(tc_read(d, 3, 0, sizeof(buf), buf), 13);
	cr_assert_eq(memcmp(buf, "hello, world!", 13), 0);
	cr_assert_eq(tc_write(d, 2, 0, "HELLO", 5), 5);
	host_read("d/f", buf, sizeof(buf));
	cr_assert_str_eq(buf, "HELLO, world!");
	cr_assert_eq(tc_walk1(d, 1, 4, "f", NULL), 1);
	cr_assert_eq(tc_clunk(d, 4), 0);
	cr_assert_eq(tc_clunk(d, 2), 0);
	/* The source, resumed, still has its own. */
	v9p_resume(&pa);
	cr_assert_eq(tc_read(c, 3, 0, 5, buf), 5);
	saved_free(&st);
	free(c);
	free(d);
}

/* A session larger than a section: several chunks (xattr fids holding
 * 64 KiB values being written), the same bytes after the restore. */
Test(v9p_state, large_session_in_chunks)
{
	struct tc *c = client(&pa);
	static uint8_t val[65536];
	uint8_t *a_buf, *b_buf;
	size_t a_len, b_len;
	struct saved st;
	char why[WHY];

	bring_up();
	open_fids(c);
	memset(val, 'v', sizeof(val));
	for (uint32_t i = 0; i < 24; i++) {
		cr_assert_eq(tc_walk1(c, 1, 100 + i, "f", NULL), 1);
		tb_begin(c, P9_TXATTRCREATE);
		tb_u32(c, 100 + i);
		tb_str(c, "user.big");
		tb_u64(c, sizeof(val));
		tb_u32(c, 0);
		cr_assert_eq(tc_call(c), 0);
		cr_assert_eq(tc_write(c, 100 + i, 0, val, 60000), 60000);
	}
	cr_assert_eq(v9p_quiesce(&pa), 0);
	save_sections(save_a, NULL, &st, 0);
	cr_assert_eq(st.n, 3, "1.4 MiB: two chunks and the virtio section");
	restore_into_b(&st);
	cr_assert(pb.vdev.active);
	cr_assert_eq(
		fs9p_session_save(pa.session, &a_buf, &a_len, why, sizeof(why)),
		0);
	cr_assert_eq(
		fs9p_session_save(pb.session, &b_buf, &b_len, why, sizeof(why)),
		0);
	cr_assert_gt(a_len, V9P_CHUNK_DATA);
	cr_assert_eq(a_len, b_len);
	cr_assert_eq(memcmp(a_buf, b_buf, a_len), 0);
	free(a_buf);
	free(b_buf);
	v9p_resume(&pa);
	saved_free(&st);
	free(c);
}

/* The virtio section before the session's last chunk: refused. */
Test(v9p_state, virtio_section_before_the_session)
{
	struct tc *c = client(&pa);
	struct saved st;

	bring_up();
	open_fids(c);
	cr_assert_eq(v9p_quiesce(&pa), 0);
	save_sections(save_a, NULL, &st, 0);
	cr_assert_eq(st.n, 2);
	capture_begin();
	cr_assert_eq(v9p_restore(&pb, &st.s[1]), -EPROTO);
	cr_assert_str_eq(capture_end(),
			 "vmm: incoming state: 9p share: the device's state "
			 "before its session's last chunk\n");
	cr_assert(!pb.vdev.active);
	v9p_resume(&pa);
	saved_free(&st);
	free(c);
}

/* A session of the other share's tag is refused whole. */
Test(v9p_state, other_tag_refused)
{
	struct saved st;
	const char *err;

	bring_up();
	cr_assert_eq(v9p_quiesce(&pa), 0);
	save_sections(save_a, NULL, &st, 0);
	((struct v9p_chunk_header *)st.payload[0])->tag[0] = 'S';
	capture_begin();
	cr_assert_eq(v9p_restore(&pb, &st.s[0]), -EPROTO);
	err = capture_end();
	cr_assert_str_eq(err, "vmm: incoming state: 9p share: a session "
			      "chunk of another share (tag 'Share')\n");
	v9p_resume(&pa);
	saved_free(&st);
}

/* A device without a session (its creation failed at the last reset) is
 * saved as an empty one; the destination keeps its fresh session. */
Test(v9p_state, no_session_saved_empty)
{
	struct fs9p_session *keep;
	struct saved st;

	cr_assert_eq(v9p_quiesce(&pa), 0);
	keep = pa.session;
	pa.session = NULL;
	save_sections(save_a, NULL, &st, 0);
	pa.session = keep;
	cr_assert_eq(st.n, 2);
	cr_assert_eq(st.s[0].len, sizeof(struct v9p_chunk_header));
	restore_into_b(&st);
	cr_assert_not_null(pb.session);
	cr_assert(!pb.vdev.active);
	v9p_resume(&pa);
	saved_free(&st);
}

/* A record lock held refuses the save (the source goes on); unlocked
 * whole, the save goes through. */
Test(v9p_state, record_lock_refuses_the_save)
{
	struct tc *c = client(&pa);
	struct saved st;

	bring_up();
	open_fids(c);
	cr_assert_eq(tc_lock(c, 2, P9_LOCK_TYPE_WRLCK, 0, 0, 5),
		     P9_LOCK_SUCCESS);
	cr_assert_eq(v9p_quiesce(&pa), 0);
	capture_begin();
	save_sections(save_a, NULL, &st, -EBUSY);
	cr_assert_str_eq(capture_end(),
			 "vmm: 9p share: cannot be saved: fid 2: d/f holds a "
			 "record lock (Tlock), which cannot be carried over\n");
	v9p_resume(&pa);
	/* Unlocking a part keeps the refusal; the whole file clears it. */
	cr_assert_eq(tc_lock(c, 2, P9_LOCK_TYPE_UNLCK, 0, 0, 5),
		     P9_LOCK_SUCCESS);
	cr_assert_eq(v9p_quiesce(&pa), 0);
	capture_begin();
	save_sections(save_a, NULL, &st, -EBUSY);
	capture_end();
	v9p_resume(&pa);
	cr_assert_eq(tc_lock(c, 2, P9_LOCK_TYPE_UNLCK, 0, 0, 0),
		     P9_LOCK_SUCCESS);
	cr_assert_eq(v9p_quiesce(&pa), 0);
	save_sections(save_a, NULL, &st, 0);
	restore_into_b(&st);
	v9p_resume(&pa);
	saved_free(&st);
	free(c);
}
