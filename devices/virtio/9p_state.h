/* virtio-9p's part in snapshots and live migration: quiescing (the queue
 * stops at a safe point and the dispatch is drained, so the session has
 * no request in flight), resuming, and the device's sections: its 9p
 * session (fs9p/session_state.h: every fid with its path, open flags,
 * readdir position, xattr buffer) cut into chunks, then the virtio core
 * and transport's (virtio_state.h), whose restore starts the device.
 *
 * A chunk is one STREAM_SEC_DEVICE section, version V9P_STATE_VERSION:
 * struct v9p_chunk_header (magic, chunk index and count, the session's
 * total length, the device's tag), then the session's bytes
 * [index * V9P_CHUNK_DATA, +V9P_CHUNK_DATA), the last chunk holding the
 * rest: a device section is at most 1 MiB (stream_section_max) and a
 * session can be larger (xattr fids hold up to 64 KiB each). A session
 * of more than V9P_STATE_MAX bytes is refused at the save. Restore takes
 * the chunks as hostile input: in order from index 0, each with this
 * device's tag, the same count and total, the count the one the total
 * implies, every chunk full but the last; the virtio section must come
 * after the last chunk (then the session has been restored, into the
 * fresh session the device opened at creation, which the device's
 * activation keeps).
 *
 * A device whose session could not be created at the guest's last reset
 * (out of memory; the next DRIVER_OK tries again, and until then the
 * device cannot have started) is saved as an empty session (total 0, one
 * chunk without data): the destination's fresh session is what the
 * source's next DRIVER_OK would have made.
 *
 * Record locks (Tlock, held on the host as open-file-description locks
 * of the fids' open files) are not carried over: the save is refused
 * (fs9p_session_save's -EBUSY) while any opened fid holds one.
 *
 * Threads: quiesce, save and resume on the thread saving the VM with the
 * vCPUs parked (the session is saved on that thread while the queue
 * worker is paused and the dispatch idle); restore on the main thread
 * before any vCPU runs. The collected chunks (struct v9p_incoming) are
 * the main thread's; no lock. */
#ifndef DEVICES_VIRTIO_9P_STATE_H
#define DEVICES_VIRTIO_9P_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/stream.h"

#define V9P_STATE_VERSION 1
#define V9P_STATE_MAGIC 0x53503956u /* "V9PS" */
#define V9P_STATE_TAG_FIELD 256	    /* V9P_TAG_MAX + 1, zero-padded */
/* A section's payload at most (stream_section_max of a DEVICE section). */
#define V9P_SECTION_MAX (1u << 20)
#define V9P_CHUNK_DATA (V9P_SECTION_MAX - sizeof(struct v9p_chunk_header))
#define V9P_STATE_MAX (256ull << 20)

struct v9p_chunk_header {
	uint32_t magic; /* V9P_STATE_MAGIC */
	uint32_t index; /* 0 .. count - 1 */
	uint32_t count; /* chunks of this session */
	uint16_t tag_len;
	uint16_t reserved;		  /* 0 */
	uint64_t total;			  /* the session's bytes, all chunks */
	uint8_t tag[V9P_STATE_TAG_FIELD]; /* tag_len bytes, zeros after */
};

/* The chunks received so far (restore). */
struct v9p_incoming {
	uint8_t *buf; /* received bytes, grown chunk by chunk */
	uint64_t len, total;
	uint32_t next, count; /* the next index expected; 0: none yet */
	bool done;	      /* the last chunk came and was applied */
};

/* Pure: the sections of a session of len bytes (buf may be NULL when len
 * is 0) for the device with this tag, instance index. 0 or -errno (the
 * writer's; -EFBIG above V9P_STATE_MAX). */
int v9p_state_put(struct stream_writer *w, unsigned index, const char *tag,
		  const uint8_t *buf, size_t len);

/* Pure: takes chunk s for the device with tag; 0 when more chunks are
 * expected, 1 when s was the last one (in->buf holds in->len ==
 * in->total bytes, possibly NULL for 0), -EPROTO with why filled in (in
 * is then freed and reset). */
int v9p_state_collect(struct v9p_incoming *in, const char *tag,
		      const struct stream_section *s, char *why,
		      size_t why_len);
void v9p_incoming_free(struct v9p_incoming *in);

struct v9p;
/* virtio_quiesce, then the dispatch drained. Always 0. */
int v9p_quiesce(struct v9p *p);
void v9p_resume(struct v9p *p);
/* The session's chunks, then the virtio section. 0, or -errno after one
 * log line ("9p TAG: cannot be saved: why"). */
int v9p_save(struct v9p *p, struct stream_writer *w, unsigned index);
/* One section, in stream order: 0, or -EPROTO / -errno after one log
 * line. */
int v9p_restore(struct v9p *p, const struct stream_section *s);

#endif
