/* A sorted set of file offsets, for the format drivers' overlap checks:
 * qcow2's metadata clusters (block/qcow2_overlap.c) and QED's L2 tables
 * (block/qed.c). Built at open on the main thread; afterwards read and
 * changed by the request coroutines of any ctx under the owning driver's
 * mutex (struct qcow2's or struct qed's mu). No lock of its own. */
#ifndef BLOCK_OFFSET_SET_H
#define BLOCK_OFFSET_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct offset_set {
	uint64_t *v; /* sorted, ascending */
	size_t n, cap;
};

bool offset_set_has(const struct offset_set *s, uint64_t off);
/* Whether [off, off + len) overlaps an element's [e, e + elem_len) (every
 * element elem_len long). */
bool offset_set_overlaps(const struct offset_set *s, uint64_t off, uint64_t len,
			 uint64_t elem_len);
/* Adds off where it sorts; one already in the set is not added again.
 * 0 or -ENOMEM. */
int offset_set_add(struct offset_set *s, uint64_t off);
void offset_set_free(struct offset_set *s);

/* Filling in bulk (an index made at open, one offset at a time in any
 * order): room for cap offsets (0 or -ENOMEM), offset_set_push for each,
 * then offset_set_sort before any other use. Duplicates pushed stay,
 * next to each other once sorted. */
int offset_set_reserve(struct offset_set *s, size_t cap);
static inline void offset_set_push(struct offset_set *s, uint64_t off)
{
	s->v[s->n++] = off; /* within the room reserved */
}
void offset_set_sort(struct offset_set *s);

#endif
