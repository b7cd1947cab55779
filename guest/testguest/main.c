/* Test guest scenarios, chosen by scenario=NAME on the command line:
 *   exit [status=N]   exit at once (the default; the boot benchmark)
 *   hello             print what the guest sees, exit 0
 *   smp cpus=N        every CPU counts in its own page, then a barrier
 *   mem [step=B]      write and verify every page of RAM above the image
 *   fault             touch unmapped memory: the exception handler reports
 *   triplefault       reset through a triple fault
 *   hang              never exit
 *   flood lines=N     print N numbered lines as fast as the UART takes them
 *   blk, blkbench     virtio-blk checks and benchmark (blk.c)
 *   blkverify         blocks written and read back continuously while the
 *                     VMM snapshots or migrates (blkverify.c)
 *   p9, p9bench       9P2000.L over virtio-9p: functional test and
 *                     benchmark (p9test.c, p9bench.c, client in p9.c)
 *   p9loop            a file kept open, written and read back while the
 *                     VMM snapshots or migrates (p9loop.c)
 *   hostile attack=A  virtio register rules broken on purpose (hostile.c)
 *   dirty mem=MiB     pages rewritten and verified on every vCPU while the
 *                     VMM pauses, snapshots or migrates (dirty.c)
 *   pit               whether the board has an i8254
 *   pitirq            the i8254's channel 0 interrupt (pitirq.c)
 * Exit status: 0 pass, 1 check failed, 3 unexpected exception, 4 bad usage. */
#include "guest.h"

#define SMP_COUNT 2000000

static volatile uint64_t counters[GUEST_MAX_CPUS][512]
	__attribute__((aligned(4096)));
static volatile uint32_t counted;

static void count(unsigned cpu)
{
	for (uint64_t i = 0; i < SMP_COUNT; i++)
		counters[cpu][0]++;
	__atomic_add_fetch(&counted, 1, __ATOMIC_SEQ_CST);
}

static int scenario_smp(void)
{
	unsigned want = (unsigned)arg_u64("cpus", 1), up;
	uint64_t t0;

	if (want < 1 || want > GUEST_MAX_CPUS) {
		printf("guest: cpus=%u out of range\n", want);
		return 4;
	}
	timing_init();
	up = want > 1 ? smp_start(want, count) : 1;
	count(0);
	t0 = rdtsc();
	while (counted < up &&
	       rdtsc() - t0 < 30 * (tsc_hz() ? tsc_hz() : 3000000000ULL))
		cpu_relax();
	for (unsigned c = 0; c < up; c++)
		if (counters[c][0] != SMP_COUNT) {
			printf("guest: cpu %u counted %lu\n", c,
			       counters[c][0]);
			return 1;
		}
	printf("guest: smp: %u of %u cpus up, %u counted\n", up, want, counted);
	return up == want && counted == up ? 0 : 1;
}

static uint64_t pattern(uint64_t addr)
{
	return addr * 0x9e3779b97f4a7c15ULL ^ 0x5a5a5a5a5a5a5a5aULL;
}

/* Visits every step-th qword of RAM above the image and below the end
 * of the identity map; writes the pattern, or checks it. */
static uint64_t walk_ram(uint64_t step, bool write, uint64_t *top,
			 uint64_t *high, uint64_t *bad)
{
	const struct memmap_entry *e;
	unsigned n = pvh_memmap(&e);
	uint64_t floor = ((uint64_t)__image_end + 0x1fffff) & ~0x1fffffULL;
	uint64_t limit = (uint64_t)MAPPED_GIB << 30, bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = e[i].addr < floor ? floor : e[i].addr;
		uint64_t end = e[i].addr + e[i].size;
		if (e[i].type != 1)
			continue;
		end = end < limit ? end : limit;
		for (; a + 8 <= end; a += step) {
			volatile uint64_t *p = (volatile uint64_t *)a;
			if (write)
				*p = pattern(a);
			else if (*p != pattern(a) && (*bad)++ < 5)
				printf("guest: mem: %lx holds %lx\n", a, *p);
			if (a >= 1ULL << 32)
				*high += step;
		}
		if (end > a - step && end > floor)
			bytes += end - (e[i].addr < floor ? floor : e[i].addr);
		if (end > *top)
			*top = end;
	}
	return bytes;
}

static int scenario_mem(void)
{
	uint64_t step = arg_u64("step", 4096), top = 0, high = 0, bad = 0;
	uint64_t bytes;

	if (step < 8 || step % 8) {
		printf("guest: step=%lu must be a multiple of 8\n", step);
		return 4;
	}
	bytes = walk_ram(step, true, &top, &high, &bad);
	high = 0;
	walk_ram(step, false, &top, &high, &bad);
	printf("guest: mem: checked %lu MiB, top %lu MiB, above 4 GiB %lu MiB, "
	       "%lu bad\n",
	       bytes >> 20, top >> 20, high >> 20, bad);
	return bad || !bytes ? 1 : 0;
}

static int scenario_flood(void)
{
	uint64_t lines = arg_u64("lines", 1000);

	for (uint64_t i = 0; i < lines; i++)
		printf("flood %06lu the quick brown fox jumps over the lazy dog\n",
		       i);
	printf("flood done %lu\n", lines);
	return 0;
}

static int scenario_hello(void)
{
	const struct memmap_entry *e;
	unsigned n = pvh_memmap(&e);
	uint64_t ram = 0;

	timing_init();
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == 1)
			ram += e[i].size;
	printf("guest: hello from CPL3\n");
	printf("guest: cmdline '%s'\n", pvh_cmdline());
	printf("guest: ram %lu MiB in %u memmap entries\n", ram >> 20, n);
	printf("guest: tsc %lu kHz, within %lu ppm\n", tsc_hz() / 1000,
	       tsc_hz_error_ppm());
	return 0;
}

static int scenario_fault(void)
{
	return (int)*(volatile uint64_t *)0x300000000ULL; /* 12 GiB: unmapped */
}

static int scenario_triple_fault(void)
{
	__asm__ volatile("jmp triple_fault_request");
	return 1;
}

static int scenario_hang(void)
{
	printf("guest: hanging\n");
	for (;;)
		cpu_relax();
	__builtin_unreachable();
}

/* Progress a host can watch: the control socket's pause must stop it. */
static int scenario_tick(void)
{
	uint64_t ms = arg_u64("ms", 100);

	timing_init();
	for (uint64_t n = 0;; n++) {
		printf("guest: tick %lu\n", n);
		delay_us(ms * 1000);
	}
	__builtin_unreachable();
}

/* Whether the board has an i8254 (vmm run --pit): channel 0 set counting
 * down from 65535 is read back twice, about a millisecond apart: ports
 * without a device read 0xff both times (timing.c). */
static int scenario_pit(void)
{
	printf(pit_present() ? "guest: pit present\n" : "guest: pit absent\n");
	return 0;
}

int scenario_blk(void);
int scenario_blkbench(void);
int scenario_blkverify(void);
int scenario_hostile(void);
int scenario_p9(void);
int scenario_p9bench(void);
int scenario_p9loop(void);
int scenario_dirty(void);
int scenario_pitirq(void);

static const struct {
	const char *name;
	int (*run)(void);
} scenarios[] = {
	{ "blk", scenario_blk },
	{ "blkbench", scenario_blkbench },
	{ "blkverify", scenario_blkverify },
	{ "hostile", scenario_hostile },
	{ "p9", scenario_p9 },
	{ "p9bench", scenario_p9bench },
	{ "p9loop", scenario_p9loop },
	{ "dirty", scenario_dirty },
	{ "hello", scenario_hello },
	{ "smp", scenario_smp },
	{ "mem", scenario_mem },
	{ "flood", scenario_flood },
	{ "fault", scenario_fault },
	{ "triplefault", scenario_triple_fault },
	{ "hang", scenario_hang },
	{ "tick", scenario_tick },
	{ "pit", scenario_pit },
	{ "pitirq", scenario_pitirq },
};

void smp_ap_entry(unsigned cpu);

void guest_main(unsigned cpu, uint32_t start_info)
{
	char name[32];

	if (cpu)
		smp_ap_entry(cpu);
	pvh_init(start_info);
	idt_init();
	if (!arg("scenario", name, sizeof(name)) || !strncmp(name, "exit", 5))
		guest_exit((uint8_t)arg_u64("status", 0));
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strncmp(name, scenarios[i].name, sizeof(name)))
			guest_exit((uint8_t)scenarios[i].run());
	printf("guest: unknown scenario '%s'\n", name);
	guest_exit(4);
}
