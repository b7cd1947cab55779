/* virtio-9p's quiesce, resume, save and restore (9p_state.h): the session
 * cut into chunk sections and put back together. Quiesce, save and resume
 * run on the thread saving the VM with the vCPUs parked, the queue
 * worker paused and the dispatch drained; restore on the main thread
 * before any vCPU runs, the chunks collected in p->incoming (main thread
 * only, no lock). The device core's state is under vd->lock
 * (virtio_state.c). */
#include "9p_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "9p.h"
#include "fs9p/session_state.h"
#include "lib/log.h"
#include "virtio_state.h"

_Static_assert(sizeof(struct v9p_chunk_header) == 280, "stream layout");
_Static_assert(V9P_STATE_TAG_FIELD > V9P_TAG_MAX, "the tag fits");

int v9p_state_put(struct stream_writer *w, unsigned index, const char *tag,
		  const uint8_t *buf, size_t len)
{
	size_t tag_len = strlen(tag);
	uint32_t count =
		len ? (uint32_t)((len + V9P_CHUNK_DATA - 1) / V9P_CHUNK_DATA)
		    : 1;
	struct v9p_chunk_header *h;
	int r = 0;

	if (len > V9P_STATE_MAX)
		return -EFBIG;
	if (tag_len >= V9P_STATE_TAG_FIELD)
		return -EINVAL;
	h = malloc(V9P_SECTION_MAX);
	if (!h)
		return -ENOMEM;
	for (uint32_t i = 0; i < count && !r; i++) {
		size_t off = (size_t)i * V9P_CHUNK_DATA;
		size_t n =
			len - off < V9P_CHUNK_DATA ? len - off : V9P_CHUNK_DATA;

		memset(h, 0, sizeof(*h));
		h->magic = V9P_STATE_MAGIC;
		h->index = i;
		h->count = count;
		h->tag_len = (uint16_t)tag_len;
		h->total = len;
		memcpy(h->tag, tag, tag_len);
		if (n)
			memcpy(h + 1, buf + off, n);
		r = stream_put_section(w, STREAM_SEC_DEVICE, index,
				       V9P_STATE_VERSION, h, sizeof(*h) + n);
	}
	free(h);
	return r;
}

void v9p_incoming_free(struct v9p_incoming *in)
{
	free(in->buf);
	memset(in, 0, sizeof(*in));
}

static int bad(struct v9p_incoming *in, char *why, size_t why_len,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(struct v9p_incoming *in, char *why, size_t why_len,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	v9p_incoming_free(in);
	return -EPROTO;
}

static bool zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The header of s, checked against this device and the chunks so far. */
static int check_header(struct v9p_incoming *in, const char *tag,
			const struct stream_section *s,
			struct v9p_chunk_header *h, char *why, size_t why_len)
{
	size_t tag_len = strlen(tag);
	uint64_t want_count, data = s->len - sizeof(*h), want_data;

	memcpy(h, s->payload, sizeof(*h));
	if (h->magic != V9P_STATE_MAGIC)
		return bad(in, why, why_len, "not a 9p session chunk");
	if (h->tag_len != tag_len || memcmp(h->tag, tag, tag_len) ||
	    !zeros(h->tag + tag_len, sizeof(h->tag) - tag_len) || h->reserved)
		return bad(in, why, why_len,
			   "a session chunk of another share (tag '%.*s')",
			   h->tag_len < sizeof(h->tag) ? (int)h->tag_len
						       : (int)sizeof(h->tag),
			   (const char *)h->tag);
	if (in->done)
		return bad(in, why, why_len, "the session given twice");
	if (h->total > V9P_STATE_MAX)
		return bad(in, why, why_len,
			   "a session of %llu bytes, at most %llu",
			   (unsigned long long)h->total, V9P_STATE_MAX);
	want_count =
		h->total ? (h->total + V9P_CHUNK_DATA - 1) / V9P_CHUNK_DATA : 1;
	if (h->count != want_count)
		return bad(in, why, why_len,
			   "%u chunks for %llu bytes (%llu expected)", h->count,
			   (unsigned long long)h->total,
			   (unsigned long long)want_count);
	if (h->index != in->next)
		return bad(in, why, why_len, "chunk %u where %u was expected",
			   h->index, in->next);
	if (in->next && (h->count != in->count || h->total != in->total))
		return bad(in, why, why_len,
			   "chunk %u of %u (%llu bytes) after chunks of %u "
			   "(%llu bytes)",
			   h->index, h->count, (unsigned long long)h->total,
			   in->count, (unsigned long long)in->total);
	want_data = h->index + 1 < h->count
			    ? V9P_CHUNK_DATA
			    : h->total - (uint64_t)h->index * V9P_CHUNK_DATA;
	if (data != want_data)
		return bad(in, why, why_len,
			   "chunk %u of %u holds %llu bytes, %llu expected",
			   h->index, h->count, (unsigned long long)data,
			   (unsigned long long)want_data);
	return 0;
}

int v9p_state_collect(struct v9p_incoming *in, const char *tag,
		      const struct stream_section *s, char *why, size_t why_len)
{
	struct v9p_chunk_header h;
	uint64_t data;
	uint8_t *p;
	int r;

	if (s->version != V9P_STATE_VERSION)
		return bad(in, why, why_len,
			   "version %u; this vmm reads version %u", s->version,
			   V9P_STATE_VERSION);
	if (s->len < sizeof(h) || s->len > V9P_SECTION_MAX)
		return bad(in, why, why_len, "a section of %llu bytes",
			   (unsigned long long)s->len);
	if ((r = check_header(in, tag, s, &h, why, why_len)))
		return r;
	data = s->len - sizeof(h);
	if (data) {
		p = realloc(in->buf, in->len + data);
		if (!p) {
			v9p_incoming_free(in);
			snprintf(why, why_len, "out of memory");
			return -ENOMEM;
		}
		memcpy(p + in->len, s->payload + sizeof(h), data);
		in->buf = p;
		in->len += data;
	}
	in->count = h.count;
	in->total = h.total;
	in->next = h.index + 1;
	if (in->next < in->count)
		return 0;
	in->done = true;
	return 1;
}

int v9p_quiesce(struct v9p *p)
{
	virtio_quiesce(&p->vdev);
	/* The paused worker pushed every request it had submitted, so this
	 * returns at once; it makes "nothing in flight" this file's own
	 * guarantee to fs9p_session_save. */
	if (p->have_dispatch)
		fs9p_dispatch_drain(&p->dispatch);
	return 0;
}

void v9p_resume(struct v9p *p)
{
	virtio_resume(&p->vdev);
}

int v9p_save(struct v9p *p, struct stream_writer *w, unsigned index)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256];
	int r = 0;

	if (p->session)
		r = fs9p_session_save(p->session, &buf, &len, why, sizeof(why));
	if (!r && len > V9P_STATE_MAX) {
		snprintf(why, sizeof(why),
			 "its session state is %zu bytes, at most %llu", len,
			 V9P_STATE_MAX);
		r = -EFBIG;
	}
	if (r) {
		log_error("9p %s: cannot be saved: %s", p->cfg.tag, why);
		free(buf);
		return r;
	}
	r = v9p_state_put(w, index, p->cfg.tag, buf, len);
	free(buf);
	return r ? r : virtio_state_save(&p->vdev, w, index);
}

static int apply(struct v9p *p)
{
	struct v9p_incoming *in = &p->incoming;
	char why[256];
	int r = 0;

	if (in->total && !p->session) {
		snprintf(why, sizeof(why), "the device has no session");
		r = -EPROTO;
	} else if (in->total) {
		r = fs9p_session_restore(p->session, in->buf, in->len, why,
					 sizeof(why));
	}
	free(in->buf);
	in->buf = NULL;
	in->len = 0;
	if (r)
		log_error("incoming state: 9p %s: %s", p->cfg.tag, why);
	return r;
}

int v9p_restore(struct v9p *p, const struct stream_section *s)
{
	char why[256];
	int r;

	if (virtio_state_is(s)) {
		if (!p->incoming.done) {
			log_error("incoming state: 9p %s: the device's state "
				  "before its session's last chunk",
				  p->cfg.tag);
			return -EPROTO;
		}
		return virtio_state_restore(&p->vdev, s);
	}
	r = v9p_state_collect(&p->incoming, p->cfg.tag, s, why, sizeof(why));
	if (r < 0) {
		log_error("incoming state: 9p %s: %s", p->cfg.tag, why);
		return r;
	}
	return r ? apply(p) : 0;
}
