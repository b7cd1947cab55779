/* The mapped security model: files are created with the server's own
 * credentials (mode 0600, directories 0700) and the guest's uid, gid,
 * mode (with the file type) and rdev live in the user.virtfs.uid, .gid,
 * .mode and .rdev xattrs, laid out as QEMU's mapped-xattr model lays them
 * out (little-endian 4-byte uid, gid and mode, 8-byte rdev), so an image
 * written by either server reads the same in the other. Symlinks are
 * regular files holding the target; device nodes, FIFOs and sockets are
 * empty regular files whose type is in the mode xattr. The guest never
 * sees or sets user.virtfs.* itself. Any worker thread; no state. */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "lib/bytes.h"

#define XA_UID "user.virtfs.uid"
#define XA_GID "user.virtfs.gid"
#define XA_MODE "user.virtfs.mode"
#define XA_RDEV "user.virtfs.rdev"

bool mapped_name_hidden(const char *name)
{
	return !strncmp(name, "user.virtfs.", 12);
}

static int set32(const struct fs9p_node *n, const char *name, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	return fdx_set(n, name, b, 4, 0);
}

/* 0 with *v set, 1 when the xattr is absent (or cannot exist), -errno. */
static int get_le(const struct fs9p_node *n, const char *name, uint64_t *v,
		  size_t size)
{
	uint8_t b[8];
	ssize_t r = fdx_get(n, name, b, size);

	if (r == -ENODATA || r == -EOPNOTSUPP || r == -ENOTSUP)
		return 1;
	if (r < 0)
		return (int)r;
	if ((size_t)r != size)
		return 1;
	*v = size == 8 ? get64(b) : get32(b);
	return 0;
}

int mapped_overlay(const struct fs9p_node *n, struct stat *st)
{
	uint64_t v = 0;
	int r;

	if (!(r = get_le(n, XA_UID, &v, 4)))
		st->st_uid = (uid_t)v;
	if (r < 0)
		return r;
	if (!(r = get_le(n, XA_GID, &v, 4)))
		st->st_gid = (gid_t)v;
	if (r < 0)
		return r;
	if (!(r = get_le(n, XA_MODE, &v, 4)))
		st->st_mode = (mode_t)v;
	if (r < 0)
		return r;
	if (!(r = get_le(n, XA_RDEV, &v, 8)))
		st->st_rdev = (dev_t)v;
	return r < 0 ? r : 0;
}

/* Sets permission bits, keeping the file type the xattr (or host) has. */
int mapped_set_mode(const struct fs9p_node *n, mode_t mode)
{
	struct stat st;
	int r;

	if (fstat(n->fd, &st))
		return -errno;
	r = mapped_overlay(n, &st);
	if (r)
		return r;
	return set32(n, XA_MODE, (st.st_mode & S_IFMT) | (mode & 07777));
}

/* (uid_t)-1 / (gid_t)-1 leave the value alone, as chown does. */
int mapped_set_owner(const struct fs9p_node *n, uid_t uid, gid_t gid)
{
	int r = 0;

	if (uid != (uid_t)-1)
		r = set32(n, XA_UID, uid);
	if (!r && gid != (gid_t)-1)
		r = set32(n, XA_GID, gid);
	return r;
}

int mapped_finish_create(const struct fs9p_node *n, const struct create_cred *c)
{
	uint8_t b[8];
	int r = mapped_set_owner(n, c->uid, c->gid);

	if (!r)
		r = set32(n, XA_MODE, c->mode);
	if (!r && (S_ISCHR(c->mode) || S_ISBLK(c->mode))) {
		put64(b, c->rdev);
		r = fdx_set(n, XA_RDEV, b, 8, 0);
	}
	return r;
}
