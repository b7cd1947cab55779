/* Main thread at start-up (the CLI builds the initramfs before the VM);
 * the archive is the caller's, no lock. */
#include "initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/open_input.h"

static int reserve(struct cpio *c, size_t more)
{
	size_t cap = c->cap ? c->cap : 64 * 1024;
	uint8_t *p;

	if (more > SIZE_MAX / 2 - c->len)
		return -ENOMEM;
	while (cap < c->len + more)
		cap *= 2;
	if (cap == c->cap)
		return 0;
	p = realloc(c->data, cap);
	if (!p)
		return -ENOMEM;
	c->data = p;
	c->cap = cap;
	return 0;
}

static void put(struct cpio *c, const void *src, size_t n)
{
	memcpy(c->data + c->len, src, n);
	c->len += n;
}

/* newc pads the header+name and the data each to 4 bytes. */
static void pad4(struct cpio *c)
{
	while (c->len % 4)
		c->data[c->len++] = 0;
}

struct entry {
	const char *name;
	uint32_t mode, nlink, rmajor, rminor;
	const void *data;
	size_t size;
};

static int add(struct cpio *c, const struct entry *e)
{
	size_t namesize = strlen(e->name) + 1;
	char hdr[CPIO_HEADER_SIZE + 1];
	/* Inode numbers only need to differ; the trailer has 0. */
	uint32_t ino = strcmp(e->name, CPIO_TRAILER) ? ++c->next_ino : 0;

	if (namesize == 1 || e->size > UINT32_MAX || namesize > 4096)
		return -EINVAL;
	if (reserve(c, CPIO_HEADER_SIZE + namesize + e->size + 8))
		return -ENOMEM;
	/* ino mode uid gid nlink mtime filesize devmajor devminor
	 * rdevmajor rdevminor namesize check; mtime 0: reproducible. */
	snprintf(hdr, sizeof(hdr),
		 CPIO_MAGIC "%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X"
			    "%08X",
		 ino, e->mode, 0u, 0u, e->nlink, 0u, (uint32_t)e->size, 0u, 0u,
		 e->rmajor, e->rminor, (uint32_t)namesize, 0u);
	put(c, hdr, CPIO_HEADER_SIZE);
	put(c, e->name, namesize);
	pad4(c);
	if (e->size)
		put(c, e->data, e->size);
	pad4(c);
	return 0;
}

int cpio_add_dir(struct cpio *c, const char *name, uint32_t perm)
{
	return add(c, &(struct entry){ name, S_IFDIR | (perm & 07777), 2, 0, 0,
				       NULL, 0 });
}

int cpio_add_file(struct cpio *c, const char *name, uint32_t perm,
		  const void *data, size_t size)
{
	return add(c, &(struct entry){ name, S_IFREG | (perm & 07777), 1, 0, 0,
				       data, size });
}

int cpio_add_chardev(struct cpio *c, const char *name, uint32_t perm,
		     uint32_t major, uint32_t minor)
{
	return add(c, &(struct entry){ name, S_IFCHR | (perm & 07777), 1, major,
				       minor, NULL, 0 });
}

static int read_all(int fd, uint8_t *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* shrank while read */
		got += (size_t)n;
	}
	return 0;
}

int cpio_add_host_file(struct cpio *c, const char *name, uint32_t perm,
		       const char *host_path)
{
	int fd = open_input(host_path, O_RDONLY), r;
	struct stat st;
	uint8_t *buf = NULL;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st))
		r = -errno;
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > UINT32_MAX)
		r = -EINVAL;
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	else
		r = read_all(fd, buf, (size_t)st.st_size);
	if (!r)
		r = cpio_add_file(c, name, perm, buf, (size_t)st.st_size);
	free(buf);
	close(fd);
	return r;
}

int cpio_finish(struct cpio *c)
{
	return add(c, &(struct entry){ CPIO_TRAILER, 0, 1, 0, 0, NULL, 0 });
}

void cpio_free(struct cpio *c)
{
	free(c->data);
	*c = (struct cpio){ 0 };
}
