/* Fault injection and breakpoints for the block layer's tests, like
 * QEMU's blkdebug: a filter node (protocol "blkdebug") between a format
 * and its file, which the format opens when the disk has an inject=
 * option. Format drivers name each step of their metadata updates with
 * blk_co_event (block/driver.h) just before its I/O; a rule for that
 * event fails the step with an errno (once or every time), kills the
 * process there (a crash at exactly that point), or suspends the
 * request until the test resumes it.
 *
 *   inject=RULE[+RULE...]   RULE: EVENT:ACTION[:once][:after=N], or
 *                           trace (record the events seen, in order)
 *   ACTION: an errno name (EIO, ENOSPC, ...), kill, or break
 *   after=N: the rule ignores the first N occurrences of its event
 *
 * The rules live in the node (its mutex); events come from the request
 * coroutines of any ctx, resumes from the test's thread. */
#ifndef BLOCK_BLKDEBUG_H
#define BLOCK_BLKDEBUG_H

#include "block.h"

/* Requests suspended at break rules of event (its name) on node, a
 * blkdebug node or a format over one; -ENOENT when there is none. */
int blkdebug_suspended(struct blk_node *node, const char *event);
/* Lets every request suspended at event go on (and the next ones that
 * arrive, up to the count). Their threads run them on their next
 * blk_ctx_reap. 0 or -ENOENT. */
int blkdebug_resume(struct blk_node *node, const char *event);

/* The events seen so far on node's blkdebug node with the trace rule,
 * space-separated names in order, into out. 0 or -ENOENT. */
int blkdebug_trace(struct blk_node *node, char *out, size_t len);

#endif
