/* Helpers every image format driver (qcow2, QED) shares: slicing a
 * request's iovecs per cluster, reading the backing node, opening it.
 * Request helpers run in the request's coroutine; opening on the main
 * thread. No state of their own. */
#ifndef BLOCK_FORMAT_H
#define BLOCK_FORMAT_H

#include "co.h"
#include "driver.h"

/* Deepest backing chain opened (the top image counts). */
#define BLK_MAX_CHAIN 16

/* The iovecs covering [off, off + len) of req's data, into out (room
 * for req->iovcnt); their count. */
unsigned blk_req_slice(const struct blk_req *req, uint64_t off, uint64_t len,
		       struct iovec *out);
void blk_iov_zero(struct iovec *iov, unsigned n);

/* Reads guest [g, g + len) of node's backing node into iov; without one,
 * or past its end, zeroes. */
int blk_co_read_backing(struct blk_co *co, struct blk_node *node, uint64_t g,
			uint64_t len, struct iovec *iov, unsigned n);

/* Opens node->backing read-only: name as the image stores it (relative
 * to the image's folder), format as recorded (NULL: qcow2 or QED by
 * their magic, else raw: read-only, a raw guess writes nothing). Refuses
 * a chain that loops back or is deeper than BLK_MAX_CHAIN, naming the
 * file; a failure's message is the backing node's own. */
int blk_open_backing(struct blk_node *node, struct blk_opts *o,
		     const char *name, const char *format);

/* Records the image just opened (node->file's host file) in o's chain,
 * for its backing file's loop check. */
void blk_chain_note(struct blk_node *node, struct blk_opts *o);

#endif
