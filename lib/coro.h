/* Coroutines: a function that runs on a stack of its own and can give
 * the CPU back to whoever entered it (coro_yield), to be entered again
 * later where it left off. The block layer's format drivers use them so
 * that a request that waits for metadata I/O reads as straight-line code
 * while its thread serves other requests.
 *
 * No scheduler and no thread-local state: a coroutine runs only inside
 * coro_enter, on the calling thread, until it yields or returns. A
 * coroutine must always be entered by the same thread: the compiler may
 * keep a thread-local address (errno's, pthread_self) across a yield.
 * The context switch
 * itself is per architecture (coro_arch_* below, in each arch folder). */
#ifndef LIB_CORO_H
#define LIB_CORO_H

#include <stdbool.h>
#include <stddef.h>

struct coro;
typedef void (*coro_fn)(struct coro *self, void *arg);

/* A coroutine with a stack of stack_size bytes (rounded up to pages) and
 * a guard page below it; NULL when out of memory. */
struct coro *coro_create(size_t stack_size);
/* co must not be suspended inside its function. */
void coro_destroy(struct coro *co);

/* Makes fn(co, arg) the code the next coro_enter runs from its start.
 * co must be new or finished. */
void coro_start(struct coro *co, coro_fn fn, void *arg);

/* Runs co until it yields or its function returns; returns true in the
 * second case (co may then be started again). */
bool coro_enter(struct coro *co);

/* From inside self's function: back to the coro_enter that runs it. */
void coro_yield(struct coro *self);

/* --- Per architecture --- */

/* Saves the current callee-saved state on the current stack, stores the
 * stack pointer in *save, and continues on the stack `to` (as saved by
 * an earlier switch or made by coro_arch_prepare). */
void coro_arch_switch(void **save, void *to);
/* A stack pointer for a fresh stack ending at top (exclusive) such that
 * the first coro_arch_switch to it calls entry(arg), which must never
 * return. */
void *coro_arch_prepare(void *top, void (*entry)(void *), void *arg);

#endif
