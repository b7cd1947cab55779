#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/modules.h"

static char tree[64];

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* The shape of Debian's tree, deliberately out of order, with xz and
 * zstd names and virtio_pci built in. */
static void fake_tree(void)
{
	strcpy(tree, "/tmp/vmm-modules-XXXXXX");
	cr_assert_not_null(mkdtemp(tree));
	write_file(
		"modules.dep",
		"kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz "
		"kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko\n"
		"kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko\n"
		"kernel/fs/netfs/netfs.ko:\n"
		"kernel/net/9p/9pnet.ko.xz:\n"
		"kernel/net/9p/9pnet_virtio.ko.zst: kernel/net/9p/9pnet.ko.xz "
		"kernel/drivers/virtio/virtio.ko "
		"kernel/drivers/virtio/virtio_ring.ko\n"
		"kernel/drivers/virtio/virtio.ko: "
		"kernel/drivers/virtio/virtio_ring.ko\n"
		"kernel/drivers/virtio/virtio_ring.ko:\n"
		"kernel/fs/overlayfs/overlay.ko:\n");
	write_file("modules.builtin", "kernel/drivers/virtio/virtio_pci.ko\n"
				      "kernel/fs/ext4/ext4.ko\n");
}

static void cleanup_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
	cr_assert_eq(system(cmd), 0);
}

static const char *rel(const struct module_list *l, size_t i)
{
	return l->paths[i] + strlen(tree) + 1;
}

Test(modules, closure_in_dependency_order_builtin_skipped, .init = fake_tree,
     .fini = cleanup_tree)
{
	const char *want[] = { "virtio_pci", "9pnet_virtio", "9p", "overlay" };
	const char *order[] = {
		"kernel/net/9p/9pnet.ko.xz",
		"kernel/drivers/virtio/virtio_ring.ko",
		"kernel/drivers/virtio/virtio.ko",
		"kernel/net/9p/9pnet_virtio.ko.zst",
		"kernel/fs/netfs/netfs.ko",
		"kernel/fs/fscache/fscache.ko",
		"kernel/fs/9p/9p.ko.xz",
		"kernel/fs/overlayfs/overlay.ko",
	};
	struct module_list l;

	cr_assert_eq(modules_resolve(tree, want, 4, &l), 0);
	cr_assert_eq(l.n, 8);
	for (size_t i = 0; i < 8; i++) {
		cr_assert_eq(strncmp(l.paths[i], tree, strlen(tree)), 0);
		cr_assert_str_eq(rel(&l, i), order[i]);
	}
	module_list_free(&l);
	cr_assert_eq(l.n, 0);
}

Test(modules, dash_and_underscore_alike, .init = fake_tree,
     .fini = cleanup_tree)
{
	const char *want[] = { "9pnet-virtio" };
	struct module_list l;

	cr_assert_eq(modules_resolve(tree, want, 1, &l), 0);
	cr_assert_eq(l.n, 4);
	cr_assert_str_eq(rel(&l, 3), "kernel/net/9p/9pnet_virtio.ko.zst");
	module_list_free(&l);
}

Test(modules, missing_module_is_enoent, .init = fake_tree, .fini = cleanup_tree)
{
	const char *want[] = { "9p", "no_such_module" };
	struct module_list l;

	cr_redirect_stderr();
	cr_assert_eq(modules_resolve(tree, want, 2, &l), -ENOENT);
	cr_assert_eq(l.n, 0);
	cr_assert_null(l.paths);
}

Test(modules, malformed_trees_refused, .init = fake_tree, .fini = cleanup_tree)
{
	const char *want[] = { "a" };
	struct module_list l;

	cr_redirect_stderr();
	write_file("modules.dep", "kernel/a.ko kernel/b.ko\n");
	cr_assert_eq(modules_resolve(tree, want, 1, &l), -EINVAL);
	write_file("modules.dep", "kernel/a.ko: kernel/b.ko\n");
	cr_assert_eq(modules_resolve(tree, want, 1, &l), -EINVAL);
	write_file("modules.dep", "kernel/a.ko: kernel/b.ko\n"
				  "kernel/b.ko: kernel/a.ko\n");
	cr_assert_eq(modules_resolve(tree, want, 1, &l), -EINVAL);
	cr_assert_eq(modules_resolve("/nonexistent", want, 1, &l), -ENOENT);
}

Test(modules, no_builtin_file_means_none_built_in, .init = fake_tree,
     .fini = cleanup_tree)
{
	const char *want[] = { "virtio_pci" };
	char path[128];
	struct module_list l;

	cr_redirect_stderr();
	snprintf(path, sizeof(path), "%s/modules.builtin", tree);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(modules_resolve(tree, want, 1, &l), -ENOENT);
}

Test(modules, module_names)
{
	char n[16];

	cr_assert_eq(module_name("a/b/9pnet_virtio.ko.zst", n, 16), 0);
	cr_assert_str_eq(n, "9pnet_virtio");
	cr_assert_eq(module_name("x/virtio-rng.ko.xz", n, 16), 0);
	cr_assert_str_eq(n, "virtio_rng");
	cr_assert_eq(module_name("overlay.ko.gz", n, 16), 0);
	cr_assert_str_eq(n, "overlay");
	cr_assert_eq(module_name("9p", n, 16), 0);
	cr_assert_str_eq(n, "9p");
	cr_assert_eq(module_name("dir/", n, 16), -EINVAL);
	cr_assert_eq(module_name("a_very_long_module_name.ko", n, 16), -EINVAL);
}

static void header(uint8_t *img, uint16_t protocol, uint16_t kv)
{
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = (uint8_t)protocol;
	img[0x207] = (uint8_t)(protocol >> 8);
	img[0x20e] = (uint8_t)kv;
	img[0x20f] = (uint8_t)(kv >> 8);
}

Test(modules, version_from_bzimage_header)
{
	static uint8_t img[0x1000];
	char v[KERNEL_VERSION_MAX];

	header(img, 0x20f, 0x100);
	strcpy((char *)img + 0x300, "6.1.0-test (me@host) #1 SMP");
	cr_assert_eq(kernel_version(img, sizeof(img), v), 0);
	cr_assert_str_eq(v, "6.1.0-test");
	/* Pointer past the end, protocol too old, no magic. */
	header(img, 0x20f, 0xf00);
	cr_assert_eq(kernel_version(img, sizeof(img), v), -ENOENT);
	header(img, 0x1ff, 0x100);
	cr_assert_eq(kernel_version(img, sizeof(img), v), -ENOENT);
	memset(img, 0, sizeof(img));
	cr_assert_eq(kernel_version(img, sizeof(img), v), -ENOENT);
	/* A string that runs to the end of the image is no version. */
	header(img, 0x20f, 0xdf8);
	memcpy(img + 0xff8, "6.1.0-xx", 8);
	cr_assert_eq(kernel_version(img, sizeof(img), v), -ENOENT);
}

Test(modules, version_from_vmlinux_banner)
{
	static const char elf[] = "\x7f"
				  "ELF....Linux version 6.9.1-foo (gcc 13) #2";
	char v[KERNEL_VERSION_MAX];

	cr_assert_eq(kernel_version((const uint8_t *)elf, sizeof(elf), v), 0);
	cr_assert_str_eq(v, "6.9.1-foo");
}

static long index_of(const struct module_list *l, const char *suffix)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->paths[i]), k = strlen(suffix);
		if (n >= k && !strcmp(l->paths[i] + n - k, suffix))
			return (long)i;
	}
	cr_assert_fail("%s not in the list", suffix);
	return -1;
}

/* The real Debian kernel and its tree, when scripts/get-kernel fetched
 * them: the version read from the image names the tree beside it, and
 * the rig's modules resolve with virtio_pci modular there. */
Test(modules, real_kernel_and_tree)
{
	const char *bz = "build/kernel/bzImage";
	char v[KERNEL_VERSION_MAX], dir[256];
	const char *want[] = { "virtio_pci", "9pnet_virtio", "9p", "overlay" };
	struct module_list l;

	if (access(bz, R_OK))
		cr_skip_test("no %s", bz);
	cr_assert_eq(kernel_version_file(bz, v), 0);
	snprintf(dir, sizeof(dir), "build/kernel/root/lib/modules/%s", v);
	if (access(dir, R_OK))
		cr_skip_test("no %s", dir);
	cr_assert_eq(modules_resolve(dir, want, 4, &l), 0);
	for (size_t i = 0; i < l.n; i++)
		cr_assert_eq(access(l.paths[i], R_OK), 0, "%s", l.paths[i]);
	cr_assert_lt(index_of(&l, "/9pnet.ko"),
		     index_of(&l, "/9pnet_virtio.ko"));
	cr_assert_lt(index_of(&l, "/9pnet.ko"), index_of(&l, "/fs/9p/9p.ko"));
	cr_assert_lt(index_of(&l, "/netfs.ko"), index_of(&l, "/fs/9p/9p.ko"));
	cr_assert_lt(index_of(&l, "/virtio.ko"),
		     index_of(&l, "/virtio_pci.ko"));
	cr_assert_lt(index_of(&l, "/virtio_ring.ko"),
		     index_of(&l, "/virtio.ko"));
	cr_assert_geq(index_of(&l, "/overlay.ko"), 0);
	module_list_free(&l);
}
