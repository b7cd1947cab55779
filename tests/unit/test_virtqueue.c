#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "tests/unit/guest_ram.h"

#define QSIZE 8
#define DESC 0x10000ULL
#define AVAIL 0x20000ULL
#define USED 0x30000ULL
#define BUF 0x100000ULL
#define RAM (16ULL << 20)

static struct guest_mem mem;
static struct virtqueue vq;
static struct vq_chain chain;
static uint16_t avail_idx;

static void setup(void)
{
	struct mem_config cfg = { .size = RAM, .backend = MEM_BACKEND_ANON };

	cr_assert_eq(test_mem_create(&mem, &cfg), 0);
	memset(&vq, 0, sizeof(vq));
	vq.size = QSIZE;
	vq.desc = DESC, vq.avail = AVAIL, vq.used = USED;
	vq.indirect = true;
	avail_idx = 0;
	cr_assert_eq(vq_enable(&vq, &mem, VQ_MAX_SIZE), 0);
}

static void teardown(void)
{
	mem_destroy(&mem);
}

TestSuite(virtqueue, .init = setup, .fini = teardown);

static void put_desc(gpa_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };
	cr_assert_eq(mem_write(&mem, table + 16ULL * i, &d, sizeof(d)), 0);
}

static void make_avail(uint16_t head)
{
	uint16_t slot = avail_idx % QSIZE;
	mem_write(&mem, AVAIL + 4 + 2 * slot, &head, 2);
	avail_idx++;
	mem_write(&mem, AVAIL + 2, &avail_idx, 2);
}

static uint16_t get16(gpa_t gpa)
{
	uint16_t v;
	mem_read(&mem, gpa, &v, 2);
	return v;
}

static void expect_broken(const char *what)
{
	cr_assert_eq(vq_pop(&vq, &chain), -EINVAL, "%s accepted", what);
	cr_assert(vq.broken, "%s: queue not marked broken", what);
	cr_assert_eq(vq_pop(&vq, &chain), -EINVAL, "%s: broken queue popped",
		     what);
	cr_assert_eq(vq_push(&vq, 0, 0), -EINVAL);
}

Test(virtqueue, empty_ring_pops_nothing)
{
	cr_assert_eq(vq_pop(&vq, &chain), 0);
}

Test(virtqueue, readable_then_writable_chain)
{
	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 5);
	put_desc(DESC, 5, BUF + 0x1000, 0, VRING_DESC_F_NEXT,
		 3); /* empty: skipped */
	put_desc(DESC, 3, BUF + 0x2000, 512,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(DESC, 1, BUF + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert_eq(chain.head, 0);
	cr_assert_eq(chain.n_out, 1);
	cr_assert_eq(chain.n_in, 2);
	cr_assert_eq(chain.out_bytes, 16);
	cr_assert_eq(chain.in_bytes, 513);
	cr_assert_eq(chain.iov[0].iov_base, mem_ptr(&mem, BUF, 16));
	cr_assert_eq(chain.iov[2].iov_base, mem_ptr(&mem, BUF + 0x3000, 1));
	cr_assert_eq(vq_pop(&vq, &chain), 0, "consumed");
}

Test(virtqueue, push_publishes_used_element_and_marks_dirty)
{
	put_desc(DESC, 2, BUF, 8, VRING_DESC_F_WRITE, 0);
	make_avail(2);
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert_eq(vq_push(&vq, chain.head, 8), 0);
	cr_assert_eq(get16(USED + 2), 1);
	struct vring_used_elem e;
	mem_read(&mem, USED + 4, &e, sizeof(e));
	cr_assert_eq(e.id, 2);
	cr_assert_eq(e.len, 8);
	cr_assert(mem_page_dirty(&mem, USED));
}

Test(virtqueue, chain_copy_helpers_span_iovecs)
{
	uint8_t out[12] = "hello world", got[12] = { 0 };

	mem_write(&mem, BUF, out, 6);
	mem_write(&mem, BUF + 0x1000, out + 6, 6);
	put_desc(DESC, 0, BUF, 6, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF + 0x1000, 6, VRING_DESC_F_NEXT, 2);
	put_desc(DESC, 2, BUF + 0x2000, 3,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	put_desc(DESC, 3, BUF + 0x3000, 3, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert_eq(vq_chain_read(&chain, 4, got, 5), 0);
	cr_assert_eq(memcmp(got, "o wor", 5), 0);
	cr_assert_eq(vq_chain_read(&chain, 8, got, 5), -EFAULT, "short");
	cr_assert_eq(vq_chain_write(&chain, 1, "abcde", 5), 0);
	mem_read(&mem, BUF + 0x2001, got, 2);
	cr_assert_eq(memcmp(got, "ab", 2), 0);
	mem_read(&mem, BUF + 0x3000, got, 3);
	cr_assert_eq(memcmp(got, "cde", 3), 0);
	cr_assert_eq(vq_chain_write(&chain, 2, "abcde", 5), -EFAULT);
}

Test(virtqueue, loop_is_broken)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	make_avail(0);
	expect_broken("a two-descriptor loop");
}

Test(virtqueue, chain_of_queue_size_is_fine_but_not_longer)
{
	for (uint16_t i = 0; i < QSIZE; i++)
		put_desc(DESC, i, BUF + i * 64, 64,
			 i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert_eq(chain.n_out, QSIZE);
	put_desc(DESC, QSIZE - 1, BUF, 64, VRING_DESC_F_NEXT,
		 0); /* back to the head */
	make_avail(0);
	expect_broken("a chain longer than the queue");
}

/* Each builds a bad chain at head 0 (or a bad ring) and makes it available. */
static void next_out_of_range(void)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, QSIZE);
	make_avail(0);
}
static void head_out_of_range(void)
{
	make_avail(QSIZE);
}
static void avail_jump(void)
{
	avail_idx = QSIZE + 1;
	mem_write(&mem, AVAIL + 2, &avail_idx, 2);
}
static void addr_outside_ram(void)
{
	put_desc(DESC, 0, RAM - 4, 8, 0, 0);
	make_avail(0);
}
static void addr_len_wraps(void)
{
	put_desc(DESC, 0, UINT64_MAX - 10, 100, 0, 0);
	make_avail(0);
}
static void addr_far_away(void)
{
	put_desc(DESC, 0, 5ULL << 30, 8, 0, 0);
	make_avail(0);
}
static void readable_after_writable(void)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(DESC, 1, BUF, 8, 0, 0);
	make_avail(0);
}
static void indirect_with_next(void)
{
	put_desc(DESC, 0, BUF, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
		 1);
	put_desc(DESC, 1, BUF, 8, 0, 0);
	make_avail(0);
}
static void indirect_bad_len(void)
{
	put_desc(DESC, 0, BUF, 24, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
}
static void indirect_empty(void)
{
	put_desc(DESC, 0, BUF, 0, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
}
static void indirect_huge(void)
{
	put_desc(DESC, 0, BUF, 16 * (VQ_MAX_INDIRECT + 1),
		 VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
}
static void indirect_outside_ram(void)
{
	put_desc(DESC, 0, RAM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
}
static void indirect_nested(void)
{
	put_desc(DESC, 0, BUF, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, BUF + 0x1000, 8, VRING_DESC_F_NEXT, 1);
	put_desc(BUF, 1, BUF + 0x2000, 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
}
static void indirect_loop(void)
{
	put_desc(DESC, 0, BUF, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, BUF + 0x1000, 8, VRING_DESC_F_NEXT, 1);
	put_desc(BUF, 1, BUF + 0x1000, 8, VRING_DESC_F_NEXT, 0);
	make_avail(0);
}
static void indirect_next_out_of_table(void)
{
	put_desc(DESC, 0, BUF, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, BUF + 0x1000, 8, VRING_DESC_F_NEXT, 2);
	make_avail(0);
}
static void indirect_not_at_head(void)
{
	put_desc(DESC, 0, BUF + 0x4000, 8, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, BUF + 0x1000, 8, 0, 0);
	make_avail(0);
}
static void indirect_buffer_outside_ram(void)
{
	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, RAM, 8, 0, 0);
	make_avail(0);
}
static void too_many_segments(void)
{
	uint16_t n = VQ_MAX_SEGS + 1;
	put_desc(DESC, 0, BUF, 16 * n, VRING_DESC_F_INDIRECT, 0);
	for (uint16_t i = 0; i < n; i++)
		put_desc(BUF, i, BUF + 0x10000 + i * 8, 8,
			 i + 1 < n ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(0);
}

Test(virtqueue, malformed_chains_break_the_queue)
{
	static const struct {
		const char *what;
		void (*make)(void);
	} bad[] = {
		{ "next out of range", next_out_of_range },
		{ "head out of range", head_out_of_range },
		{ "avail idx ahead by more than the size", avail_jump },
		{ "buffer past the end of RAM", addr_outside_ram },
		{ "address + length wrapping", addr_len_wraps },
		{ "buffer far outside RAM", addr_far_away },
		{ "readable after writable", readable_after_writable },
		{ "indirect with NEXT", indirect_with_next },
		{ "indirect length not a multiple of 16", indirect_bad_len },
		{ "empty indirect table", indirect_empty },
		{ "oversized indirect table", indirect_huge },
		{ "indirect table outside RAM", indirect_outside_ram },
		{ "nested indirect", indirect_nested },
		{ "loop in an indirect table", indirect_loop },
		{ "indirect next past the table", indirect_next_out_of_table },
		{ "indirect after a chained descriptor", indirect_not_at_head },
		{ "indirect buffer outside RAM", indirect_buffer_outside_ram },
		{ "more segments than VQ_MAX_SEGS", too_many_segments },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		teardown();
		setup();
		bad[i].make();
		expect_broken(bad[i].what);
	}
}

Test(virtqueue, indirect_table)
{
	put_desc(DESC, 4, BUF, 48, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, BUF + 0x1000, 100, VRING_DESC_F_NEXT, 2);
	put_desc(BUF, 2, BUF + 0x2000, 200,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(BUF, 1, BUF + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	make_avail(4);
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert_eq(chain.head, 4);
	cr_assert_eq(chain.n_out, 1);
	cr_assert_eq(chain.n_in, 2);
	cr_assert_eq(chain.in_bytes, 201);
}

Test(virtqueue, indirect_refused_unless_negotiated)
{
	vq.indirect = false;
	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(BUF, 0, BUF + 0x1000, 8, 0, 0);
	make_avail(0);
	expect_broken("indirect without the feature");
}

Test(virtqueue, enable_validates_the_rings)
{
	static const struct {
		uint16_t size;
		gpa_t desc, avail, used;
	} bad[] = {
		{ 0, DESC, AVAIL, USED },
		{ 3, DESC, AVAIL, USED },
		{ 8, DESC + 8, AVAIL, USED },
		{ 8, DESC, AVAIL + 1, USED },
		{ 8, DESC, AVAIL, USED + 2 },
		{ 8, RAM - 64, AVAIL, USED },
		{ 8, DESC, RAM - 8, USED },
		{ 8, DESC, AVAIL, RAM - 16 },
		{ 8, DESC, AVAIL, UINT64_MAX - 3 },
		{ 65535, DESC, AVAIL, USED },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct virtqueue q = { .size = bad[i].size,
				       .desc = bad[i].desc,
				       .avail = bad[i].avail,
				       .used = bad[i].used };
		cr_assert_eq(vq_enable(&q, &mem, VQ_MAX_SIZE), -EINVAL,
			     "case %zu", i);
		cr_assert(!q.ready);
		cr_assert_eq(vq_pop(&q, &chain), -EINVAL);
	}
}

static void pop_push_one(void)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert_eq(vq_push(&vq, 0, 8), 0);
}

Test(virtqueue, no_interrupt_flag_without_event_idx)
{
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

	pop_push_one();
	cr_assert(vq_should_notify(&vq));
	cr_assert(!vq_should_notify(&vq), "nothing new was used");
	mem_write(&mem, AVAIL, &flags, 2);
	pop_push_one();
	cr_assert(!vq_should_notify(&vq));
}

Test(virtqueue, used_event_decides_with_event_idx)
{
	uint16_t event = 2;

	vq.event_idx = true;
	mem_write(&mem, AVAIL + 4 + 2 * QSIZE, &event, 2);
	pop_push_one(); /* used_idx 1 */
	cr_assert(vq_should_notify(&vq), "first notification is always sent");
	pop_push_one(); /* used_idx 2: event 2 not crossed yet */
	cr_assert(!vq_should_notify(&vq));
	pop_push_one(); /* used_idx 3: crossed used_event 2 */
	cr_assert(vq_should_notify(&vq));
	pop_push_one();
	cr_assert(!vq_should_notify(&vq), "event already passed");
}

Test(virtqueue, notification_suppression)
{
	cr_assert(!vq_set_notification(&vq, false));
	cr_assert_eq(get16(USED), VRING_USED_F_NO_NOTIFY);
	make_avail(0);
	put_desc(DESC, 0, BUF, 8, 0, 0);
	cr_assert(vq_set_notification(&vq, true), "a buffer arrived meanwhile");
	cr_assert_eq(get16(USED), 0);
	vq.event_idx = true;
	cr_assert_eq(vq_pop(&vq, &chain), 1);
	cr_assert(!vq_set_notification(&vq, true));
	cr_assert_eq(get16(USED + 4 + 8 * QSIZE), 1, "avail_event = next slot");
}
