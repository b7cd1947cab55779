/* Dirty-page tracking (memory/dirty.h) without KVM: the merge of KVM's
 * log with the VMM's bitmap, the dirty-ring harvest over a ring in plain
 * memory, the KVM_CLEAR_DIRTY_LOG chunks, and the paths that need no
 * working VM fd (mode resolution, misuse). Single-threaded except the
 * concurrent device-writer test, whose writer thread shares only guest
 * RAM and its bitmap (atomics) with the fetching test thread. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "memory/dirty.h"
#include "memory/memory.h"
#include "tests/unit/guest_ram.h"

#define WORDS(pages) (((pages) + 63) / 64)

static bool bit(const uint64_t *b, uint64_t p)
{
	return b[p / 64] >> (p % 64) & 1;
}

static void set(uint64_t *b, uint64_t p)
{
	b[p / 64] |= 1ULL << (p % 64);
}

static uint64_t count(const uint64_t *b, uint64_t pages)
{
	uint64_t n = 0;

	for (uint64_t p = 0; p < pages; p++)
		n += bit(b, p);
	return n;
}

/* Merging */

Test(dirty_merge, kvm_log_or_device_writes)
{
	uint64_t kvm[WORDS(200)] = { 0 }, vmm[WORDS(200)] = { 0 },
		 out[WORDS(200)];

	set(kvm, 3);
	set(kvm, 70);
	set(vmm, 70);
	set(vmm, 130);
	set(vmm, 199);
	memset(out, 0xa5, sizeof(out));
	cr_assert_eq(mem_dirty_merge(out, kvm, vmm, 200), 4);
	cr_assert(bit(out, 3) && bit(out, 70) && bit(out, 130) &&
		  bit(out, 199));
	cr_assert_eq(count(out, 200), 4, "the old contents are overwritten");
	for (unsigned w = 0; w < WORDS(200); w++)
		cr_assert(!kvm[w] && !vmm[w], "both taken: word %u", w);
	cr_assert_eq(mem_dirty_merge(out, kvm, vmm, 200), 0);
	cr_assert_eq(count(out, 200), 0);
}

Test(dirty_merge, bits_past_the_region_are_dropped)
{
	uint64_t vmm[WORDS(200)] = { 0 }, out[WORDS(200)];

	vmm[3] = ~0ULL; /* pages 192..255; the region ends at 200 */
	cr_assert_eq(mem_dirty_merge(out, NULL, vmm, 200), 8);
	cr_assert_eq(out[3], 0xffULL);
	cr_assert_eq(vmm[3], 0);
}

Test(dirty_merge, no_kvm_log)
{
	uint64_t vmm[1] = { 1ULL << 5 }, out[1];

	cr_assert_eq(mem_dirty_merge(out, NULL, vmm, 64), 1);
	cr_assert_eq(out[0], 1ULL << 5);
}

/* The VMM's own bitmap through the memory API: a device write between two
 * fetches is in exactly the next one, and mem_page_dirty means "since the
 * last fetch". */
Test(dirty_merge, device_write_in_exactly_the_next_fetch)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 4 << 20,
				  .backend = MEM_BACKEND_ANON };
	uint64_t pages, *out;
	uint8_t b[0x20] = { 1 };

	cr_assert_eq(test_mem_create(&m, &cfg), 0);
	pages = m.regions[0].size / MEM_PAGE_SIZE;
	out = calloc(WORDS(pages), 8);
	cr_assert_eq(mem_write(&m, 0x5000, b, 1), 0);
	cr_assert_eq(mem_dirty_merge(out, NULL, m.regions[0].dirty, pages), 1);
	cr_assert(bit(out, 5));
	cr_assert(!mem_page_dirty(&m, 0x5000), "taken by the fetch");
	cr_assert_eq(mem_dirty_merge(out, NULL, m.regions[0].dirty, pages), 0,
		     "not again");
	cr_assert_eq(mem_write(&m, 0x5ff0, b, sizeof(b)), 0); /* pages 5, 6 */
	cr_assert_not_null(mem_ptr(&m, 0x9000, 1));
	cr_assert_eq(mem_mark_dirty_host(&m, mem_ptr(&m, 0x9000, 1), 1), 0);
	cr_assert_eq(mem_dirty_merge(out, NULL, m.regions[0].dirty, pages), 3);
	cr_assert(bit(out, 5) && bit(out, 6) && bit(out, 9));
	cr_assert_eq(mem_dirty_merge(out, NULL, m.regions[0].dirty, pages), 0);
	free(out);
	mem_destroy(&m);
}

/* A device thread writes every page once (a stamp, then the mark) while
 * this thread fetches: each page is in exactly one fetch, and a fetch
 * that has it sees its stamp. */
#define RACE_PAGES 2048ULL

struct race {
	struct guest_mem *mem;
	bool finished; /* atomic */
};

static void *race_writer(void *arg)
{
	struct race *r = arg;

	for (uint64_t p = 0; p < RACE_PAGES; p++) {
		uint64_t stamp = p + 1;
		mem_write(r->mem, p * MEM_PAGE_SIZE + 8, &stamp, 8);
	}
	__atomic_store_n(&r->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

Test(dirty_merge, concurrent_device_writes_are_never_lost)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = RACE_PAGES * MEM_PAGE_SIZE,
				  .backend = MEM_BACKEND_ANON };
	struct race r = { &m, false };
	uint64_t out[WORDS(RACE_PAGES)], seen[RACE_PAGES] = { 0 }, fetches = 0;
	pthread_t t;
	bool done = false;

	cr_assert_eq(test_mem_create(&m, &cfg), 0);
	cr_assert_eq(m.nr_regions, 1);
	cr_assert_eq(pthread_create(&t, NULL, race_writer, &r), 0);
	while (!done) {
		/* One more fetch after the writer's last mark. */
		done = __atomic_load_n(&r.finished, __ATOMIC_ACQUIRE);
		mem_dirty_merge(out, NULL, m.regions[0].dirty, RACE_PAGES);
		fetches++;
		for (uint64_t p = 0; p < RACE_PAGES; p++) {
			uint64_t stamp;
			if (!bit(out, p))
				continue;
			seen[p]++;
			cr_assert_eq(
				mem_read(&m, p * MEM_PAGE_SIZE + 8, &stamp, 8),
				0);
			cr_assert_eq(stamp, p + 1,
				     "page %llu fetched before "
				     "its bytes",
				     (unsigned long long)p);
		}
	}
	pthread_join(t, NULL);
	cr_log_info("%llu fetches", (unsigned long long)fetches);
	for (uint64_t p = 0; p < RACE_PAGES; p++)
		cr_assert_eq(seen[p], 1, "page %llu in %llu fetches",
			     (unsigned long long)p,
			     (unsigned long long)seen[p]);
	mem_destroy(&m);
}

/* Ring harvest */

#define RING 16

static void dirty_entry(struct kvm_dirty_gfn *g, uint32_t slot, uint64_t off)
{
	g->slot = slot;
	g->offset = off;
	g->flags = KVM_DIRTY_GFN_F_DIRTY;
}

struct two_slots {
	uint64_t b0[WORDS(100)], b1[WORDS(300)];
	struct mem_dirty_slot s[2];
};

static void two_slots(struct two_slots *t)
{
	memset(t, 0, sizeof(*t));
	t->s[0] = (struct mem_dirty_slot){ 100, t->b0 };
	t->s[1] = (struct mem_dirty_slot){ 300, t->b1 };
}

Test(dirty_ring, harvests_dirty_entries_in_order)
{
	struct kvm_dirty_gfn ring[RING] = { 0 };
	struct two_slots t;
	uint32_t next = 0;
	uint64_t bad = 0;

	two_slots(&t);
	dirty_entry(&ring[0], 0, 7);
	dirty_entry(&ring[1], 1, 299);
	dirty_entry(&ring[2], 0, 99);
	dirty_entry(&ring[3], 1, 0);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 4);
	cr_assert_eq(next, 4);
	cr_assert_eq(bad, 0);
	cr_assert(bit(t.b0, 7) && bit(t.b0, 99));
	cr_assert(bit(t.b1, 299) && bit(t.b1, 0));
	cr_assert_eq(count(t.b0, 100) + count(t.b1, 300), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(ring[i].flags, KVM_DIRTY_GFN_F_RESET,
			     "entry %d handed back for reset", i);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 0,
		     "nothing new");
	cr_assert_eq(next, 4);
}

Test(dirty_ring, an_entry_not_dirty_stops_the_harvest)
{
	struct kvm_dirty_gfn ring[RING] = { 0 };
	struct two_slots t;
	uint32_t next = 0;
	uint64_t bad = 0;

	two_slots(&t);
	dirty_entry(&ring[0], 0, 1);
	dirty_entry(&ring[1], 0, 2);
	/* ring[2]: not yet published (flags 0), though KVM may be filling
	 * it; ring[3] must wait for it. */
	ring[2].slot = 0;
	ring[2].offset = 3;
	dirty_entry(&ring[3], 0, 4);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 2);
	cr_assert_eq(next, 2);
	cr_assert(!bit(t.b0, 3) && !bit(t.b0, 4));
	cr_assert_eq(ring[3].flags, KVM_DIRTY_GFN_F_DIRTY, "left alone");
	/* An entry harvested before and not yet reset by KVM stops it too. */
	ring[2].flags = KVM_DIRTY_GFN_F_RESET;
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 0);
	ring[2].flags = KVM_DIRTY_GFN_F_DIRTY;
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 2);
	cr_assert_eq(next, 4);
	cr_assert(bit(t.b0, 3) && bit(t.b0, 4));
}

Test(dirty_ring, harvest_across_the_wrap)
{
	struct kvm_dirty_gfn ring[RING] = { 0 };
	struct two_slots t;
	uint32_t next = RING - 2 + 5 * RING; /* free-running: index 14 */
	uint64_t bad = 0;

	two_slots(&t);
	dirty_entry(&ring[14], 0, 14);
	dirty_entry(&ring[15], 0, 15);
	dirty_entry(&ring[0], 0, 16);
	dirty_entry(&ring[1], 1, 17);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 4);
	cr_assert_eq(next, 6 * RING + 2);
	cr_assert(bit(t.b0, 14) && bit(t.b0, 15) && bit(t.b0, 16));
	cr_assert(bit(t.b1, 17));
	cr_assert_eq(ring[0].flags, KVM_DIRTY_GFN_F_RESET);
	cr_assert_eq(ring[2].flags, 0);
}

Test(dirty_ring, the_index_wraps_at_32_bits)
{
	struct kvm_dirty_gfn ring[RING] = { 0 };
	struct two_slots t;
	uint32_t next = UINT32_MAX - 1; /* index 14 */
	uint64_t bad = 0;

	two_slots(&t);
	dirty_entry(&ring[14], 0, 1);
	dirty_entry(&ring[15], 0, 2);
	dirty_entry(&ring[0], 0, 3);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 3);
	cr_assert_eq(next, 1);
	cr_assert(bit(t.b0, 1) && bit(t.b0, 2) && bit(t.b0, 3));
}

Test(dirty_ring, a_full_ring_is_harvested_once_around)
{
	struct kvm_dirty_gfn ring[RING];
	struct two_slots t;
	uint32_t next = 3;
	uint64_t bad = 0;

	two_slots(&t);
	for (unsigned i = 0; i < RING; i++)
		dirty_entry(&ring[i], 1, 200 + i);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), RING);
	cr_assert_eq(next, 3 + RING);
	cr_assert_eq(count(t.b1, 300), RING);
	for (unsigned i = 0; i < RING; i++)
		cr_assert_eq(ring[i].flags, KVM_DIRTY_GFN_F_RESET);
}

Test(dirty_ring, hostile_slot_and_offset_are_counted_and_skipped)
{
	struct kvm_dirty_gfn ring[RING] = { 0 };
	struct two_slots t;
	uint32_t next = 0;
	uint64_t bad = 0;

	two_slots(&t);
	dirty_entry(&ring[0], 2, 0);	      /* no such slot */
	dirty_entry(&ring[1], 1U << 16, 5);   /* address space 1 */
	dirty_entry(&ring[2], UINT32_MAX, 5); /* both */
	dirty_entry(&ring[3], 0, 100);	      /* one past slot 0's end */
	dirty_entry(&ring[4], 1, UINT64_MAX); /* far past */
	dirty_entry(&ring[5], 1, 1ULL << 63); /* would wrap a byte offset */
	dirty_entry(&ring[6], 0, 99);	      /* fine: the last page */
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 2, &bad), 7,
		     "bad entries are harvested too, so the ring moves on");
	cr_assert_eq(bad, 6);
	cr_assert_eq(next, 7);
	cr_assert_eq(count(t.b0, 100), 1);
	cr_assert(bit(t.b0, 99));
	cr_assert_eq(count(t.b1, 300), 0);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(ring[i].flags, KVM_DIRTY_GFN_F_RESET);
	/* No slots at all: every entry is bad. */
	dirty_entry(&ring[7], 0, 0);
	cr_assert_eq(mem_dirty_harvest(ring, RING, &next, t.s, 0, &bad), 1);
	cr_assert_eq(bad, 7);
}

/* KVM_CLEAR_DIRTY_LOG chunks */

struct chunks {
	struct mem_dirty_chunk c[64];
	unsigned n;
};

static void chunks_of(const uint64_t *bits, uint64_t pages, struct chunks *cs)
{
	uint64_t pos = 0;

	cs->n = 0;
	while (cs->n < 64 &&
	       mem_dirty_next_chunk(bits, pages, &pos, &cs->c[cs->n]))
		cs->n++;
	cr_assert_lt(cs->n, 64);
}

/* What KVM checks (kvm_clear_dirty_log_protect), and that the chunks
 * cover exactly the words with a bit set, in order. */
static void check_chunks(const uint64_t *bits, uint64_t pages,
			 const struct chunks *cs)
{
	uint64_t covered = 0;

	for (unsigned i = 0; i < cs->n; i++) {
		const struct mem_dirty_chunk *c = &cs->c[i];
		cr_assert_eq(c->first_page % 64, 0);
		cr_assert_gt(c->pages, 0);
		cr_assert_lt(c->first_page, pages);
		cr_assert_leq(c->pages, pages - c->first_page);
		cr_assert(c->pages % 64 == 0 ||
				  c->first_page + c->pages == pages,
			  "chunk %u: %llu+%u in %llu pages", i,
			  (unsigned long long)c->first_page, c->pages,
			  (unsigned long long)pages);
		cr_assert_leq(c->pages, MEM_DIRTY_CLEAR_MAX_PAGES);
		cr_assert_geq(c->first_page, covered, "in order, disjoint");
		for (uint64_t w = covered / 64; w < c->first_page / 64; w++)
			cr_assert_eq(bits[w], 0, "word %llu left out",
				     (unsigned long long)w);
		for (uint64_t w = c->first_page / 64;
		     w < WORDS(c->first_page + c->pages); w++)
			cr_assert_neq(bits[w], 0, "clean word %llu in a chunk",
				      (unsigned long long)w);
		covered = c->first_page + c->pages;
	}
	for (uint64_t w = WORDS(covered); w < WORDS(pages); w++)
		cr_assert_eq(bits[w], 0, "word %llu left out",
			     (unsigned long long)w);
}

Test(dirty_chunks, region_end_not_a_multiple_of_64)
{
	uint64_t b[WORDS(100)] = { 0 };
	struct chunks cs;

	set(b, 99);
	chunks_of(b, 100, &cs);
	cr_assert_eq(cs.n, 1);
	cr_assert_eq(cs.c[0].first_page, 64);
	cr_assert_eq(cs.c[0].pages, 36);
	set(b, 0);
	chunks_of(b, 100, &cs);
	cr_assert_eq(cs.n, 1, "adjacent words make one request");
	cr_assert_eq(cs.c[0].first_page, 0);
	cr_assert_eq(cs.c[0].pages, 100);
	check_chunks(b, 100, &cs);
}

Test(dirty_chunks, a_region_smaller_than_a_word)
{
	uint64_t b[1] = { 1ULL << 62 };
	struct chunks cs;

	chunks_of(b, 63, &cs);
	cr_assert_eq(cs.n, 1);
	cr_assert_eq(cs.c[0].first_page, 0);
	cr_assert_eq(cs.c[0].pages, 63);
}

Test(dirty_chunks, clean_words_split_requests)
{
	uint64_t b[WORDS(513)] = { 0 };
	struct chunks cs;

	set(b, 5);
	set(b, 150);
	set(b, 200);
	set(b, 512); /* the last page, alone in its word */
	chunks_of(b, 513, &cs);
	cr_assert_eq(cs.n, 3);
	cr_assert_eq(cs.c[0].first_page, 0);
	cr_assert_eq(cs.c[0].pages, 64);
	cr_assert_eq(cs.c[1].first_page, 128);
	cr_assert_eq(cs.c[1].pages, 128);
	cr_assert_eq(cs.c[2].first_page, 512);
	cr_assert_eq(cs.c[2].pages, 1);
	check_chunks(b, 513, &cs);
}

Test(dirty_chunks, nothing_dirty_no_request)
{
	uint64_t b[WORDS(1000)] = { 0 }, pos = 0;
	struct mem_dirty_chunk c;

	cr_assert(!mem_dirty_next_chunk(b, 1000, &pos, &c));
	cr_assert(!mem_dirty_next_chunk(b, 1000, &pos, &c), "and again");
}

Test(dirty_chunks, a_request_is_at_most_1_gib)
{
	uint64_t pages = MEM_DIRTY_CLEAR_MAX_PAGES * 2ULL + 100;
	uint64_t *b = malloc(WORDS(pages) * 8);
	struct chunks cs;

	memset(b, 0xff, WORDS(pages) * 8);
	chunks_of(b, pages, &cs);
	cr_assert_eq(cs.n, 3);
	cr_assert_eq(cs.c[0].first_page, 0);
	cr_assert_eq(cs.c[0].pages, MEM_DIRTY_CLEAR_MAX_PAGES);
	cr_assert_eq(cs.c[1].first_page, MEM_DIRTY_CLEAR_MAX_PAGES);
	cr_assert_eq(cs.c[1].pages, MEM_DIRTY_CLEAR_MAX_PAGES);
	cr_assert_eq(cs.c[2].first_page, 2ULL * MEM_DIRTY_CLEAR_MAX_PAGES);
	cr_assert_eq(cs.c[2].pages, 100);
	check_chunks(b, pages, &cs);
	free(b);
}

Test(dirty_chunks, random_bitmaps_meet_kvm_rules)
{
	static const uint64_t sizes[] = { 1, 63, 64, 65, 127, 128, 1000, 4097 };
	uint64_t b[WORDS(4097)];
	struct chunks cs;

	srand(7);
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int round = 0; round < 200; round++) {
			uint64_t pages = sizes[s];
			memset(b, 0, sizeof(b));
			for (uint64_t w = 0; w < WORDS(pages); w++)
				if (rand() % 3 == 0)
					b[w] = (uint64_t)rand() | 1;
			if (pages % 64)
				b[WORDS(pages) - 1] &=
					(1ULL << (pages % 64)) - 1;
			chunks_of(b, pages, &cs);
			check_chunks(b, pages, &cs);
		}
	}
}

/* What works without a VM: the mode, and refusals. */

Test(dirty_init, ring_asked_for_and_missing, .init = cr_redirect_stderr)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 4 << 20,
				  .backend = MEM_BACKEND_ANON };
	struct mem_dirty d;

	cr_assert_eq(test_mem_create(&m, &cfg), 0);
	cr_assert_eq(mem_dirty_init(&d, -1, &m, 2, MEM_DIRTY_RING), -ENOTSUP);
	mem_dirty_destroy(&d);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmm: --dirty-tracking ring: this KVM offers "
				"no dirty ring (KVM_CAP_DIRTY_LOG_RING)\n");
	mem_destroy(&m);
}

Test(dirty_init, auto_falls_back_to_the_bitmap, .init = cr_redirect_stderr)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 4 << 20,
				  .backend = MEM_BACKEND_ANON };
	struct mem_dirty d;
	uint64_t out[WORDS(1024)];

	cr_assert_eq(test_mem_create(&m, &cfg), 0);
	cr_assert_eq(mem_dirty_init(&d, -1, &m, 2, MEM_DIRTY_AUTO), 0);
	cr_assert_eq(d.mode, MEM_DIRTY_BITMAP);
	cr_assert(!d.manual_protect);
	cr_assert_eq(mem_dirty_add_vcpu(&d, 0, -1), 0, "no ring to map");
	cr_assert_eq(mem_dirty_fetch(&d, 0, out), -EINVAL, "not started");
	cr_assert_eq(mem_dirty_fetch(&d, 1, out), -EINVAL, "no region 1");
	cr_assert_eq(mem_dirty_start(&d), -EBADF, "the slots cannot log");
	cr_assert_eq(mem_dirty_stop(&d), 0, "not started: nothing to do");
	cr_assert_eq(mem_dirty_ring_full(&d, 0), -EINVAL);
	mem_dirty_destroy(&d);
	mem_dirty_destroy(&d); /* twice is harmless */
	mem_destroy(&m);
}

Test(dirty_init, bitmap_asked_for)
{
	struct guest_mem m;
	struct mem_config cfg = { .size = 4 << 20,
				  .backend = MEM_BACKEND_ANON };
	struct mem_dirty d;

	cr_assert_eq(test_mem_create(&m, &cfg), 0);
	cr_assert_eq(mem_dirty_init(&d, -1, &m, 1, MEM_DIRTY_BITMAP), 0);
	cr_assert_eq(d.mode, MEM_DIRTY_BITMAP);
	mem_dirty_destroy(&d);
	mem_destroy(&m);
}

Test(dirty_init, destroy_of_a_zeroed_struct)
{
	struct mem_dirty d;

	memset(&d, 0, sizeof(d));
	mem_dirty_destroy(&d);
}
