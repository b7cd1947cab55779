/* Image format drivers' shared helpers (block/format.h). Request helpers
 * on the request's ctx thread; opening on the main thread. */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned blk_req_slice(const struct blk_req *req, uint64_t off, uint64_t len,
		       struct iovec *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < req->iovcnt && len; i++) {
		uint64_t l = req->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		out[n].iov_base = (uint8_t *)req->iov[i].iov_base + off;
		out[n].iov_len = l - off < len ? l - off : len;
		len -= out[n].iov_len;
		off = 0;
		n++;
	}
	return n;
}

void blk_iov_zero(struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

int blk_co_read_backing(struct blk_co *co, struct blk_node *node, uint64_t g,
			uint64_t len, struct iovec *iov, unsigned n)
{
	struct blk_node *b = node->backing;
	uint64_t have = b && g < b->size ? b->size - g : 0;
	unsigned i;

	if (have >= len)
		return blk_co_rwv(co, b, BLK_OP_READ, g, iov, n);
	blk_iov_zero(iov, n);
	if (!have)
		return 0;
	/* Split the iovecs at the backing node's end. */
	for (i = 0; i < n && iov[i].iov_len <= have; i++)
		have -= iov[i].iov_len;
	{
		struct iovec part[i + 1];
		unsigned m = i;

		memcpy(part, iov, i * sizeof(*iov));
		if (have) {
			part[m].iov_base = iov[i].iov_base;
			part[m].iov_len = have;
			m++;
		}
		return blk_co_rwv(co, b, BLK_OP_READ, g, part, m);
	}
}

/* Relative names are relative to the image's folder, as in QEMU. */
static int backing_path(const char *image, const char *name, char *out,
			size_t len)
{
	char dir[PATH_MAX];
	int n;

	if (name[0] == '/') {
		n = snprintf(out, len, "%s", name);
	} else {
		snprintf(dir, sizeof(dir), "%s", image);
		n = snprintf(out, len, "%s/%s", dirname(dir), name);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *blk_probe_format(const char *path)
{
	uint8_t magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, magic, sizeof(magic)) : -1;

	if (fd >= 0)
		close(fd);
	if (n == 4 && !memcmp(magic, "QFI\xfb", 4))
		return "qcow2";
	if (n == 4 && !memcmp(magic, "QED", 4))
		return "qed";
	return "raw";
}

void blk_chain_note(struct blk_node *node, struct blk_opts *o)
{
	struct stat st;

	if (o->depth < BLK_MAX_CHAIN && !fstat(node->file->fd, &st)) {
		o->chain[o->depth].dev = st.st_dev;
		o->chain[o->depth].ino = st.st_ino;
	}
}

int blk_open_backing(struct blk_node *node, struct blk_opts *o,
		     const char *name, const char *format)
{
	const char *image = blk_opt(o, "path", NULL);
	const char *cache = blk_opt(o, "cache", NULL);
	struct blk_opts bo = { .depth = o->depth + 1 };
	char path[PATH_MAX];
	struct stat st;
	int r;

	if (o->depth + 1 >= BLK_MAX_CHAIN)
		return blk_open_fail(o, -ELOOP,
				     "backing chain deeper than %d images",
				     BLK_MAX_CHAIN);
	if (!image || backing_path(image, name, path, sizeof(path)))
		return blk_open_fail(o, -ENAMETOOLONG,
				     "backing file name too long");
	if (stat(path, &st))
		return blk_open_fail(o, -errno, "backing file %s: %s", path,
				     strerror(errno));
	memcpy(bo.chain, o->chain, sizeof(o->chain));
	for (unsigned i = 0; i <= o->depth && i < BLK_MAX_CHAIN; i++)
		if (o->chain[i].dev == st.st_dev &&
		    o->chain[i].ino == st.st_ino)
			return blk_open_fail(o, -ELOOP,
					     "backing chain loops back to %s",
					     path);
	if (blk_opts_add(&bo, "path", path) ||
	    blk_opts_add(&bo, "format",
			 format ? format : blk_probe_format(path)) ||
	    blk_opts_add(&bo, "readonly", "on") ||
	    (cache && blk_opts_add(&bo, "cache", cache)))
		return blk_open_fail(o, -EINVAL, "backing options");
	r = blk_open_child(&node->backing, NULL, &bo);
	/* Its own message names the backing file and the reason; wrapping
	 * it at every level would cut a deep chain's off. */
	if (r && !o->why[0])
		snprintf(o->why, sizeof(o->why), "%s", bo.why);
	return r;
}
