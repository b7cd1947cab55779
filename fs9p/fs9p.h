/* fs9p: a 9P2000.L file server core with no transport in it. A transport
 * (the virtio-9p device, `vmm 9p-serve`'s sockets, a unit test, a fuzzer)
 * hands it one T-message and gets one R-message back.
 *
 * An export is one host directory under one security model; every name a
 * client sends is resolved beneath the export's root directory fd, so
 * nothing a client sends can reach a host path outside it. A session is
 * one client connection (one virtio device, one socket): its negotiated
 * msize and its fid table.
 *
 * Threads: fs9p_handle may run on several threads at once for the same
 * session (the transports run requests in parallel on worker threads);
 * the session's fid table and the export's QID map have their own locks.
 * Export and session creation and freeing run on one thread while no
 * request is being handled. */
#ifndef FS9P_FS9P_H
#define FS9P_FS9P_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FS9P_MSIZE_MAX (1u << 20) /* largest msize a session accepts */
#define FS9P_MSIZE_MIN 4096	  /* the Linux client refuses less */
#define FS9P_HDR_SIZE 7		  /* size[4] type[1] tag[2] */

/* Message types the transports need to know about. */
#define FS9P_TVERSION 100
#define FS9P_TFLUSH 108
#define FS9P_RFLUSH 109

enum fs9p_security {
	FS9P_PASSTHROUGH, /* host uid/gid/mode as they are (needs root) */
	FS9P_MAPPED,	  /* guest credentials in user.virtfs.* xattrs */
};

struct fs9p_export_config {
	const char *path; /* host directory */
	enum fs9p_security security;
	bool readonly;
};

struct fs9p_export;
struct fs9p_session;

/* Opens the export's root directory. 0 or -errno (-ENOENT, -ENOTDIR,
 * -EACCES for a bad path; -EPERM for passthrough without the privilege
 * it needs); logs nothing, the caller names the option. */
int fs9p_export_open(const struct fs9p_export_config *cfg,
		     struct fs9p_export **out);
void fs9p_export_close(struct fs9p_export *ex);

/* A session on ex accepting an msize up to max_msize (at most
 * FS9P_MSIZE_MAX). 0 or -ENOMEM. */
int fs9p_session_new(struct fs9p_export *ex, uint32_t max_msize,
		     struct fs9p_session **out);
/* Clunks every fid. */
void fs9p_session_free(struct fs9p_session *s);

/* One request as the transport holds it. in[0..nin) holds the T-message
 * (in_len bytes from its size field on; a guest's buffers may split it
 * anywhere), out[0..nout) the space for the R-message (out_len bytes).
 * The iovecs point into guest RAM or a socket buffer; the core reads and
 * writes them directly (Twrite's data goes from in to the file, Rread's
 * from the file to out, with no copy in between). */
struct fs9p_msg {
	const struct iovec *in;
	unsigned nin;
	size_t in_len;
	const struct iovec *out;
	unsigned nout;
	size_t out_len;
};

/* Handles one T-message and writes its R-message into m->out; returns the
 * R-message's length. Anything malformed, truncated, unknown or bigger
 * than the session's msize gets an Rlerror (EINVAL, EOPNOTSUPP, ...),
 * never a crash. Returns 0 only when out cannot hold even an Rlerror
 * (the transport then drops the request). Tflush is the transport's
 * business (fs9p_peek, fs9p_reply_flush): handed here it gets Rflush. */
size_t fs9p_handle(struct fs9p_session *s, const struct fs9p_msg *m);

/* The header of a T-message: its type and tag, and for Tflush the tag it
 * flushes (*oldtag is left alone for other types). 0, or -EINVAL when the
 * message is shorter than its header (or a Tflush than its body). */
int fs9p_peek(const struct fs9p_msg *m, uint8_t *type, uint16_t *tag,
	      uint16_t *oldtag);

/* Writes Rflush for tag into m->out; its length, or 0 when out is too
 * small. */
size_t fs9p_reply_flush(const struct fs9p_msg *m, uint16_t tag);

/* The msize the session negotiated (the transport's buffers follow it);
 * max_msize before the first Tversion. */
uint32_t fs9p_session_msize(const struct fs9p_session *s);

/* sandbox.c: the system calls a thread running fs9p_handle makes (for
 * its sandbox role), and the capabilities such a thread keeps when it
 * has them and the export is passthrough (none otherwise). */
int fs9p_rules(scmp_filter_ctx ctx);
extern const uint64_t fs9p_passthrough_caps;

#endif
