/* Main thread at start-up (the kernel loader); no state of its own. The
 * tool runs in a forked child that only calls async-signal-safe functions
 * before exec, as the parent may already have other threads. */
#include "unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/bytes.h"

struct format {
	const char *name;
	uint8_t magic[4];
	size_t magic_len;
	bool size_in_stream; /* gzip: the size word is its own trailer */
	const char *tool, *package;
	const char *argv[4];
};

static const struct format formats[] = {
	{ "gzip", { 0x1f, 0x8b }, 2, true, "gzip", "gzip", { "gzip", "-dc" } },
	{ "xz",
	  { 0xfd, '7', 'z', 'X' },
	  4,
	  false,
	  "xz",
	  "xz-utils",
	  { "xz", "-dc" } },
	{ "lzma",
	  { 0x5d, 0x00, 0x00 },
	  3,
	  false,
	  "xz",
	  "xz-utils",
	  { "xz", "-dc", "--format=lzma" } },
	{ "zstd",
	  { 0x28, 0xb5, 0x2f, 0xfd },
	  4,
	  false,
	  "zstd",
	  "zstd",
	  { "zstd", "-dc" } },
	/* The kernel's lz4 payload is in the legacy frame format (lz4 -l). */
	{ "lz4",
	  { 0x02, 0x21, 0x4c, 0x18 },
	  4,
	  false,
	  "lz4",
	  "lz4",
	  { "lz4", "-dc" } },
	{ "bzip2",
	  { 'B', 'Z', 'h' },
	  3,
	  false,
	  "bzip2",
	  "bzip2",
	  { "bzip2", "-dc" } },
	{ "lzo",
	  { 0x89, 'L', 'Z', 'O' },
	  4,
	  false,
	  "lzop",
	  "lzop",
	  { "lzop", "-dc" } },
};

static const struct format *format_of(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (len >= formats[i].magic_len &&
		    !memcmp(p, formats[i].magic, formats[i].magic_len))
			return &formats[i];
	return NULL;
}

const char *unpack_format(const uint8_t *p, size_t len)
{
	const struct format *f = format_of(p, len);

	return f ? f->name : NULL;
}

/* The tool's path from $PATH, resolved here because the child must not
 * allocate. */
static int find_tool(const char *tool, char out[PATH_MAX])
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n &&
		    (size_t)snprintf(out, PATH_MAX, "%.*s/%s", (int)n, path,
				     tool) < PATH_MAX &&
		    !access(out, X_OK))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static int input_memfd(const uint8_t *p, size_t len)
{
	int fd = memfd_create("vmm-kernel-payload", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Never returns. Only async-signal-safe calls. */
static void child(const char *path, const struct format *f, int in_fd,
		  int out_fd, uint64_t limit)
{
	struct rlimit fsize = { limit, limit };
	sigset_t none;
	int null = open("/dev/null", O_WRONLY);

	/* Output past the size the payload states: SIGXFSZ ends the tool. */
	signal(SIGXFSZ, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setrlimit(RLIMIT_FSIZE, &fsize) || dup2(in_fd, 0) < 0 ||
	    dup2(out_fd, 1) < 0 || null < 0 || dup2(null, 2) < 0)
		_exit(126);
	execv(path, (char *const *)f->argv);
	_exit(127);
}

static int run_tool(const char *path, const struct format *f, int in_fd,
		    int out_fd, uint64_t limit, char *why, size_t why_len)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		int e = errno;
		snprintf(why, why_len, "fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0)
		child(path, f, in_fd, out_fd, limit);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			int e = errno;
			snprintf(why, why_len, "waitpid: %s", strerror(e));
			return -e;
		}
	if (WIFSIGNALED(status)) {
		snprintf(why, why_len, "%s was killed by signal %d%s", path,
			 WTERMSIG(status),
			 WTERMSIG(status) == SIGXFSZ
				 ? " (its output outgrew the size the payload "
				   "states)"
				 : "");
		return -EIO;
	}
	if (WEXITSTATUS(status)) {
		snprintf(why, why_len,
			 "%s failed (exit status %d): the %s "
			 "payload is damaged",
			 path, WEXITSTATUS(status), f->name);
		return -EIO;
	}
	return 0;
}

int unpack_payload(const uint8_t *p, size_t len, int out_fd, char *why,
		   size_t why_len)
{
	const struct format *f = format_of(p, len);
	char path[PATH_MAX];
	struct stat st;
	uint32_t size;
	int in_fd, r;

	if (len < 16) {
		snprintf(why, why_len,
			 "the compressed payload is only %zu "
			 "bytes",
			 len);
		return -EINVAL;
	}
	if (!f) {
		snprintf(why, why_len,
			 "unknown compression (magic %02x %02x "
			 "%02x %02x)",
			 p[0], p[1], p[2], p[3]);
		return -ENOTSUP;
	}
	size = get32(p + len - 4);
	if (size == 0 || size > UNPACK_MAX_SIZE) {
		snprintf(why, why_len,
			 "the payload states an unpacked size of "
			 "%u bytes",
			 size);
		return -EINVAL;
	}
	if (find_tool(f->tool, path)) {
		snprintf(why, why_len,
			 "the payload is %s-compressed and %s is "
			 "not in PATH (Debian package %s)",
			 f->name, f->tool, f->package);
		return -ENOENT;
	}
	in_fd = input_memfd(p, f->size_in_stream ? len : len - 4);
	if (in_fd < 0) {
		snprintf(why, why_len, "memfd: %s", strerror(-in_fd));
		return in_fd;
	}
	if (ftruncate(out_fd, 0) || lseek(out_fd, 0, SEEK_SET)) {
		r = -errno;
		snprintf(why, why_len, "truncating the output: %s",
			 strerror(-r));
	} else {
		/* One byte over the stated size is enough to catch a lie. */
		r = run_tool(path, f, in_fd, out_fd, (uint64_t)size + 1, why,
			     why_len);
	}
	close(in_fd);
	if (r)
		return r;
	if (fstat(out_fd, &st)) {
		r = -errno;
		snprintf(why, why_len, "fstat: %s", strerror(-r));
		return r;
	}
	if ((uint64_t)st.st_size != size) {
		snprintf(why, why_len,
			 "%s unpacked %lld bytes, the payload "
			 "states %u",
			 f->tool, (long long)st.st_size, size);
		return -EIO;
	}
	return 0;
}
