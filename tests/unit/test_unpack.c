/* vmm/unpack.c: every format through its real tool, as the kernel's build
 * lays the payload out (the stream, then the unpacked size as le32 except
 * for gzip), and payloads that lie, are cut short or are garbage. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "vmm/unpack.h"

#include "read_whole.h"

#define DATA_SIZE (300 * 1024)

struct fixture {
	char dir[64];
	uint8_t *data;	  /* what the payload unpacks to */
	uint8_t *payload; /* malloc'd */
	size_t len;
	int out;
	char why[512];
};

/* Kernel-like data: compressible, not trivially. */
static void make_data(struct fixture *f)
{
	uint32_t x = 12345;

	f->data = malloc(DATA_SIZE);
	memcpy(f->data,
	       "\x7f"
	       "ELF",
	       4);
	for (size_t i = 4; i < DATA_SIZE; i++) {
		x = x * 1103515245 + 12345;
		f->data[i] =
			(x >> 16) % 7 ? (uint8_t)(i / 97) : (uint8_t)(x >> 24);
	}
}

static void setup_fixture(struct fixture *f)
{
	char path[128];

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/vmm-unpack-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	make_data(f);
	snprintf(path, sizeof(path), "%s/out", f->dir);
	f->out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(f->out, 0);
}

static void teardown_fixture(struct fixture *f)
{
	char cmd[128];

	close(f->out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	cr_assert_eq(system(cmd), 0);
	free(f->data);
	free(f->payload);
}

/* Compresses the data with CMD (reading stdin, writing stdout) and, like
 * the kernel's size_append, adds the unpacked size unless gzip's own
 * trailer carries it. */
static void make_payload(struct fixture *f, const char *cmd, bool append)
{
	char in[128], sh[512];
	FILE *fp;

	snprintf(in, sizeof(in), "%s/data", f->dir);
	fp = fopen(in, "wb");
	cr_assert_eq(fwrite(f->data, 1, DATA_SIZE, fp), DATA_SIZE);
	fclose(fp);
	snprintf(sh, sizeof(sh), "%s <%s/data >%s/payload", cmd, f->dir,
		 f->dir);
	cr_assert_eq(system(sh), 0, "%s", sh);
	snprintf(in, sizeof(in), "%s/payload", f->dir);
	free(f->payload);
	f->payload = read_whole(in, &f->len, 4);
	if (append) {
		put32(f->payload + f->len, DATA_SIZE);
		f->len += 4;
	}
}

static void assert_unpacked(struct fixture *f)
{
	uint8_t *got;
	char path[128];
	size_t n;

	snprintf(path, sizeof(path), "%s/out", f->dir);
	got = read_whole(path, &n, 0);
	cr_assert_eq(n, DATA_SIZE);
	cr_assert_eq(memcmp(got, f->data, DATA_SIZE), 0);
	free(got);
}

static struct fixture fx;

static void each_format(const char *cmd, bool append, const char *name)
{
	setup_fixture(&fx);
	make_payload(&fx, cmd, append);
	cr_assert_str_eq(unpack_format(fx.payload, fx.len), name);
	/* The output file had something in it: it must be replaced. */
	cr_assert_eq(write(fx.out, "junk", 4), 4);
	cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
				    sizeof(fx.why)),
		     0, "%s: %s", name, fx.why);
	assert_unpacked(&fx);
	teardown_fixture(&fx);
}

Test(unpack, gzip)
{
	each_format("gzip -n -9", false, "gzip");
}

Test(unpack, xz_as_the_kernel_builds_it)
{
	each_format("xz --check=crc32 --x86 --lzma2=dict=32MiB", true, "xz");
}

Test(unpack, lzma)
{
	each_format("xz --format=lzma -9", true, "lzma");
}

Test(unpack, zstd)
{
	each_format("zstd -q -19", true, "zstd");
}

Test(unpack, lz4_legacy_frames)
{
	each_format("lz4 -q -l -9", true, "lz4");
}

Test(unpack, bzip2)
{
	each_format("bzip2 -9", true, "bzip2");
}

Test(unpack, unknown_magic_and_tiny_payloads)
{
	uint8_t junk[64] = { 0x12, 0x34, 0x56, 0x78 };

	setup_fixture(&fx);
	cr_assert_null(unpack_format(junk, sizeof(junk)));
	cr_assert_eq(unpack_payload(junk, sizeof(junk), fx.out, fx.why,
				    sizeof(fx.why)),
		     -ENOTSUP);
	cr_assert_str_eq(fx.why, "unknown compression (magic 12 34 56 78)");
	cr_assert_eq(unpack_payload(junk, 15, fx.out, fx.why, sizeof(fx.why)),
		     -EINVAL);
	cr_assert_str_eq(fx.why, "the compressed payload is only 15 bytes");
	cr_assert_null(unpack_format(junk, 0));
	teardown_fixture(&fx);
}

Test(unpack, stated_size_zero_or_huge)
{
	setup_fixture(&fx);
	make_payload(&fx, "xz", true);
	put32(fx.payload + fx.len - 4, 0);
	cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
				    sizeof(fx.why)),
		     -EINVAL);
	cr_assert_str_eq(fx.why,
			 "the payload states an unpacked size of 0 bytes");
	put32(fx.payload + fx.len - 4, (1U << 30) + 1);
	cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
				    sizeof(fx.why)),
		     -EINVAL);
	cr_assert_str_eq(fx.why, "the payload states an unpacked size of "
				 "1073741825 bytes");
	teardown_fixture(&fx);
}

/* A payload that unpacks to more than it states is cut off by the file
 * size limit: the tool dies of SIGXFSZ, nothing is accepted. */
Test(unpack, more_than_stated_is_stopped)
{
	struct stat st;

	setup_fixture(&fx);
	make_payload(&fx, "zstd -q", true);
	put32(fx.payload + fx.len - 4, 4096);
	cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
				    sizeof(fx.why)),
		     -EIO);
	cr_assert(strstr(fx.why, "was killed by signal 25 (its output "
				 "outgrew the size the payload states)"),
		  "%s", fx.why);
	cr_assert_eq(fstat(fx.out, &st), 0);
	cr_assert_leq(st.st_size, 4097);
	teardown_fixture(&fx);
}

Test(unpack, less_than_stated_is_refused)
{
	char want[160];

	setup_fixture(&fx);
	make_payload(&fx, "xz", true);
	put32(fx.payload + fx.len - 4, DATA_SIZE + 1);
	cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
				    sizeof(fx.why)),
		     -EIO);
	snprintf(want, sizeof(want),
		 "xz unpacked %d bytes, the payload states %d", DATA_SIZE,
		 DATA_SIZE + 1);
	cr_assert_str_eq(fx.why, want);
	teardown_fixture(&fx);
}

/* Cut short or corrupted in the middle: the tool fails, and says so. */
Test(unpack, damaged_streams_fail)
{
	static const char *const cmds[] = { "gzip -n", "xz", "zstd -q",
					    "bzip2" };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		bool gz = i == 0;

		setup_fixture(&fx);
		make_payload(&fx, cmds[i], !gz);
		/* Keep the magic and the size word; cut the middle out. */
		memmove(fx.payload + fx.len / 2, fx.payload + fx.len - 4, 4);
		fx.len = fx.len / 2 + 4;
		cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
					    sizeof(fx.why)),
			     -EIO, "%s cut short", cmds[i]);
		cr_assert(strstr(fx.why, "failed (exit status") ||
				  strstr(fx.why, "unpacked "),
			  "%s: %s", cmds[i], fx.why);
		teardown_fixture(&fx);

		setup_fixture(&fx);
		make_payload(&fx, cmds[i], !gz);
		for (size_t j = 16; j < fx.len - 16; j += 97)
			fx.payload[j] ^= 0x5a;
		cr_assert_eq(unpack_payload(fx.payload, fx.len, fx.out, fx.why,
					    sizeof(fx.why)),
			     -EIO, "%s corrupted", cmds[i]);
		teardown_fixture(&fx);
	}
}

Test(unpack, missing_tool_names_its_package)
{
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	int r;

	setup_fixture(&fx);
	make_payload(&fx, "xz", true);
	setenv("PATH", fx.dir, 1);
	r = unpack_payload(fx.payload, fx.len, fx.out, fx.why, sizeof(fx.why));
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	cr_assert_eq(r, -ENOENT);
	cr_assert_str_eq(fx.why, "the payload is xz-compressed and xz is not "
				 "in PATH (Debian package xz-utils)");
	teardown_fixture(&fx);
}
