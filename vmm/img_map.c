/* `vmm img map`: where an image's data is, range by range, as
 * `qemu-img map` prints it (QEMU 7.2's img_map, get_block_status and
 * dump_map_entry): each range's status from the first image of the
 * backing chain that has it (vmm/img_status.c), its depth in the chain,
 * adjacent ranges merged when everything but their start agrees. Main
 * thread only; the chain and the entries are this call's own. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "img_priv.h"
#include "lib/log.h"

struct map_entry {
	uint64_t start, length, offset;
	unsigned depth;
	bool present, zero, data, has_offset;
	const char *filename; /* NULL: none */
};

/* The status of [off, off + bytes) from the first layer that has it. */
static int get_status(struct img_layer *top, uint64_t off, uint64_t bytes,
		      struct map_entry *e)
{
	struct img_layer *l = top, *file = NULL;
	uint64_t map = 0, pnum;
	unsigned depth = 0;
	int ret;

	for (;;) {
		ret = img_layer_status(l, off, bytes, &pnum, &map, &file);
		if (ret < 0)
			return ret;
		if (!pnum)
			return -EIO;
		bytes = pnum;
		if (ret & (IMG_BS_ZERO | IMG_BS_DATA))
			break;
		l = l->backing;
		if (!l) {
			ret = 0;
			break;
		}
		depth++;
	}
	*e = (struct map_entry){
		.start = off,
		.length = bytes,
		.data = ret & IMG_BS_DATA,
		.zero = ret & IMG_BS_ZERO,
		.offset = map,
		.has_offset = ret & IMG_BS_OFFSET_VALID,
		.depth = depth,
		.present = ret & IMG_BS_ALLOCATED,
		.filename =
			(ret & IMG_BS_OFFSET_VALID) && file ? file->name : NULL,
	};
	return 0;
}

static bool mergeable(const struct map_entry *a, const struct map_entry *b)
{
	if (!a->length || a->zero != b->zero || a->data != b->data ||
	    a->depth != b->depth || a->present != b->present ||
	    !a->filename != !b->filename || a->has_offset != b->has_offset)
		return false;
	if (a->filename && strcmp(a->filename, b->filename))
		return false;
	return !a->has_offset || a->offset + a->length == b->offset;
}

static int dump(const char *path, bool json, const struct map_entry *e,
		struct map_entry *next)
{
	if (json) {
		printf("{ \"start\": %" PRIu64 ", \"length\": %" PRIu64
		       ", \"depth\": %u, \"present\": %s, \"zero\": %s, "
		       "\"data\": %s",
		       e->start, e->length, e->depth,
		       e->present ? "true" : "false",
		       e->zero ? "true" : "false", e->data ? "true" : "false");
		if (e->has_offset)
			printf(", \"offset\": %" PRIu64, e->offset);
		putchar('}');
		if (next)
			puts(",");
		return 0;
	}
	if (e->data && !e->has_offset) {
		fflush(stdout);
		log_error("img map: %s: compressed clusters have no offset to "
			  "show in the human format (use --output=json)",
			  path);
		return -1;
	}
	if (e->data && !e->zero)
		printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
		       e->start, e->length, e->has_offset ? e->offset : 0,
		       e->filename ? e->filename : "");
	/* As qemu-img: the human format does not tell zeroes from
	 * unallocated ranges, so they merge. */
	if (next && (!next->data || next->zero)) {
		next->data = false;
		next->zero = true;
	}
	return 0;
}

int img_map(const char *path, const char *fmt, bool json)
{
	struct map_entry curr = { 0 }, next;
	struct img_layer *top;
	uint64_t length;
	char why[512];
	int r = 0;

	if (img_chain_open(path, fmt, &top, why, sizeof(why))) {
		log_error("img map: %s", why);
		return 1;
	}
	length = top->size;
	if (json)
		putchar('[');
	else
		printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to",
		       "File");
	while (curr.start + curr.length < length) {
		uint64_t off = curr.start + curr.length;

		r = get_status(top, off, length - off, &next);
		if (r) {
			fflush(stdout);
			log_error("img map: %s: reading the tables at guest "
				  "offset %" PRIu64 ": %s",
				  path, off,
				  r == -EIO || r == -EINVAL ? "corrupt image"
							    : strerror(-r));
			break;
		}
		if (mergeable(&curr, &next)) {
			curr.length += next.length;
			continue;
		}
		if (curr.length && (r = dump(path, json, &curr, &next)))
			break;
		curr = next;
	}
	if (!r)
		r = dump(path, json, &curr, NULL);
	if (!r && json)
		puts("]");
	img_chain_close(top);
	return r ? 1 : 0;
}
