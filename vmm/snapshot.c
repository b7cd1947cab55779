/* Snapshot files (snapshot.h): written on the migration worker with the
 * vCPUs parked, loaded on the main thread before the vCPUs exist. No
 * shared state. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/checked.h"
#include "lib/log.h"
#include "lifecycle.h"
#include "vm.h"

#define RAM_ALIGN (2ULL << 20)

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len > (1u << 30) ? 1u << 30 : len,
				   (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* The region's non-zero runs at off; zero pages stay holes. */
static int write_region(int fd, const struct mem_region *reg, uint64_t off,
			uint64_t *written)
{
	uint64_t page = 0, pages = reg->size / STREAM_PAGE_SIZE;

	while (page < pages) {
		uint64_t start;
		int r;

		while (page < pages &&
		       stream_page_is_zero(reg->hva + page * STREAM_PAGE_SIZE))
			page++;
		start = page;
		while (page < pages &&
		       !stream_page_is_zero(reg->hva + page * STREAM_PAGE_SIZE))
			page++;
		if (page == start)
			break;
		r = pwrite_all(fd, reg->hva + start * STREAM_PAGE_SIZE,
			       (page - start) * STREAM_PAGE_SIZE,
			       off + start * STREAM_PAGE_SIZE);
		if (r)
			return r;
		*written += (page - start) * STREAM_PAGE_SIZE;
	}
	return 0;
}

static int write_file(struct vm *vm, int fd, struct snapshot_stats *st)
{
	struct stream_writer w;
	uint64_t base, off;
	int r = stream_writer_init(&w, fd);

	if (r)
		return r;
	r = stream_put_header(&w);
	if (!r)
		r = vmstate_put_config(vm, &w);
	if (!r)
		r = vmstate_put_state(vm, &w);
	/* The RAM_IMAGE and END sections fit in the 64 KiB margin. */
	base = align_up(w.bytes + 65536, RAM_ALIGN);
	off = base;
	for (unsigned i = 0; i < vm->mem.nr_regions && !r; i++) {
		struct vmstate_ram_image im = {
			.region = i,
			.gpa = vm->mem.regions[i].gpa,
			.size = vm->mem.regions[i].size,
			.file_offset = off,
		};
		r = stream_put_section(&w, STREAM_SEC_RAM_IMAGE, i, 1, &im,
				       sizeof(im));
		off += align_up(im.size, RAM_ALIGN);
	}
	if (!r)
		r = stream_put_end(&w);
	if (!r)
		r = stream_flush(&w);
	st->state_bytes = w.bytes;
	stream_writer_free(&w);
	if (!r && ftruncate(fd, (off_t)off))
		r = -errno;
	off = base;
	for (unsigned i = 0; i < vm->mem.nr_regions && !r; i++) {
		r = write_region(fd, &vm->mem.regions[i], off, &st->ram_bytes);
		off += align_up(vm->mem.regions[i].size, RAM_ALIGN);
	}
	if (!r && fdatasync(fd))
		r = -errno;
	return r;
}

int snapshot_write(struct vm *vm, const char *path, struct snapshot_stats *st)
{
	uint64_t start = monotonic_ns();
	char *tmp = NULL;
	int fd, r;

	memset(st, 0, sizeof(*st));
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		log_error("snapshot %s: %s", tmp, strerror(errno));
		free(tmp);
		return r;
	}
	r = write_file(vm, fd, st);
	if (r && r != -ENOTSUP && r != -EPROTO)
		log_error("snapshot %s: writing: %s", tmp, strerror(-r));
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, path)) {
		r = -errno;
		log_error("snapshot: renaming %s to %s: %s", tmp, path,
			  strerror(errno));
	}
	if (r)
		unlink(tmp);
	free(tmp);
	st->ns = monotonic_ns() - start;
	return r;
}

int snapshot_open(const char *path, struct vmstate_load *l)
{
	int r;

	l->image_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (l->image_fd >= 0)
		return 0;
	r = -errno;
	log_error("--restore %s: %s", path, strerror(errno));
	return r;
}

int snapshot_load(const char *path, struct vmstate_load *l)
{
	struct stream_reader rd;
	struct stream_section s;
	int r;

	r = stream_reader_init(&rd, l->image_fd);
	if (!r)
		r = stream_get_header(&rd);
	while (!r) {
		r = stream_get_section(&rd, &s);
		if (r)
			break;
		r = vmstate_load_section(l, &s);
		if (r == 1) {
			r = 0;
			break;
		}
	}
	if (r == -EPROTO && rd.why[0])
		log_error("--restore %s: %s", path, rd.why);
	else if (r == -ENODATA)
		log_error("--restore %s: %s", path,
			  rd.why[0] ? rd.why : "truncated");
	else if (r && r != -EPROTO)
		log_error("--restore %s: %s", path, strerror(-r));
	stream_reader_free(&rd);
	/* The mappings hold the file. */
	close(l->image_fd);
	l->image_fd = -1;
	return r;
}
