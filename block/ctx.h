/* Inside the block layer: a blk_ctx's pool of per-request state. */
#ifndef BLOCK_CTX_H
#define BLOCK_CTX_H

#include "block.h"

/* Gives req a zeroed state area of ctx->state_size bytes (none while
 * that is 0). 0 or -ENOMEM. */
int blk_state_get(struct blk_ctx *ctx, struct blk_req *req);
/* Returns req's state area to ctx's pool. */
void blk_state_put(struct blk_ctx *ctx, struct blk_req *req);

#endif
