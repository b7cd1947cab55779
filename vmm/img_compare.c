/* `vmm img compare`: whether two images read the same, as `qemu-img
 * compare` (QEMU 7.2's img_compare) decides and says it: the common
 * part is walked by allocation status through each backing chain
 * (vmm/img_status.c); ranges zero in both are skipped, ranges allocated
 * in both are read and compared 512 B sector by sector, a range
 * allocated in one only must read as zeroes there; past the shorter
 * image the longer one must read as zeroes ("Warning: Image size
 * mismatch!"). With -s the sizes and every range's status must match
 * too. The first difference is reported at the offset of its sector.
 * The reads go through the block layer, DEPTH ranges (two requests each)
 * in flight, the results taken in order. Exit 0 identical, 1 different,
 * 2 an image that cannot be opened, 3 a status that cannot be read, 4 a
 * read error. Main thread only; the state is this call's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_priv.h"
#include "lib/log.h"

#define IO_BUF (2u << 20) /* qemu-img's IO_BUF_SIZE */
#define DEPTH 4
#define SECTOR 512

enum item_kind {
	CMP,	   /* both allocated: read both, compare */
	EMPTY,	   /* allocated in image `which` only: must be zeroes */
	WARN,	   /* the sizes differ: the longer part follows */
	STRICT,	   /* -s: the statuses differ */
	STATUS_ERR /* image `which`'s status could not be read */
};

struct image {
	const char *path;
	struct blk_node node;
	struct img_layer *chain;
	uint64_t size; /* as QEMU has it (raw: up to 512) */
};

struct slot {
	enum item_kind kind;
	unsigned which;
	uint64_t off, len;
	struct img_io io[2];
};

struct walk {
	struct image *img[2];
	bool strict;
	uint64_t off, total;
	bool over, done;
};

/* The next item in order, or false at the end. */
static bool next_item(struct walk *w, struct slot *s)
{
	while (!w->done) {
		uint64_t p0, p1, chunk;
		int s0, s1;

		s->off = w->off;
		if (w->over) {
			unsigned o = w->img[0]->size > w->img[1]->size ? 0 : 1;

			if (w->off >= w->img[o]->size)
				break;
			s0 = img_status_above(w->img[o]->chain, w->off,
					      w->img[o]->size - w->off, &chunk);
			if (s0 < 0 || !chunk) {
				s->kind = STATUS_ERR;
				s->which = o;
				w->done = true;
				return true;
			}
			w->off += chunk;
			if ((s0 & IMG_BS_ALLOCATED) && !(s0 & IMG_BS_ZERO)) {
				s->kind = EMPTY;
				s->which = o;
				s->len = chunk < IO_BUF ? chunk : IO_BUF;
				w->off = s->off + s->len;
				return true;
			}
			continue;
		}
		if (w->off >= w->total) {
			if (w->img[0]->size == w->img[1]->size)
				break;
			w->over = true;
			s->kind = WARN;
			return true;
		}
		s0 = img_status_above(w->img[0]->chain, w->off,
				      w->img[0]->size - w->off, &p0);
		s1 = s0 < 0 ? 0
			    : img_status_above(w->img[1]->chain, w->off,
					       w->img[1]->size - w->off, &p1);
		if (s0 < 0 || s1 < 0 || !p0 || !p1) {
			s->kind = STATUS_ERR;
			s->which = s0 < 0 || !p0 ? 0 : 1;
			w->done = true;
			return true;
		}
		chunk = p0 < p1 ? p0 : p1;
		if (w->strict && s0 != s1) {
			s->kind = STRICT;
			w->done = true;
			return true;
		}
		if ((s0 & IMG_BS_ZERO) && (s1 & IMG_BS_ZERO)) {
			w->off += chunk;
			continue;
		}
		if ((s0 & IMG_BS_ALLOCATED) == (s1 & IMG_BS_ALLOCATED) &&
		    !(s0 & IMG_BS_ALLOCATED)) {
			w->off += chunk;
			continue;
		}
		s->kind = (s0 & IMG_BS_ALLOCATED) == (s1 & IMG_BS_ALLOCATED)
				  ? CMP
				  : EMPTY;
		s->which = s0 & IMG_BS_ALLOCATED ? 0 : 1;
		s->len = chunk < IO_BUF ? chunk : IO_BUF;
		w->off += s->len;
		return true;
	}
	w->done = true;
	return false;
}

/* Reads [off, off + len) of image i into io; past the node's end (a raw
 * file whose size is not a multiple of 512) zeroes. */
static int start_read(struct blk_ctx *ctx, struct image *img, struct img_io *io,
		      uint64_t off, uint64_t len)
{
	uint64_t have = off < img->node.size ? img->node.size - off : 0;

	io->result = 0;
	io->busy = false;
	if (have < len)
		memset(io->buf + have, 0, len - have);
	if (!have)
		return 0;
	return img_start(ctx, &img->node, io, BLK_OP_READ, off,
			 have < len ? have : len);
}

static int start_item(struct blk_ctx *ctx, struct walk *w, struct slot *s)
{
	int r = 0;

	s->io[0].result = s->io[1].result = 0;
	if (s->kind == CMP)
		r = start_read(ctx, w->img[0], &s->io[0], s->off, s->len)
			    ?: start_read(ctx, w->img[1], &s->io[1], s->off,
					  s->len);
	else if (s->kind == EMPTY)
		r = start_read(ctx, w->img[s->which], &s->io[s->which], s->off,
			       s->len);
	return r;
}

/* qemu-img's compare_buffers: the first sector that differs. */
static uint64_t first_diff(const uint8_t *a, const uint8_t *b, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += SECTOR) {
		uint64_t n = len - i < SECTOR ? len - i : SECTOR;

		if (memcmp(a + i, b + i, n))
			return i;
	}
	return len;
}

static uint64_t first_nonzero(const uint8_t *a, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += SECTOR) {
		uint64_t n = len - i < SECTOR ? len - i : SECTOR;

		if (!img_all_zero(a + i, n))
			return i;
	}
	return len;
}

/* The item's verdict: 0 go on, else the exit status (after its line). */
static int finish_item(struct blk_ctx *ctx, struct walk *w, struct slot *s,
		       bool quiet)
{
	uint64_t at = s->len;

	for (unsigned i = 0; i < 2; i++) {
		int r = img_wait(ctx, &s->io[i]);

		if (r) {
			log_error("img compare: %s: error while reading offset "
				  "%" PRIu64 ": %s",
				  w->img[i]->path, s->off, strerror(-r));
			return 4;
		}
	}
	switch (s->kind) {
	case CMP: at = first_diff(s->io[0].buf, s->io[1].buf, s->len); break;
	case EMPTY: at = first_nonzero(s->io[s->which].buf, s->len); break;
	case WARN:
		if (!quiet)
			printf("Warning: Image size mismatch!\n");
		return 0;
	case STRICT:
		if (!quiet)
			printf("Strict mode: Offset %" PRIu64
			       " block status mismatch!\n",
			       s->off);
		return 1;
	case STATUS_ERR:
		log_error("img compare: %s: reading the allocation status at "
			  "offset %" PRIu64 " failed (corrupt image)",
			  w->img[s->which]->path, s->off);
		return 3;
	}
	if (at == s->len)
		return 0;
	if (!quiet)
		printf("Content mismatch at offset %" PRIu64 "!\n",
		       s->off + at);
	return 1;
}

static int walk_all(struct blk_ctx *ctx, struct walk *w, bool quiet, bool show)
{
	struct slot slots[DEPTH] = { 0 };
	unsigned head = 0, count = 0;
	uint64_t progress_base = w->img[0]->size > w->img[1]->size
					 ? w->img[0]->size
					 : w->img[1]->size;
	int status = 0;

	for (unsigned i = 0; i < DEPTH; i++)
		for (unsigned j = 0; j < 2; j++)
			if (posix_memalign((void **)&slots[i].io[j].buf, 4096,
					   IO_BUF))
				status = 2;
	if (status)
		log_error("img compare: out of memory");
	while (!status) {
		while (count < DEPTH) {
			struct slot *s = &slots[(head + count) % DEPTH];
			int r;

			if (!next_item(w, s))
				break;
			r = start_item(ctx, w, s);
			count++;
			if (r) {
				log_error("img compare: %s: %s",
					  w->img[0]->path, strerror(-r));
				status = 4;
				break;
			}
		}
		if (!count || status)
			break;
		status = finish_item(ctx, w, &slots[head], quiet);
		img_progress(show, slots[head].off + slots[head].len,
			     progress_base);
		head = (head + 1) % DEPTH;
		count--;
	}
	/* Nothing may be left in flight. */
	for (unsigned i = 0; i < DEPTH; i++)
		for (unsigned j = 0; j < 2; j++) {
			if (slots[i].io[j].busy)
				img_wait(ctx, &slots[i].io[j]);
			free(slots[i].io[j].buf);
		}
	if (show)
		fprintf(stderr, "\n");
	if (!status && !quiet)
		printf("Images are identical.\n");
	return status;
}

int img_compare(const char *path1, const char *path2, const char *fmt1,
		const char *fmt2, bool strict, bool quiet, bool show)
{
	struct image img[2] = { { .path = path1 }, { .path = path2 } };
	const char *fmt[2] = { fmt1, fmt2 };
	struct walk w = { .img = { &img[0], &img[1] }, .strict = strict };
	struct blk_ctx ctx;
	unsigned opened = 0;
	int status = 0, r;

	for (; opened < 2; opened++) {
		char why[512];

		if (img_open(&img[opened].node, img[opened].path, fmt[opened],
			     false)) {
			status = 2;
			break;
		}
		if (img_chain_open(img[opened].path, fmt[opened],
				   &img[opened].chain, why, sizeof(why))) {
			log_error("img compare: %s", why);
			blk_close(&img[opened].node);
			status = 2;
			break;
		}
		img[opened].size = img[opened].chain->size;
	}
	if (!status) {
		w.total = img[0].size < img[1].size ? img[0].size : img[1].size;
		if (strict && img[0].size != img[1].size) {
			if (!quiet)
				printf("Strict mode: Image size mismatch!\n");
			status = 1;
		}
	}
	if (!status) {
		r = blk_ctx_init(&ctx, 4 * DEPTH * 4);
		if (r) {
			log_error("img compare: io_uring: %s", strerror(-r));
			status = 2;
		} else {
			status = walk_all(&ctx, &w, quiet, show);
			blk_ctx_destroy(&ctx);
		}
	}
	while (opened--) {
		img_chain_close(img[opened].chain);
		blk_close(&img[opened].node);
	}
	return status;
}
