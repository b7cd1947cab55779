/* A tiny 9P2000.L client for the fs9p unit tests: builds T-messages into a
 * flat buffer, hands them to fs9p_handle against a temporary export
 * directory, and parses the replies. Helpers return 0 (or a count) on
 * success and -ecode on Rlerror; a reply of an unexpected type fails the
 * test. Test-only; header-only. */
#ifndef TESTS_FS9P_CLIENT_H
#define TESTS_FS9P_CLIENT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs9p/fs9p.h"
#include "fs9p/proto.h"
#include "lib/bytes.h"

#define TC_BUF (1u << 17)
#define TC_MSIZE 65536u

struct tc {
	struct fs9p_export *ex;
	struct fs9p_session *s;
	char dir[256];
	uint8_t type;
	size_t len;	/* T-message built so far */
	size_t rlen;	/* reply length */
	size_t rpos;	/* reply parse position */
	size_t out_len; /* space offered for the reply */
	uint8_t msg[TC_BUF];
	uint8_t out[TC_BUF];
};

static inline void tb_begin(struct tc *c, uint8_t type)
{
	c->type = type;
	c->len = FS9P_HDR_SIZE;
}
static inline void tb_raw(struct tc *c, const void *p, size_t n)
{
	cr_assert(c->len + n <= TC_BUF);
	memcpy(c->msg + c->len, p, n);
	c->len += n;
}
static inline void tb_u8(struct tc *c, uint8_t v)
{
	tb_raw(c, &v, 1);
}
static inline void tb_u16(struct tc *c, uint16_t v)
{
	tb_raw(c, &v, 2);
}
static inline void tb_u32(struct tc *c, uint32_t v)
{
	tb_raw(c, &v, 4);
}
static inline void tb_u64(struct tc *c, uint64_t v)
{
	tb_raw(c, &v, 8);
}
static inline void tb_strn(struct tc *c, const char *s, size_t n)
{
	tb_u16(c, (uint16_t)n);
	tb_raw(c, s, n);
}
static inline void tb_str(struct tc *c, const char *s)
{
	tb_strn(c, s, strlen(s));
}

/* Sends the first len bytes of the built message (size field as built
 * unless size_override) and returns the reply's length. */
static inline size_t tc_send_raw(struct tc *c, size_t len, uint32_t size)
{
	struct iovec in = { c->msg, len }, out = { c->out, c->out_len };
	struct fs9p_msg m = { &in, 1, len, &out, 1, c->out_len };

	memset(c->out, 0xa5, sizeof(c->out));
	c->rlen = fs9p_handle(c->s, &m);
	c->rpos = FS9P_HDR_SIZE;
	if (c->rlen) {
		cr_assert_eq(get32(c->out), c->rlen, "reply size field");
		cr_assert_eq(get16(c->out + 5), 0x1234, "reply tag");
	}
	(void)size;
	return c->rlen;
}

static inline size_t tc_send(struct tc *c)
{
	put32(c->msg, (uint32_t)c->len);
	c->msg[4] = c->type;
	put16(c->msg + 5, 0x1234);
	return tc_send_raw(c, c->len, (uint32_t)c->len);
}

static inline uint8_t tc_rtype(struct tc *c)
{
	return c->out[4];
}
static inline void tr_need(struct tc *c, size_t n)
{
	cr_assert(c->rpos + n <= c->rlen, "reply too short");
}
static inline uint8_t tr_u8(struct tc *c)
{
	tr_need(c, 1);
	return c->out[c->rpos++];
}
static inline uint16_t tr_u16(struct tc *c)
{
	tr_need(c, 2);
	c->rpos += 2;
	return get16(c->out + c->rpos - 2);
}
static inline uint32_t tr_u32(struct tc *c)
{
	tr_need(c, 4);
	c->rpos += 4;
	return get32(c->out + c->rpos - 4);
}
static inline uint64_t tr_u64(struct tc *c)
{
	tr_need(c, 8);
	c->rpos += 8;
	return get64(c->out + c->rpos - 8);
}
static inline size_t tr_str(struct tc *c, char *buf, size_t cap)
{
	uint16_t n = tr_u16(c);

	tr_need(c, n);
	cr_assert(n < cap);
	memcpy(buf, c->out + c->rpos, n);
	buf[n] = 0;
	c->rpos += n;
	return n;
}
struct tqid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};
static inline struct tqid tr_qid(struct tc *c)
{
	struct tqid q;

	q.type = tr_u8(c);
	q.version = tr_u32(c);
	q.path = tr_u64(c);
	return q;
}

/* Sends; -ecode for Rlerror, else 0 after checking the reply type. */
static inline int tc_call(struct tc *c)
{
	cr_assert(tc_send(c) >= FS9P_HDR_SIZE, "no reply");
	if (tc_rtype(c) == P9_RLERROR) {
		cr_assert_eq(c->rlen, 11, "Rlerror length");
		return -(int)tr_u32(c);
	}
	cr_assert_eq(tc_rtype(c), c->type + 1, "reply type %u to %u",
		     tc_rtype(c), c->type);
	return 0;
}

static inline int tc_version(struct tc *c, uint32_t msize, const char *v,
			     uint32_t *got, char *vbuf)
{
	int r;

	tb_begin(c, P9_TVERSION);
	tb_u32(c, msize);
	tb_str(c, v);
	if ((r = tc_call(c)))
		return r;
	*got = tr_u32(c);
	tr_str(c, vbuf, 32);
	return 0;
}

static inline int tc_attach(struct tc *c, uint32_t fid, uint32_t uid,
			    struct tqid *q)
{
	int r;

	tb_begin(c, P9_TATTACH);
	tb_u32(c, fid);
	tb_u32(c, P9_NOFID);
	tb_str(c, "root");
	tb_str(c, "");
	tb_u32(c, uid);
	if ((r = tc_call(c)))
		return r;
	if (q)
		*q = tr_qid(c);
	return 0;
}

/* Walks n names (a NULL-terminated list after n is not needed: exactly n
 * strings follow); returns nwqid or -ecode; qids into q when not NULL. */
static inline int tc_walkv(struct tc *c, uint32_t fid, uint32_t newfid,
			   unsigned n, const char *const *names, struct tqid *q)
{
	int r;

	tb_begin(c, P9_TWALK);
	tb_u32(c, fid);
	tb_u32(c, newfid);
	tb_u16(c, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		tb_str(c, names[i]);
	if ((r = tc_call(c)))
		return r;
	r = tr_u16(c);
	for (int i = 0; i < r; i++) {
		struct tqid x = tr_qid(c);

		if (q)
			q[i] = x;
	}
	cr_assert_eq(c->rpos, c->rlen);
	return r;
}

static inline int tc_walk1(struct tc *c, uint32_t fid, uint32_t newfid,
			   const char *name, struct tqid *q)
{
	return tc_walkv(c, fid, newfid, name ? 1 : 0, &name, q);
}

static inline int tc_clunk(struct tc *c, uint32_t fid)
{
	tb_begin(c, P9_TCLUNK);
	tb_u32(c, fid);
	return tc_call(c);
}

static inline int tc_lopen(struct tc *c, uint32_t fid, uint32_t flags,
			   struct tqid *q)
{
	int r;

	tb_begin(c, P9_TLOPEN);
	tb_u32(c, fid);
	tb_u32(c, flags);
	if ((r = tc_call(c)))
		return r;
	if (q)
		*q = tr_qid(c);
	else
		tr_qid(c);
	cr_assert_eq(tr_u32(c), 0, "iounit");
	return 0;
}

static inline int tc_lcreate(struct tc *c, uint32_t fid, const char *name,
			     uint32_t flags, uint32_t mode, uint32_t gid,
			     struct tqid *q)
{
	int r;

	tb_begin(c, P9_TLCREATE);
	tb_u32(c, fid);
	tb_str(c, name);
	tb_u32(c, flags);
	tb_u32(c, mode);
	tb_u32(c, gid);
	if ((r = tc_call(c)))
		return r;
	if (q)
		*q = tr_qid(c);
	else
		tr_qid(c);
	tr_u32(c);
	return 0;
}

/* Returns the count read (data copied into buf) or -ecode. */
static inline int tc_read(struct tc *c, uint32_t fid, uint64_t off,
			  uint32_t count, void *buf)
{
	uint32_t n;
	int r;

	tb_begin(c, P9_TREAD);
	tb_u32(c, fid);
	tb_u64(c, off);
	tb_u32(c, count);
	if ((r = tc_call(c)))
		return r;
	n = tr_u32(c);
	cr_assert(n <= count, "Rread longer than asked");
	cr_assert_eq(c->rlen, 11 + n);
	if (buf)
		memcpy(buf, c->out + 11, n);
	return (int)n;
}

static inline int tc_write(struct tc *c, uint32_t fid, uint64_t off,
			   const void *data, uint32_t count)
{
	int r;

	tb_begin(c, P9_TWRITE);
	tb_u32(c, fid);
	tb_u64(c, off);
	tb_u32(c, count);
	tb_raw(c, data, count);
	if ((r = tc_call(c)))
		return r;
	return (int)tr_u32(c);
}

struct tattr {
	uint64_t valid;
	struct tqid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
	uint64_t ctime_sec, ctime_nsec, btime_sec, btime_nsec, gen, dver;
};

static inline int tc_getattr(struct tc *c, uint32_t fid, struct tattr *a)
{
	int r;

	tb_begin(c, P9_TGETATTR);
	tb_u32(c, fid);
	tb_u64(c, 0x3fff);
	if ((r = tc_call(c)))
		return r;
	a->valid = tr_u64(c);
	a->qid = tr_qid(c);
	a->mode = tr_u32(c);
	a->uid = tr_u32(c);
	a->gid = tr_u32(c);
	a->nlink = tr_u64(c);
	a->rdev = tr_u64(c);
	a->size = tr_u64(c);
	a->blksize = tr_u64(c);
	a->blocks = tr_u64(c);
	a->atime_sec = tr_u64(c);
	a->atime_nsec = tr_u64(c);
	a->mtime_sec = tr_u64(c);
	a->mtime_nsec = tr_u64(c);
	a->ctime_sec = tr_u64(c);
	a->ctime_nsec = tr_u64(c);
	a->btime_sec = tr_u64(c);
	a->btime_nsec = tr_u64(c);
	a->gen = tr_u64(c);
	a->dver = tr_u64(c);
	cr_assert_eq(c->rpos, c->rlen);
	return 0;
}

static inline int tc_setattr(struct tc *c, uint32_t fid, uint32_t valid,
			     uint32_t mode, uint32_t uid, uint32_t gid,
			     uint64_t size, uint64_t as, uint64_t ans,
			     uint64_t ms, uint64_t mns)
{
	tb_begin(c, P9_TSETATTR);
	tb_u32(c, fid);
	tb_u32(c, valid);
	tb_u32(c, mode);
	tb_u32(c, uid);
	tb_u32(c, gid);
	tb_u64(c, size);
	tb_u64(c, as);
	tb_u64(c, ans);
	tb_u64(c, ms);
	tb_u64(c, mns);
	return tc_call(c);
}

static inline int tc_qid_reply(struct tc *c, struct tqid *q)
{
	int r = tc_call(c);

	if (!r && q)
		*q = tr_qid(c);
	return r;
}

static inline int tc_mkdir(struct tc *c, uint32_t dfid, const char *name,
			   uint32_t mode, uint32_t gid, struct tqid *q)
{
	tb_begin(c, P9_TMKDIR);
	tb_u32(c, dfid);
	tb_str(c, name);
	tb_u32(c, mode);
	tb_u32(c, gid);
	return tc_qid_reply(c, q);
}

static inline int tc_symlink(struct tc *c, uint32_t dfid, const char *name,
			     const char *target, uint32_t gid, struct tqid *q)
{
	tb_begin(c, P9_TSYMLINK);
	tb_u32(c, dfid);
	tb_str(c, name);
	tb_str(c, target);
	tb_u32(c, gid);
	return tc_qid_reply(c, q);
}

static inline int tc_mknod(struct tc *c, uint32_t dfid, const char *name,
			   uint32_t mode, uint32_t maj, uint32_t min,
			   uint32_t gid, struct tqid *q)
{
	tb_begin(c, P9_TMKNOD);
	tb_u32(c, dfid);
	tb_str(c, name);
	tb_u32(c, mode);
	tb_u32(c, maj);
	tb_u32(c, min);
	tb_u32(c, gid);
	return tc_qid_reply(c, q);
}

static inline int tc_readlink(struct tc *c, uint32_t fid, char *buf, size_t cap)
{
	int r;

	tb_begin(c, P9_TREADLINK);
	tb_u32(c, fid);
	if ((r = tc_call(c)))
		return r;
	return (int)tr_str(c, buf, cap);
}

static inline int tc_link(struct tc *c, uint32_t dfid, uint32_t fid,
			  const char *name)
{
	tb_begin(c, P9_TLINK);
	tb_u32(c, dfid);
	tb_u32(c, fid);
	tb_str(c, name);
	return tc_call(c);
}

static inline int tc_rename(struct tc *c, uint32_t fid, uint32_t dfid,
			    const char *name)
{
	tb_begin(c, P9_TRENAME);
	tb_u32(c, fid);
	tb_u32(c, dfid);
	tb_str(c, name);
	return tc_call(c);
}

static inline int tc_renameat(struct tc *c, uint32_t ofid, const char *on,
			      uint32_t nfid, const char *nn)
{
	tb_begin(c, P9_TRENAMEAT);
	tb_u32(c, ofid);
	tb_str(c, on);
	tb_u32(c, nfid);
	tb_str(c, nn);
	return tc_call(c);
}

static inline int tc_unlinkat(struct tc *c, uint32_t dfid, const char *name,
			      uint32_t flags)
{
	tb_begin(c, P9_TUNLINKAT);
	tb_u32(c, dfid);
	tb_str(c, name);
	tb_u32(c, flags);
	return tc_call(c);
}

static inline int tc_remove(struct tc *c, uint32_t fid)
{
	tb_begin(c, P9_TREMOVE);
	tb_u32(c, fid);
	return tc_call(c);
}

static inline int tc_fsync(struct tc *c, uint32_t fid, uint32_t datasync)
{
	tb_begin(c, P9_TFSYNC);
	tb_u32(c, fid);
	tb_u32(c, datasync);
	return tc_call(c);
}

/* Readdir: the raw reply data is at c->out + 11, its count returned. */
static inline int tc_readdir(struct tc *c, uint32_t fid, uint64_t off,
			     uint32_t count)
{
	int r;

	tb_begin(c, P9_TREADDIR);
	tb_u32(c, fid);
	tb_u64(c, off);
	tb_u32(c, count);
	if ((r = tc_call(c)))
		return r;
	r = (int)tr_u32(c);
	cr_assert_eq(c->rlen, 11 + (size_t)r);
	cr_assert((uint32_t)r <= count);
	return r;
}

/* Returns the size (>= 0) or -ecode. */
static inline long long tc_xattrwalk(struct tc *c, uint32_t fid,
				     uint32_t newfid, const char *name)
{
	int r;

	tb_begin(c, P9_TXATTRWALK);
	tb_u32(c, fid);
	tb_u32(c, newfid);
	tb_str(c, name);
	if ((r = tc_call(c)))
		return r;
	return (long long)tr_u64(c);
}

static inline int tc_xattrcreate(struct tc *c, uint32_t fid, const char *name,
				 uint64_t size, uint32_t flags)
{
	tb_begin(c, P9_TXATTRCREATE);
	tb_u32(c, fid);
	tb_str(c, name);
	tb_u64(c, size);
	tb_u32(c, flags);
	return tc_call(c);
}

/* Returns the status or -ecode. */
static inline int tc_lock(struct tc *c, uint32_t fid, uint8_t type,
			  uint32_t flags, uint64_t start, uint64_t len)
{
	int r;

	tb_begin(c, P9_TLOCK);
	tb_u32(c, fid);
	tb_u8(c, type);
	tb_u32(c, flags);
	tb_u64(c, start);
	tb_u64(c, len);
	tb_u32(c, 42);
	tb_str(c, "guest");
	if ((r = tc_call(c)))
		return r;
	return tr_u8(c);
}

static inline int tc_statfs(struct tc *c, uint32_t fid, uint32_t *type,
			    uint32_t *namelen)
{
	int r;

	tb_begin(c, P9_TSTATFS);
	tb_u32(c, fid);
	if ((r = tc_call(c)))
		return r;
	*type = tr_u32(c);
	tr_u32(c);
	for (int i = 0; i < 6; i++)
		tr_u64(c);
	*namelen = tr_u32(c);
	cr_assert_eq(c->rpos, c->rlen);
	return 0;
}

/* A host path inside the export. */
static inline const char *tc_path(struct tc *c, const char *rel, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/%s", c->dir, rel);
	return buf;
}

static inline struct tc *tc_open_dir(const char *dir, enum fs9p_security sec,
				     bool ro)
{
	struct fs9p_export_config cfg = { dir, sec, ro };
	struct tc *c = calloc(1, sizeof(*c));
	uint32_t msize;
	char v[32];

	cr_assert(c);
	cr_assert(strlen(dir) < sizeof(c->dir));
	strcpy(c->dir, dir);
	c->out_len = TC_BUF;
	cr_assert_eq(fs9p_export_open(&cfg, &c->ex), 0);
	cr_assert_eq(fs9p_session_new(c->ex, TC_MSIZE, &c->s), 0);
	cr_assert_eq(tc_version(c, TC_MSIZE, "9P2000.L", &msize, v), 0);
	cr_assert_eq(msize, TC_MSIZE);
	cr_assert_str_eq(v, "9P2000.L");
	cr_assert_eq(tc_attach(c, 0, 0, NULL), 0);
	return c;
}

static inline char *tc_mkdtemp(char *buf)
{
	strcpy(buf, "/tmp/fs9p-test-XXXXXX");
	cr_assert(mkdtemp(buf));
	return buf;
}

static inline struct tc *tc_open(enum fs9p_security sec, bool ro)
{
	char d[64];

	return tc_open_dir(tc_mkdtemp(d), sec, ro);
}

static inline int tc_rm_one(const char *p, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void tc_rm_rf(const char *dir)
{
	nftw(dir, tc_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static inline void tc_close(struct tc *c)
{
	fs9p_session_free(c->s);
	fs9p_export_close(c->ex);
	tc_rm_rf(c->dir);
	free(c);
}

/* Creates a host file with content inside the export. */
static inline void tc_host_file(struct tc *c, const char *rel,
				const char *content)
{
	char p[PATH_MAX];
	FILE *f = fopen(tc_path(c, rel, p), "w");

	cr_assert(f);
	fputs(content, f);
	fclose(f);
}

#endif
