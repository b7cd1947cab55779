/* bench/9p's workload done with system calls on a directory: the test
 * guest's scenario=p9bench (guest/testguest/p9bench.c) step for step, so
 * that run on the host file system it is the limit of part (d), and run
 * on a Linux guest's 9p mount it is part (b).
 *
 *   9p-host DIR [dirs files fsize seqmb io]   (default 50 100 4096 512 520192)
 *
 * Under DIR/p9b: dirs directories d000.. of files f0000.. of fsize bytes;
 * phases create (open O_CREAT, write, close), stat (stat), read (open,
 * read, close, compare), delete (unlink); then seqmb MiB written to
 * p9b/big in io-byte writes and read back; everything removed. The files
 * hold what the guest's workload writes. One line per phase, as the guest
 * prints them:
 *   host: p9bench phase=NAME count=N bytes=B us=U
 * Single-threaded; exits 1 with a message naming the failed call. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct w {
	char top[4096];
	unsigned dirs, files;
	size_t fsize, io;
	uint64_t seq;
	char *base, *buf;
	struct timespec t0;
};

static int die(const char *what, const char *path)
{
	fprintf(stderr, "9p-host: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void start(struct w *w)
{
	clock_gettime(CLOCK_MONOTONIC, &w->t0);
}

static void end(struct w *w, const char *phase, uint64_t count, uint64_t bytes)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	printf("host: p9bench phase=%s count=%llu bytes=%llu us=%lld\n", phase,
	       (unsigned long long)count, (unsigned long long)bytes,
	       (long long)((t.tv_sec - w->t0.tv_sec) * 1000000 +
			   (t.tv_nsec - w->t0.tv_nsec) / 1000));
	fflush(stdout);
}

/* The guest's pattern of id 0: 16-byte lines "P000%011u\n". */
static void pattern(char *p, size_t n)
{
	char line[32];

	for (size_t i = 0; i < n; i += 16) {
		snprintf(line, sizeof(line), "P000%011zu\n", i / 16);
		memcpy(p + i, line, n - i < 16 ? n - i : 16);
	}
}

static void stamp(char *p, char c, uint64_t n)
{
	char line[32];

	snprintf(line, sizeof(line), "%c%014llu\n", c, (unsigned long long)n);
	memcpy(p, line, 16);
}

static void path(struct w *w, char *out, unsigned k)
{
	snprintf(out, 4200, "%s/d%03u/f%04u", w->top, k / w->files,
		 k % w->files);
}

static void small_files(struct w *w, const char *phase)
{
	char p[4200];
	struct stat st;
	int fd;

	start(w);
	for (unsigned k = 0; k < w->dirs * w->files; k++) {
		path(w, p, k);
		stamp(w->base, 'S', k);
		if (!strcmp(phase, "create")) {
			if ((fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644)) <
			    0)
				die("open", p);
			if (write(fd, w->base, w->fsize) != (ssize_t)w->fsize)
				die("write", p);
			close(fd);
		} else if (!strcmp(phase, "stat")) {
			if (stat(p, &st) || (size_t)st.st_size != w->fsize)
				die("stat", p);
		} else if (!strcmp(phase, "read")) {
			if ((fd = open(p, O_RDONLY)) < 0)
				die("open", p);
			if (read(fd, w->buf, w->fsize) != (ssize_t)w->fsize ||
			    memcmp(w->buf, w->base, w->fsize))
				die("read", p);
			close(fd);
		} else if (unlink(p)) {
			die("unlink", p);
		}
	}
	end(w, phase, w->dirs * w->files,
	    strcmp(phase, "create") && strcmp(phase, "read")
		    ? 0
		    : (uint64_t)w->dirs * w->files * w->fsize);
}

static void sequential(struct w *w, int write_it)
{
	char p[4200];
	int fd;

	snprintf(p, sizeof(p), "%s/big", w->top);
	start(w);
	fd = write_it ? open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644)
		      : open(p, O_RDONLY);
	if (fd < 0)
		die("open", p);
	for (uint64_t off = 0; off < w->seq; off += w->io) {
		size_t n = w->seq - off < w->io ? w->seq - off : w->io;
		char want[32];
		if (write_it) {
			for (size_t i = 0; i < n; i += 4096)
				stamp(w->base + i, 'B', (off + i) / 4096);
			if (pwrite(fd, w->base, n, (off_t)off) != (ssize_t)n)
				die("write", p);
			continue;
		}
		if (pread(fd, w->buf, n, (off_t)off) != (ssize_t)n)
			die("read", p);
		for (size_t i = 0; i < n; i += 4096) {
			snprintf(want, sizeof(want), "B%014llu\n",
				 (unsigned long long)((off + i) / 4096));
			if (memcmp(w->buf + i, want, 16))
				die("compare", p);
		}
	}
	if (close(fd))
		die("close", p);
	end(w, write_it ? "seqwrite" : "seqread", (w->seq + w->io - 1) / w->io,
	    w->seq);
}

static void dirs(struct w *w, int make)
{
	char p[4200];

	if (make && mkdir(w->top, 0755))
		die("mkdir", w->top);
	for (unsigned d = 0; d < w->dirs; d++) {
		snprintf(p, sizeof(p), "%s/d%03u", w->top, d);
		if (make ? mkdir(p, 0755) : rmdir(p))
			die(make ? "mkdir" : "rmdir", p);
	}
	if (!make) {
		snprintf(p, sizeof(p), "%s/big", w->top);
		if (unlink(p) || rmdir(w->top))
			die("remove", w->top);
	}
}

int main(int argc, char **argv)
{
	struct w w = { .dirs = 50, .files = 100, .fsize = 4096, .io = 520192 };

	if (argc < 2 || argc > 7) {
		fprintf(stderr,
			"usage: 9p-host DIR [dirs files fsize seqmb io]\n");
		return 2;
	}
	snprintf(w.top, sizeof(w.top), "%s/p9b", argv[1]);
	w.seq = 512ULL << 20;
	if (argc > 2)
		w.dirs = (unsigned)atoi(argv[2]);
	if (argc > 3)
		w.files = (unsigned)atoi(argv[3]);
	if (argc > 4)
		w.fsize = (size_t)atol(argv[4]);
	if (argc > 5)
		w.seq = (uint64_t)atoll(argv[5]) << 20;
	if (argc > 6)
		w.io = (size_t)atol(argv[6]) & ~(size_t)4095;
	if (!w.dirs || w.dirs > 1000 || !w.files || w.files > 10000 ||
	    w.fsize < 16 || w.io < 4096 || w.fsize > w.io) {
		fprintf(stderr, "9p-host: bad sizes\n");
		return 2;
	}
	if (!(w.base = malloc(w.io)) || !(w.buf = malloc(w.io)))
		return 1;
	pattern(w.base, w.io);
	dirs(&w, 1);
	small_files(&w, "create");
	small_files(&w, "stat");
	small_files(&w, "read");
	small_files(&w, "delete");
	sequential(&w, 1);
	sequential(&w, 0);
	dirs(&w, 0);
	return 0;
}
