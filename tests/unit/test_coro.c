/* Coroutines: straight-line code across yields, arguments and locals
 * kept, floating point kept, restart after it finishes, and a stack overflow hits the guard page. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/coro.h"

struct trace {
	int steps[16];
	int n;
};

static void counter(struct coro *self, void *arg)
{
	struct trace *t = arg;
	volatile int local = 100;

	for (int i = 0; i < 3; i++) {
		t->steps[t->n++] = local + i;
		coro_yield(self);
	}
	t->steps[t->n++] = -1;
}

Test(coro, yields_and_finishes_in_order)
{
	struct coro *co = coro_create(16384);
	struct trace t = { 0 };

	cr_assert_not_null(co);
	coro_start(co, counter, &t);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(coro_enter(co), false, "entry %d finished early",
			     i);
		cr_assert_eq(t.n, i + 1);
		cr_assert_eq(t.steps[i], 100 + i);
	}
	cr_assert_eq(coro_enter(co), true);
	cr_assert_eq(t.n, 4);
	cr_assert_eq(t.steps[3], -1);
	/* Started again, it runs from the beginning. */
	t.n = 0;
	coro_start(co, counter, &t);
	cr_assert_eq(coro_enter(co), false);
	cr_assert_eq(t.steps[0], 100);
	coro_destroy(co);
}

static void two_interleaved(struct coro *self, void *arg)
{
	struct trace *t = arg;
	int id = t->n++; /* 0 for the first started, 1 for the second */

	t->steps[t->n++] = 10 * id + 1;
	coro_yield(self);
	t->steps[t->n++] = 10 * id + 2;
}

Test(coro, two_coroutines_keep_their_own_stacks)
{
	struct coro *a = coro_create(16384), *b = coro_create(16384);
	struct trace t = { 0 };

	coro_start(a, two_interleaved, &t);
	coro_start(b, two_interleaved, &t);
	cr_assert_eq(coro_enter(a), false);
	cr_assert_eq(coro_enter(b), false);
	cr_assert_eq(coro_enter(a), true);
	cr_assert_eq(coro_enter(b), true);
	/* a took id 0 and wrote 1, b took id 2 and wrote 21; then a wrote
	 * 2 and b 22, each from the id it kept on its own stack. */
	cr_assert_eq(t.n, 6);
	cr_assert_eq(t.steps[1], 1);
	cr_assert_eq(t.steps[3], 21);
	cr_assert_eq(t.steps[4], 2);
	cr_assert_eq(t.steps[5], 22);
	coro_destroy(a);
	coro_destroy(b);
}

static void floating(struct coro *self, void *arg)
{
	double *out = arg;
	volatile double x = 1.0 / 3.0;

	coro_yield(self);
	*out = x * 3.0;
}

Test(coro, floating_point_state_survives_a_yield)
{
	struct coro *co = coro_create(16384);
	double out = 0;
	volatile double mine = 2.5;

	coro_start(co, floating, &out);
	coro_enter(co);
	mine *= 2;
	cr_assert_eq(coro_enter(co), true);
	cr_assert_float_eq(out, 1.0, 1e-12);
	cr_assert_float_eq(mine, 5.0, 1e-12);
	coro_destroy(co);
}

/* 1 KiB per frame that no compiler can fold: the frame's address
 * escapes into an asm statement. */
__attribute__((noinline)) static int recurse(int n)
{
	char pad[1024];

	pad[0] = (char)n;
	__asm__ volatile("" : : "r"(pad) : "memory");
	return n ? recurse(n - 1) + pad[0] : 0;
}

static void overflow(struct coro *self, void *arg)
{
	(void)self;
	(void)arg;
	recurse(1000); /* 1 MiB of frames on a 16 KiB stack */
}

Test(coro, stack_overflow_faults_on_the_guard_page)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (!pid) {
		struct coro *co = coro_create(16384);

		coro_start(co, overflow, NULL);
		coro_enter(co);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
#ifdef __SANITIZE_ADDRESS__
	/* ASan catches the fault, reports the stack overflow and exits 1. */
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "status %#x: no fault", status);
#else
	cr_assert(WIFSIGNALED(status), "status %#x: no fault", status);
	cr_assert_eq(WTERMSIG(status), SIGSEGV);
#endif
}
