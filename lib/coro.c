/* Coroutine stacks and entry (lib/coro.h). Runs on the thread that
 * enters or yields; a coroutine's fields belong to whoever runs it. The
 * sanitizers and valgrind are told about every stack and switch, or they
 * would take the coroutine's frames for corruption. */
#include "coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

struct coro {
	void *sp;	 /* the coroutine's, while it is not running */
	void *caller_sp; /* the enterer's, while the coroutine runs */
	coro_fn fn;
	void *arg;
	bool finished;
	void *map; /* guard page + stack */
	size_t map_size;
	unsigned valgrind_id;
#ifdef CORO_ASAN
	void *fake_stack;	   /* ASan's, of the side switched away from */
	const void *caller_bottom; /* the enterer's stack, for switching back */
	size_t caller_size;
#endif
};

static void switch_to(struct coro *co, void **save, void *to, bool into,
		      bool exiting)
{
#ifdef CORO_ASAN
	void *fake = NULL;
	const void *bottom = into ? (char *)co->map + (size_t)getpagesize()
				  : co->caller_bottom;
	size_t size =
		into ? co->map_size - (size_t)getpagesize() : co->caller_size;

	__sanitizer_start_switch_fiber(exiting ? NULL : &fake, bottom, size);
	coro_arch_switch(save, to);
	/* Back on this side: a coroutine learns which stack entered it. */
	__sanitizer_finish_switch_fiber(fake, into ? NULL : &co->caller_bottom,
					into ? NULL : &co->caller_size);
#else
	(void)co;
	(void)into;
	(void)exiting;
	coro_arch_switch(save, to);
#endif
}

static void entry(void *opaque)
{
	struct coro *co = opaque;

#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &co->caller_bottom,
					&co->caller_size);
#endif
	for (;;) {
		co->fn(co, co->arg);
		co->finished = true;
		/* Never comes back here: the next start prepares afresh. */
		switch_to(co, &co->sp, co->caller_sp, false, true);
	}
}

struct coro *coro_create(size_t stack_size)
{
	size_t page = (size_t)getpagesize();
	struct coro *co = calloc(1, sizeof(*co));

	if (!co)
		return NULL;
	co->map_size = page + ((stack_size + page - 1) & ~(page - 1));
	co->map = mmap(NULL, co->map_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (co->map == MAP_FAILED) {
		free(co);
		return NULL;
	}
	/* A stack overflow faults instead of writing over other memory. */
	if (mprotect(co->map, page, PROT_NONE)) {
		munmap(co->map, co->map_size);
		free(co);
		return NULL;
	}
	co->valgrind_id = VALGRIND_STACK_REGISTER(
		(char *)co->map + page, (char *)co->map + co->map_size);
	co->finished = true;
	return co;
}

void coro_destroy(struct coro *co)
{
	if (!co)
		return;
	VALGRIND_STACK_DEREGISTER(co->valgrind_id);
	munmap(co->map, co->map_size);
	free(co);
}

void coro_start(struct coro *co, coro_fn fn, void *arg)
{
	co->fn = fn;
	co->arg = arg;
	co->finished = false;
	co->sp = coro_arch_prepare((char *)co->map + co->map_size, entry, co);
}

bool coro_enter(struct coro *co)
{
	switch_to(co, &co->caller_sp, co->sp, true, false);
	return co->finished;
}

void coro_yield(struct coro *self)
{
	switch_to(self, &self->sp, self->caller_sp, false, false);
}
