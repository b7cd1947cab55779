/* scenario=dirty: the workload of the live-migration and snapshot tests and
 * benchmarks. It runs on every vCPU the guest has (the ACPI MADT's count,
 * or cpus=N; 1, with a note, when there is no MADT), all at CPL3: the boot
 * vCPU starts the others with INIT/SIPI (smp.c), and each fills, then
 * works on, its own slice of a working set of RAM above the image,
 * rewriting and verifying it page by page while the VMM pauses, snapshots,
 * restores or migrates the VM; any page whose contents did not survive is
 * reported.
 *
 * Arguments:
 *   mem=MiB      working set (default 512); refused (status 4) when the
 *                guest has less free RAM than that and its generations
 *   dirty=MiB    the part of it rewritten on every pass (default mem; 0:
 *                fill once, then only verify); spread evenly over the
 *                vCPUs, the first pages of each slice
 *   seconds=N    run time after the fill, by the calibrated TSC (default
 *                10; 0: forever); a pause counts, the TSC runs on
 *   rate=MiB/s   throttle of the rewriting, all vCPUs together (default
 *                0: as fast as they go)
 *   cpus=N       use N vCPUs instead of the MADT's count
 *   selftest_corrupt=1  flip one bit of one word in vCPU 0's slice at the
 *                start of its second pass after the fill: must fail
 *
 * Content: page P (its guest-physical address) in generation G holds in
 * word i (at P + 8 i) the value seed(P, G) + i * STEP, where seed is the
 * splitmix64 finalizer of (P >> 12 | G << 32). A page's generation is kept
 * in gens[], a uint32_t per page in guest RAM, so it migrates with the
 * data: gens[] starts the free RAM above the image (page_alloc_rest's
 * first range, 2 MiB aligned), the working set follows it and goes on in
 * the next RAM ranges past any hole. The fill writes generation 1; each
 * pass then, page by page, checks every word against (P, recorded G) and,
 * for a dirty page, writes generation G + 1 in the same sweep and records
 * it; the other pages are only checked.
 *
 * Output on COM1, one line per event:
 *   dirty: filling N MiB on C vCPUs
 *   dirty: filled
 *   dirty: t=Ss passes=P max-stall-us=U       about once a second, vCPU 0
 *   dirty: MISMATCH cpu=C gpa=0x.. word=0x.. expected=0x.. got=0x..
 *   dirty: ok passes=P max-stall-us=U
 * P counts the complete passes of all vCPUs; U is the longest gap any
 * vCPU saw between two consecutive TSC readings, taken after every page
 * (and in throttle waits) from the end of the fill on: the guest-observed
 * downtime of a pause or a migration. vCPU 0's own console writes are not
 * counted as stalls. In MISMATCH, gpa is the page's address and word the
 * index of the 8-byte word in it. Exit status: 0 ok, 1 mismatch, 4 bad
 * usage or too little RAM. */
#include "guest.h"

#define PAGE 4096
#define WORDS (PAGE / 8)
#define STEP 0x9e3779b97f4a7c15ULL
#define MAX_RANGES 16
#define BURST_DIV 100 /* a throttled vCPU catches up at most 10 ms */

struct range {
	uint64_t gpa, first, pages; /* working-set pages first..first+pages */
};

/* Written by vCPU 0 before the phase that reads it, then only read. */
static struct {
	unsigned ncpus, nranges;
	uint64_t pages, dirty_pages, hz, end;
	uint64_t cycles_per_page; /* per vCPU, for rate=; 0: no throttle */
	bool selftest;
	uint32_t *gens;
	struct range ranges[MAX_RANGES];
} cfg;

/* Each vCPU's own counters, on a cache line of their own. */
static struct cpu_state {
	volatile uint64_t passes, max_stall; /* stall in TSC cycles */
	volatile uint32_t filled, done;
} __attribute__((aligned(64))) state[GUEST_MAX_CPUS];

static volatile uint32_t phase; /* 1: fill, 2: run, 3: stop */
static volatile uint64_t start_tsc;
static volatile uint32_t print_lock;

static uint64_t seed(uint64_t gpa, uint32_t gen)
{
	uint64_t z = gpa >> 12 | (uint64_t)gen << 32;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void lock(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static uint64_t to_us(uint64_t cycles)
{
	if (cycles < 1ULL << 44)
		return cycles * 1000000 / cfg.hz;
	return cycles / (cfg.hz / 1000000);
}

/* The print lock is never given back: the exit port ends the run, and
 * any other vCPU that finds a mismatch waits for that. */
static void __attribute__((noreturn, cold))
mismatch(unsigned cpu, uint64_t gpa, unsigned word, uint64_t expected)
{
	uint64_t got = ((volatile uint64_t *)gpa)[word];

	lock();
	printf("dirty: MISMATCH cpu=%u gpa=0x%lx word=0x%x expected=0x%lx "
	       "got=0x%lx\n",
	       cpu, gpa, word, expected, got);
	guest_exit(1);
}

/* The page loops: plain loads and stores, one add per word for the
 * expected and the new value. They return the first bad word's index, or
 * WORDS. */
static inline unsigned fill_page(uint64_t *w, uint64_t v)
{
	for (unsigned i = 0; i < WORDS; i++, v += STEP)
		w[i] = v;
	return WORDS;
}

static inline unsigned verify_page(const uint64_t *w, uint64_t old)
{
	unsigned i;

	for (i = 0; i < WORDS; i++, old += STEP)
		if (w[i] != old)
			break;
	return i;
}

static inline unsigned rewrite_page(uint64_t *w, uint64_t old, uint64_t new)
{
	unsigned i;

	for (i = 0; i < WORDS; i++, old += STEP, new += STEP) {
		if (w[i] != old)
			break;
		w[i] = new;
	}
	return i;
}

static uint64_t page_gpa(uint64_t idx)
{
	for (unsigned r = 0; r < cfg.nranges; r++)
		if (idx - cfg.ranges[r].first < cfg.ranges[r].pages)
			return cfg.ranges[r].gpa +
			       (idx - cfg.ranges[r].first) * PAGE;
	return 0;
}

/* One vCPU's share: pages lo..hi, the first dirty_end - lo of them
 * rewritten. */
struct slice {
	unsigned cpu;
	uint64_t lo, hi, dirty_end;
};

static struct slice slice_of(unsigned cpu)
{
	uint64_t n = cfg.ncpus;
	struct slice s = { cpu, cfg.pages * cpu / n, cfg.pages * (cpu + 1) / n,
			   0 };

	s.dirty_end = s.lo + cfg.dirty_pages * (cpu + 1) / n -
		      cfg.dirty_pages * cpu / n;
	return s;
}

static void fill(const struct slice *s)
{
	for (unsigned r = 0; r < cfg.nranges; r++) {
		const struct range *g = &cfg.ranges[r];
		uint64_t a = s->lo > g->first ? s->lo : g->first;
		uint64_t b = s->hi < g->first + g->pages ? s->hi
							 : g->first + g->pages;
		for (uint64_t idx = a; idx < b; idx++) {
			uint64_t gpa = g->gpa + (idx - g->first) * PAGE;
			fill_page((uint64_t *)gpa, seed(gpa, 1));
			cfg.gens[idx] = 1;
		}
	}
}

/* What one vCPU's loop keeps in registers between pages. */
struct clock {
	uint64_t last, max, next_write, next_event, next_tick;
};

/* A TSC reading: the gap since the previous one may be the longest. */
static inline void observe(struct cpu_state *st, struct clock *c, uint64_t now)
{
	if (now - c->last > c->max) {
		c->max = now - c->last;
		st->max_stall = c->max;
	}
	c->last = now;
}

static void totals(uint64_t *passes, uint64_t *stall)
{
	*passes = *stall = 0;
	for (unsigned c = 0; c < cfg.ncpus; c++) {
		*passes += state[c].passes;
		if (state[c].max_stall > *stall)
			*stall = state[c].max_stall;
	}
}

/* vCPU 0 at a tick or the end of the run; returns true at the end. */
static bool event(struct clock *c, uint64_t now)
{
	uint64_t passes, stall, t = (now - start_tsc) / cfg.hz;

	if (cfg.end && now >= cfg.end) {
		__atomic_store_n(&phase, 3, __ATOMIC_RELEASE);
		return true;
	}
	if (now >= c->next_tick) {
		totals(&passes, &stall);
		lock();
		printf("dirty: t=%lus passes=%lu max-stall-us=%lu\n", t, passes,
		       to_us(stall));
		unlock();
		c->next_tick = start_tsc + (t + 1) * cfg.hz;
		c->last = rdtsc(); /* the console write is no stall */
	}
	c->next_event = c->next_tick;
	if (cfg.end && cfg.end < c->next_event)
		c->next_event = cfg.end;
	return false;
}

/* rate=: wait (reading the TSC, so a pause still shows) until this
 * vCPU may write its next page. Returns false when the run stops. */
static bool throttle(unsigned cpu, struct cpu_state *st, struct clock *c)
{
	uint64_t now = rdtsc();

	if (c->next_write + cfg.hz / BURST_DIV < now)
		c->next_write = now - cfg.hz / BURST_DIV;
	while (now < c->next_write) {
		if (cpu == 0 ? now >= c->next_event && event(c, now)
			     : phase == 3)
			return false;
		cpu_relax();
		now = rdtsc();
		observe(st, c, now);
	}
	c->next_write += cfg.cycles_per_page;
	return true;
}

static void corrupt(const struct slice *s)
{
	uint64_t gpa = page_gpa(s->lo + (s->hi - s->lo) / 2);
	volatile uint64_t *w = (volatile uint64_t *)gpa + 0x11;

	lock();
	printf("dirty: selftest: flipping a bit of gpa=0x%lx word=0x11\n", gpa);
	unlock();
	*w ^= 1ULL << 17;
}

/* Passes over the slice until the run stops (never when seconds=0). */
static void run(const struct slice *s)
{
	struct cpu_state *st = &state[s->cpu];
	uint32_t *gens = cfg.gens;
	struct clock c = { 0 };

	c.last = c.next_write = rdtsc();
	c.next_tick = start_tsc + cfg.hz;
	c.next_event = cfg.end && cfg.end < c.next_tick ? cfg.end : c.next_tick;
	for (;;) {
		if (cfg.selftest && s->cpu == 0 && st->passes == 1) {
			corrupt(s);
			c.last = rdtsc();
		}
		for (unsigned r = 0; r < cfg.nranges; r++) {
			const struct range *g = &cfg.ranges[r];
			uint64_t a = s->lo > g->first ? s->lo : g->first;
			uint64_t b = s->hi < g->first + g->pages
					     ? s->hi
					     : g->first + g->pages;
			for (uint64_t idx = a; idx < b; idx++) {
				uint64_t gpa = g->gpa + (idx - g->first) * PAGE;
				uint64_t *w = (uint64_t *)gpa, now;
				uint32_t gen = gens[idx];
				uint64_t old = seed(gpa, gen);
				unsigned bad;

				if (idx < s->dirty_end) {
					if (cfg.cycles_per_page &&
					    !throttle(s->cpu, st, &c))
						return;
					bad = rewrite_page(w, old,
							   seed(gpa, gen + 1));
					if (bad == WORDS)
						gens[idx] = gen + 1;
				} else {
					bad = verify_page(w, old);
				}
				if (bad != WORDS)
					mismatch(s->cpu, gpa, bad,
						 old + bad * STEP);
				/* Memory is read again on the next pass. */
				__asm__ volatile("" ::: "memory");
				now = rdtsc();
				observe(st, &c, now);
				if (s->cpu == 0) {
					if (now >= c.next_event &&
					    event(&c, now))
						return;
				} else if (phase == 3) {
					return;
				}
			}
		}
		st->passes++;
	}
}

static void work(unsigned cpu)
{
	struct slice s;

	while (phase < 1)
		cpu_relax();
	if (cpu >= cfg.ncpus)
		return; /* came up late, or cpus= leaves it out */
	s = slice_of(cpu);
	fill(&s);
	__atomic_store_n(&state[cpu].filled, 1, __ATOMIC_RELEASE);
	while (phase < 2)
		cpu_relax();
	run(&s);
	__atomic_store_n(&state[cpu].done, 1, __ATOMIC_RELEASE);
}

/* Claims all free RAM: gens[] in the first range that holds it, the
 * working set in the rest. False when it is too little; *free tells how
 * much there is. */
static bool layout(uint64_t mem, uint64_t *free)
{
	struct memmap_entry m[MAX_RANGES];
	unsigned n = page_alloc_rest(m, MAX_RANGES), home = n;
	uint64_t pages = mem << 8, left;
	uint64_t gens_bytes = (pages * 4 + PAGE - 1) & ~(PAGE - 1ULL);

	*free = 0;
	for (unsigned i = 0; i < n; i++) {
		*free += m[i].size;
		if (home == n && m[i].size >= gens_bytes)
			home = i;
	}
	if (mem > *free >> 20 || (mem << 20) + gens_bytes > *free || home == n)
		return false;
	cfg.gens = (uint32_t *)m[home].addr;
	m[home].addr += gens_bytes;
	m[home].size -= gens_bytes;
	cfg.pages = pages;
	left = pages;
	for (unsigned i = 0; i < n && left; i++) {
		struct range *g = &cfg.ranges[cfg.nranges];
		g->gpa = m[i].addr;
		g->first = pages - left;
		g->pages = m[i].size / PAGE < left ? m[i].size / PAGE : left;
		left -= g->pages;
		if (g->pages)
			cfg.nranges++;
	}
	return true;
}

int scenario_dirty(void)
{
	uint64_t mem = arg_u64("mem", 512), dirty, seconds, rate, cpus;
	uint64_t free, passes, stall;
	struct slice s0;
	unsigned up = 1;

	dirty = arg_u64("dirty", mem);
	seconds = arg_u64("seconds", 10);
	rate = arg_u64("rate", 0);
	cpus = arg_u64("cpus", 0);
	cfg.selftest = arg_u64("selftest_corrupt", 0) != 0;
	if (!mem || dirty > mem) {
		printf("dirty: bad mem=%lu dirty=%lu: need 0 < mem, dirty <= "
		       "mem\n",
		       mem, dirty);
		return 4;
	}
	if (cpus > GUEST_MAX_CPUS) {
		printf("dirty: cpus=%lu out of range\n", cpus);
		return 4;
	}
	if (!cpus)
		cpus = smp_cpus();
	if (!cpus) {
		printf("dirty: no ACPI MADT: 1 vCPU (cpus=N to use more)\n");
		cpus = 1;
	}
	timing_init();
	cfg.hz = tsc_hz();
	if (cfg.hz < 1000000) {
		printf("dirty: TSC calibration failed\n");
		return 4;
	}
	if (!layout(mem, &free)) {
		printf("dirty: mem=%lu MiB does not fit: %lu MiB of RAM free\n",
		       mem, free >> 20);
		return 4;
	}
	cfg.dirty_pages = dirty << 8;
	if (cpus > 1)
		up = smp_start((unsigned)cpus, work);
	if (up < cpus)
		printf("dirty: only %u of %lu vCPUs came up\n", up, cpus);
	cfg.ncpus = up < cpus ? up : (unsigned)cpus;
	if (rate)
		cfg.cycles_per_page = cfg.hz * cfg.ncpus / (rate << 8);
	printf("dirty: filling %lu MiB on %u vCPUs\n", mem, cfg.ncpus);
	s0 = slice_of(0);
	__atomic_store_n(&phase, 1, __ATOMIC_RELEASE);
	fill(&s0);
	for (unsigned c = 1; c < cfg.ncpus; c++)
		while (!__atomic_load_n(&state[c].filled, __ATOMIC_ACQUIRE))
			cpu_relax();
	printf("dirty: filled\n");
	start_tsc = rdtsc();
	cfg.end = seconds ? start_tsc + seconds * cfg.hz : 0;
	__atomic_store_n(&phase, 2, __ATOMIC_RELEASE);
	run(&s0);
	for (unsigned c = 1; c < cfg.ncpus; c++)
		while (!__atomic_load_n(&state[c].done, __ATOMIC_ACQUIRE))
			cpu_relax();
	totals(&passes, &stall);
	lock();
	printf("dirty: ok passes=%lu max-stall-us=%lu\n", passes, to_us(stall));
	return 0;
}
