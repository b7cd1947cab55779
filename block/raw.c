/* The raw format over its file child. Open and close on the main thread;
 * submit on the thread that owns the blk_ctx. No state of its own. */
#include "driver.h"

static int raw_fmt_open(struct blk_node *node, struct blk_opts *o)
{
	int r = blk_open_child(&node->file, "file", o);

	if (r)
		return r;
	node->size = node->file->size;
	node->block_size = node->file->block_size;
	node->readonly = node->file->readonly;
	node->can_discard = node->file->can_discard;
	return 0;
}

/* The same request goes down: no copy, no SQE of its own, so raw over
 * file costs one indirect call per request over file alone. */
static int raw_submit(struct blk_node *node, struct blk_ctx *ctx,
		      struct blk_req *req)
{
	return blk_forward(node->file, ctx, req);
}

const struct blk_driver blk_raw_driver = {
	.name = "raw",
	.kind = BLK_DRV_FORMAT,
	.open = raw_fmt_open,
	.submit = raw_submit,
};
