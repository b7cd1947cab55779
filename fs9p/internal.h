/* The server core's shared types: export, session, node (a shared host
 * fd), fid, the per-request context, and the functions the modules
 * offer each other. Locks: the fid table's shard mutexes (fid.c), each
 * fid's own mutex (its mutable fields), the QID map's rwlock (qid.c);
 * nodes are immutable once made and reference-counted. */
#ifndef FS9P_INTERNAL_H
#define FS9P_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs9p.h"
#include "wire.h"

/* One host fd: O_PATH for walked fids, a real open file after lopen or
 * lcreate. Shared by clones (a walk of zero names costs no fd). */
struct fs9p_node {
	atomic_uint refs;
	int fd;
	bool opath;
};

struct qid_map {
	pthread_rwlock_t lock;
	dev_t *devs; /* index = the qid.path prefix */
	unsigned ndevs, devcap;
	struct qid_big *big; /* (dev, ino) pairs that do not fit a prefix */
	size_t nbig, bigcap;
};

struct fs9p_export {
	struct fs9p_node *root;
	dev_t root_dev;
	ino_t root_ino;
	enum fs9p_security security;
	bool readonly;
	/* Passthrough without root: a new file keeps the server's owner
	 * when handing it to the client's uid is not allowed. */
	bool chown_best_effort;
	struct qid_map qids;
};

enum fid_kind {
	FID_PATH,	 /* walked: node is O_PATH */
	FID_OPEN,	 /* lopen/lcreate: node is an open file */
	FID_XATTR_READ,	 /* Txattrwalk: value or list in xbuf */
	FID_XATTR_WRITE, /* Txattrcreate: Twrite fills xbuf, Tclunk sets */
};

struct fs9p_fid {
	uint32_t id;
	atomic_uint refs;
	struct fs9p_fid *next; /* hash chain, under the shard lock */
	pthread_mutex_t lock;  /* every field below */
	enum fid_kind kind;
	struct fs9p_node *node;
	struct fs9p_node *parent; /* NULL when not known (root, "..") */
	char *name;		  /* last component under parent */
	/* The names it was reached by from the export root, joined by '/'
	 * ("" for the root), for a session's save (session_state.h); NULL
	 * when unknown (too long, no memory). Checked against the fid's
	 * inode when saved: a host rename can make it wrong. */
	char *path;
	/* Restored without its file (gone from the host since the save):
	 * every request on it but Tclunk and Tremove gets ESTALE. */
	bool stale;
	uid_t uid;    /* the attach's n_uname */
	int oflags;   /* host open flags after lopen */
	off_t dirpos; /* the dir fd's position (a d_off cookie) */
	/* A Tlock took a read or write lock on the open file and no unlock
	 * of the whole file (start 0, length 0) has come since: a session
	 * holding one cannot be saved (locks are not carried over). */
	bool locked;
	char *xname; /* xattr fids */
	char *xbuf;
	size_t xsize, xlen;
	int xflags;
};

#define FID_SHARDS 16

struct fid_shard {
	pthread_mutex_t lock;
	struct fs9p_fid **buckets;
	unsigned nbuckets, count;
};

struct fid_table {
	struct fid_shard shard[FID_SHARDS];
};

/* What Tversion agreed on (saved with the session). */
enum fs9p_proto {
	FS9P_PROTO_NONE,    /* no Tversion yet */
	FS9P_PROTO_9P2000L, /* 9P2000.L */
	FS9P_PROTO_UNKNOWN, /* answered "unknown" */
};

struct fs9p_session {
	struct fs9p_export *ex;
	uint32_t max_msize;
	_Atomic uint32_t msize;
	_Atomic uint8_t proto; /* enum fs9p_proto */
	struct fid_table fids;
};

/* One request being handled: the decoder over the T-message body, the
 * encoder over the R-message body (the header is written last). */
struct req {
	struct fs9p_session *s;
	struct fs9p_export *ex;
	const struct fs9p_msg *m;
	struct p9_in in;
	struct p9_out out;
	uint32_t msize;
	uint8_t type;
	uint16_t tag;
};

/* A fid's fields copied out under its lock, with node references held, so
 * a handler works without the lock (and a concurrent clunk is safe). */
struct fid_snap {
	struct fs9p_fid *fid;
	struct fs9p_node *node, *parent;
	enum fid_kind kind;
	uid_t uid;
	int oflags;
	char name[NAME_MAX + 1];
};

/* node (fid.c) */
struct fs9p_node *node_new(int fd, bool opath);
struct fs9p_node *node_get(struct fs9p_node *n);
void node_put(struct fs9p_node *n);

/* fid.c */
int fid_table_init(struct fid_table *t);
void fid_table_destroy(struct fid_table *t);
void fid_clunk_all(struct fid_table *t);
struct fs9p_fid *fid_alloc(uint32_t id, uid_t uid);
struct fs9p_fid *fid_get(struct fid_table *t, uint32_t id);
void fid_put(struct fs9p_fid *f);
int fid_insert(struct fid_table *t, struct fs9p_fid *f);
struct fs9p_fid *fid_remove(struct fid_table *t, uint32_t id);
/* fid_get + snapshot; -EBADF for an unknown fid, -ESTALE for a stale
 * one. */
int fid_snap(struct fid_table *t, uint32_t id, struct fid_snap *sn);
void fid_snap_release(struct fid_snap *sn);
/* Points f at node/parent/name (references taken); under f's lock. */
int fid_set_path(struct fs9p_fid *f, struct fs9p_node *node,
		 struct fs9p_node *parent, const char *name);

/* Calls fn on every fid (shard locks held: fn takes no shard lock) until
 * it returns non-zero, which is returned. */
int fid_table_each(struct fid_table *t,
		   int (*fn)(struct fs9p_fid *f, void *ctx), void *ctx);

/* relpath.c: the fids' paths from the export root (fs9p_fid.path) */
#define RELPATH_MAX 4096 /* longer paths are not tracked (NULL) */
/* dir + "/" + name (name alone under the root ""); NULL when dir is
 * NULL, the result too long or memory short. */
char *relpath_join(const char *dir, const char *name);
/* from after walking names ("." stays, ".." drops the last component,
 * at the root too); NULL as relpath_join. */
char *relpath_walk(const char *from, const char (*names)[NAME_MAX + 1],
		   unsigned n);
/* A copy of f's path, under its lock (NULL when unknown). */
char *fid_path_dup(struct fs9p_fid *f);
/* Replaces f's path with path (taken over, may be NULL); under f's lock. */
void fid_path_set(struct fs9p_fid *f, char *path);
/* After from was renamed to to: every fid at from or beneath it is moved
 * (to NULL: their paths become unknown). from NULL: nothing known. */
void fid_table_rename(struct fid_table *t, const char *from, const char *to);

/* qid.c */
int qid_map_init(struct qid_map *m);
void qid_map_destroy(struct qid_map *m);
int qid_from_stat(struct qid_map *m, const struct stat *st, struct p9_qid *q);

/* resolve.c: confined lookups */
int name_check(const char *name);
int name_check_entry(const char *name);
int resolve_step(struct fs9p_export *ex, int dirfd, const char *name, int *out);
int fd_is_root(struct fs9p_export *ex, int fd);
int reopen_fd(int fd, int flags);
void fd_proc_path(int fd, char buf[32]);

/* xattr_fd.c: xattrs of an fd that may be O_PATH */
ssize_t fdx_get(const struct fs9p_node *n, const char *name, void *v,
		size_t size);
int fdx_set(const struct fs9p_node *n, const char *name, const void *v,
	    size_t size, int flags);
ssize_t fdx_list(const struct fs9p_node *n, char *list, size_t size);
int fdx_remove(const struct fs9p_node *n, const char *name);

/* attr.c: model-aware attributes */
struct create_cred {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* type | permissions */
	dev_t rdev;
};
int attr_stat(struct fs9p_export *ex, const struct fs9p_node *n,
	      struct stat *st);
int attr_qid(struct fs9p_export *ex, const struct fs9p_node *n,
	     struct p9_qid *q);
int attr_chmod(struct fs9p_export *ex, const struct fs9p_node *n, mode_t mode);
int attr_chown(struct fs9p_export *ex, const struct fs9p_node *n, uid_t uid,
	       gid_t gid);
int attr_remove_privs(struct fs9p_export *ex, const struct fs9p_node *n);

/* model_passthrough.c / model_mapped.c: finish a creation */
int pt_finish_create(int fd, const struct create_cred *c,
		     bool chown_best_effort);
int mapped_finish_create(const struct fs9p_node *n,
			 const struct create_cred *c);
int mapped_overlay(const struct fs9p_node *n, struct stat *st);
int mapped_set_mode(const struct fs9p_node *n, mode_t mode);
int mapped_set_owner(const struct fs9p_node *n, uid_t uid, gid_t gid);
bool mapped_name_hidden(const char *name);

/* handlers (ops_*.c): 0 with the reply body written, or -errno */
int op_version(struct req *r);
int op_auth(struct req *r);
int op_attach(struct req *r);
int op_flush(struct req *r);
int op_clunk(struct req *r);
int op_walk(struct req *r);
int op_getattr(struct req *r);
int op_setattr(struct req *r);
int op_statfs(struct req *r);
int op_lopen(struct req *r);
int op_read(struct req *r);
int op_write(struct req *r);
int op_fsync(struct req *r);
int op_readdir(struct req *r);
int op_lcreate(struct req *r);
int op_mkdir(struct req *r);
int op_symlink(struct req *r);
int op_mknod(struct req *r);
int op_link(struct req *r);
int op_readlink(struct req *r);
int op_remove(struct req *r);
int op_unlinkat(struct req *r);
int op_rename(struct req *r);
int op_renameat(struct req *r);
int op_xattrwalk(struct req *r);
int op_xattrcreate(struct req *r);
int op_lock(struct req *r);
int op_getlock(struct req *r);

/* ops_xattr.c: the xattr-fid side of Tread, Twrite and Tclunk */
#define XATTR_MAX 65536 /* the kernel's XATTR_SIZE_MAX (and LIST_MAX) */
int xattr_fid_read(struct req *r, struct fs9p_fid *f, uint64_t off,
		   uint32_t count);
int xattr_fid_write(struct req *r, struct fs9p_fid *f, uint64_t off,
		    uint32_t count);
int xattr_fid_commit(struct fs9p_export *ex, struct fs9p_fid *f);

#endif
