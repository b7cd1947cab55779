#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio_parse.h"
#include "vmm/initramfs.h"

/* The first header, byte for byte: ino 1, a 0755 directory, nlink 2,
 * namesize 4 ("dev" + NUL), then the name padded to 4 (110 + 4 = 114,
 * padded to 116). */
Test(initramfs, first_header_bytes_exactly)
{
	struct cpio c = { 0 };
	const char *want = "070701"
			   "00000001"
			   "000041ED"
			   "00000000"
			   "00000000"
			   "00000002"
			   "00000000"
			   "00000000"
			   "00000000"
			   "00000000"
			   "00000000"
			   "00000000"
			   "00000004"
			   "00000000"
			   "dev\0\0\0";

	cr_assert_eq(cpio_add_dir(&c, "dev", 0755), 0);
	cr_assert_eq(c.len, 116);
	cr_assert_eq(memcmp(c.data, want, 116), 0);
	cpio_free(&c);
}

Test(initramfs, entries_parse_back_with_data_and_pads)
{
	static const uint8_t five[5] = { 1, 2, 3, 4, 5 };
	struct cpio c = { 0 };
	struct cpio_ent e[8];
	int n;

	cr_assert_eq(cpio_add_dir(&c, "vmm", 0700), 0);
	cr_assert_eq(cpio_add_file(&c, "vmm/empty", 0600, NULL, 0), 0);
	cr_assert_eq(cpio_add_file(&c, "vmm/one", 0644, "x", 1), 0);
	cr_assert_eq(cpio_add_file(&c, "vmm/five", 0755, five, 5), 0);
	cr_assert_eq(cpio_add_chardev(&c, "dev/console", 0600, 5, 1), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(c.len % 4, 0);
	n = cpio_parse(c.data, c.len, e, 8);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(e[0].name, "vmm");
	cr_assert_eq(e[0].mode, S_IFDIR | 0700);
	cr_assert_eq(e[1].size, 0);
	cr_assert_eq(e[2].size, 1);
	cr_assert_eq(e[2].data[0], 'x');
	cr_assert_eq(e[3].mode, S_IFREG | 0755);
	cr_assert_eq(memcmp(e[3].data, five, 5), 0);
	cr_assert_eq(e[4].mode, S_IFCHR | 0600);
	cr_assert_eq(e[4].rmajor, 5);
	cr_assert_eq(e[4].rminor, 1);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(e[i].ino, (uint32_t)i + 1);
		cr_assert_eq(e[i].mtime, 0);
		cr_assert_eq(e[i].uid, 0);
	}
	cpio_free(&c);
}

Test(initramfs, refuses_empty_name_and_huge_file)
{
	struct cpio c = { 0 };

	cr_assert_eq(cpio_add_file(&c, "", 0644, "x", 1), -EINVAL);
	cr_assert_eq(
		cpio_add_file(&c, "big", 0644, "x", (size_t)UINT32_MAX + 1),
		-EINVAL);
	cr_assert_eq(c.len, 0);
	cpio_free(&c);
}

Test(initramfs, host_file_copied_and_missing_one_fails)
{
	char path[] = "/tmp/vmm-initramfs-XXXXXX";
	int fd = mkstemp(path);
	struct cpio c = { 0 };
	struct cpio_ent e[2];

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	cr_assert_eq(cpio_add_host_file(&c, "h", 0644, path), 0);
	cr_assert_eq(cpio_add_host_file(&c, "m", 0644, "/nonexistent/x"),
		     -ENOENT);
	cr_assert_eq(cpio_add_host_file(&c, "d", 0644, "/tmp"), -EINVAL);
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(cpio_parse(c.data, c.len, e, 2), 1);
	cr_assert_eq(e[0].size, 6);
	cr_assert_eq(memcmp(e[0].data, "hello\n", 6), 0);
	unlink(path);
	cpio_free(&c);
}

/* GNU cpio as a second, independent reader, when installed. */
Test(initramfs, gnu_cpio_lists_the_archive)
{
	char path[] = "/tmp/vmm-initramfs-XXXXXX", cmd[128], out[256] = "";
	struct cpio c = { 0 };
	FILE *p;
	size_t got;
	int fd;

	if (access("/usr/bin/cpio", X_OK))
		cr_skip_test("cpio is not installed");
	cpio_add_dir(&c, "vmm", 0755);
	cpio_add_file(&c, "vmm/init.conf", 0600, "mode=rig\0", 9);
	cpio_add_file(&c, "init", 0755,
		      "\x7f"
		      "ELF",
		      4);
	cr_assert_eq(cpio_finish(&c), 0);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, c.data, c.len), (ssize_t)c.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	cr_assert_eq(pclose(p), 0, "cpio -t: %s", out);
	cr_assert_str_eq(out, "vmm\nvmm/init.conf\ninit\n");
	unlink(path);
	cpio_free(&c);
}
