/* virtio-9p: a host directory shared with the guest over 9P2000.L (the
 * Linux guest mounts it with `mount -t 9p -o trans=virtio TAG DIR`).
 * Device id 9, feature VIRTIO_9P_MOUNT_TAG, configuration space le16
 * tag length + tag bytes, one request queue.
 *
 * The queue is served by a worker (queue_worker.h, thread "9pN-q0"),
 * which pops chains and submits each as one 9p request to the session's
 * dispatch (fs9p/dispatch.h, threads "9pN-wM"), whose workers run the
 * file system calls; finished requests come back on a completion list
 * and an eventfd the queue worker waits on, and only the queue worker
 * pushes them. A request alone in flight (a serial client) is run by
 * the queue worker itself, without the two hand-offs. The session lives
 * as long as the device; a device reset replaces it (every fid clunked),
 * as QEMU does. Snapshots and live migration carry the session over
 * (9p_state.h): the guest's open files stay open on a destination that
 * shares the same host directory by path; record locks are not carried
 * over (a save is refused while one is held). */
#ifndef DEVICES_VIRTIO_9P_H
#define DEVICES_VIRTIO_9P_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs9p/dispatch.h"
#include "9p_state.h"
#include "fs9p/fs9p.h"
#include "queue_worker.h"
#include "virtio.h"

/* QueueNumMax: the core refuses a larger queue, so a head always
 * indexes slots[]. */
#define V9P_QUEUE_SIZE 128
#define V9P_TAG_MAX 255 /* Linux reads the tag into a string; QEMU: 2^16-1 */
#define V9P_WORKERS 4	/* dispatch threads: file system calls at once */

struct v9p_config {
	const char *path;
	const char *tag; /* 1 .. V9P_TAG_MAX bytes */
	enum fs9p_security security;
	bool readonly;
	enum sandbox_mode seccomp; /* of the device's threads; not an option */
};

/* One request in flight, indexed by its descriptor head. */
struct v9p_slot {
	struct fs9p_req req;
	struct iovec iov[VQ_MAX_SEGS]; /* the chain's, readable then writable */
	struct v9p_slot *next_done;
	uint16_t head;
	bool busy; /* a driver that reuses a busy head breaks the queue */
};

struct v9p {
	struct v9p_config cfg;
	unsigned index;
	size_t tag_len;
	struct fs9p_export *export;
	/* Replaced on reset while the queue worker is stopped. */
	struct fs9p_session *session;
	struct sandbox_role role; /* of the queue thread and the workers */
	struct sandbox_filter sandbox;
	struct fs9p_dispatch dispatch;
	bool have_dispatch, have_worker;
	struct virtio_dev vdev;
	struct vq_worker worker;
	int kick_fd;
	int done_fd; /* signalled by the dispatch's done callback */
	/* Finished requests not yet pushed, under done_lock. */
	pthread_mutex_t done_lock;
	pthread_cond_t done_cond;
	struct v9p_slot *done_head, *done_tail;
	uint64_t bad_chains; /* atomic: chains answered empty */
	/* A restore's session chunks (9p_state.h), main thread only. */
	struct v9p_incoming incoming;
	/* Queue worker thread only. */
	struct virtqueue *vq;
	struct vq_chain chain;
	unsigned inflight; /* submitted, not pushed */
	struct v9p_slot slots[V9P_QUEUE_SIZE];
};

/* Opens the export, creates the session, the dispatch, the eventfds and
 * the queue worker (idle until DRIVER_OK). 0 or -errno after one log line
 * naming the directory; afterwards (even after a failure) v9p_destroy
 * releases what was created. */
int v9p_init(struct v9p *p, const struct v9p_config *cfg, unsigned index,
	     const struct guest_mem *mem);
void v9p_destroy(struct v9p *p);

/* QueueNotify without an ioeventfd: wakes the queue's worker. */
void v9p_kick(struct v9p *p, unsigned queue);

/* Requests the guest made, how many got an error or no reply, and the
 * most that were in flight at once. */
struct v9p_counts {
	uint64_t requests, errors;
	unsigned peak_inflight;
};
void v9p_counts(const struct v9p *p, struct v9p_counts *c);

extern const struct virtio_device_ops v9p_ops;

/* The sandbox of the device's queue thread and workers. */
void v9p_sandbox_role(enum fs9p_security security, struct sandbox_role *role);

#endif
