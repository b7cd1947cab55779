#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio_parse.h"
/* The init's parser is not part of vmm: compiled in here. */
#include "guest/init/conf.c"
#include "vmm/rig.h"

/* Arguments no kernel command line could carry unchanged. */
static char *const hostile_argv[] = {
	"sh",
	"-c",
	"printf '%s|' \"$@\"; exit 7",
	"two  spaces",
	"new\nline",
	"quote\"s' and \\",
	"\xc3\xbc\xc3\xb1\xc3\xad \xe2\x82\xac",
	"",
	"-- init=/bin/false",
	NULL,
};

static struct rig_user user = {
	.uid = 1000,
	.gid = 1001,
	.groups = { 1001, 27, 100 },
	.nr_groups = 3,
	.cwd = "/home/u/src dir,x",
	.env = { "PATH=/usr/bin:/bin", "HOME=/home/u", "TERM=xterm" },
	.nr_env = 3,
	.home = "/home/u",
};

static const char *const rw[] = { "/tmp" };
static char *mod_paths[] = { "/lib/modules/v/kernel/net/9p/9pnet.ko",
			     "/lib/modules/v/kernel/fs/9p/9p.ko.xz" };
static const struct module_list mods = { mod_paths, 2 };

static struct rig_request test_request(void)
{
	return (struct rig_request){
		.test = true,
		.root = "/",
		.rw = rw,
		.nr_rw = 1,
		.argv = hostile_argv,
		.argc = 9,
		.modules = &mods,
		.user = &user,
		.init_bin = (const uint8_t *)"\x7f"
					     "ELFinit",
		.init_size = 8,
	};
}

static void parse(uint8_t *buf, size_t len, struct init_conf *c)
{
	const char *why = "";

	cr_assert_eq(init_conf_parse((char *)buf, len, c, &why), 0, "%s", why);
}

Test(rig, hostile_arguments_arrive_byte_exact)
{
	struct rig_request rq = test_request();
	struct init_conf c;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(rig_conf(&rq, &buf, &len), 0);
	parse(buf, len, &c);
	cr_assert_eq(c.mode, INIT_MODE_RIG);
	cr_assert_eq(c.argc, 9);
	for (unsigned i = 0; i < 9; i++)
		cr_assert_str_eq(c.argv[i], hostile_argv[i], "arg %u", i);
	cr_assert_null(c.argv[9]);
	cr_assert_str_eq(c.cwd, "/home/u/src dir,x");
	free(buf);
}

Test(rig, identity_places_and_shares)
{
	struct rig_request rq = test_request();
	struct init_conf c;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(rig_conf(&rq, &buf, &len), 0);
	parse(buf, len, &c);
	cr_assert_eq(c.uid, 1000);
	cr_assert_eq(c.gid, 1001);
	cr_assert_eq(c.nr_groups, 3);
	cr_assert_eq(c.groups[1], 27);
	cr_assert_eq(c.nr_env, 3);
	cr_assert_str_eq(c.env[0], "PATH=/usr/bin:/bin");
	cr_assert_null(c.env[3]);
	cr_assert_str_eq(c.tag, RIG_ROOT_TAG);
	cr_assert_eq(c.msize, RIG_MSIZE);
	cr_assert_str_eq(c.cache, "loose");
	cr_assert(c.root_ro);
	cr_assert_not(c.opost);
	cr_assert_eq(c.nr_tmpfs, 4);
	cr_assert_str_eq(c.tmpfs[1], "/tmp");
	cr_assert_eq(c.nr_overlay, 3);
	cr_assert_str_eq(c.overlay[0], "/etc");
	cr_assert_str_eq(c.overlay[1], "/var");
	cr_assert_str_eq(c.overlay[2], "/home/u");
	cr_assert_eq(c.nr_shares, 1);
	cr_assert_str_eq(c.shares[0].tag, "vmmrw0");
	cr_assert_str_eq(c.shares[0].path, "/tmp");
	cr_assert_str_eq(c.share_cache, "mmap");
	cr_assert_eq(c.nr_modules, 2);
	cr_assert_str_eq(c.modules[0], "/vmm/modules/00-9pnet.ko");
	cr_assert_str_eq(c.modules[1], "/vmm/modules/01-9p.ko.xz");
	free(buf);
}

/* A home a tmpfs covers, or inside an overlaid tree, gets no overlay of
 * its own; "/" neither. */
Test(rig, home_overlay_only_where_it_helps)
{
	static const char *const homes[] = { "/tmp/h", "/var/lib/h", "/",
					     "/run/u", "relative" };
	struct rig_user u = user;
	struct rig_request rq = test_request();
	struct init_conf c;
	uint8_t *buf;
	size_t len;

	rq.user = &u;
	for (size_t i = 0; i < sizeof(homes) / sizeof(homes[0]); i++) {
		u.home = homes[i];
		cr_assert_eq(rig_conf(&rq, &buf, &len), 0);
		parse(buf, len, &c);
		cr_assert_eq(c.nr_overlay, 2, "%s", homes[i]);
		free(buf);
	}
}

Test(rig, root_mode_takes_init_from_cmdline)
{
	struct rig_request rq = {
		.root = "/srv/root",
		.user_cmdline = "console=ttyS0 init=/lib/systemd/systemd ro",
		.modules = &mods,
	};
	struct init_conf c;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(rig_conf(&rq, &buf, &len), 0);
	parse(buf, len, &c);
	cr_assert_eq(c.mode, INIT_MODE_ROOT);
	cr_assert_str_eq(c.init, "/lib/systemd/systemd");
	cr_assert_not(c.root_ro);
	cr_assert_eq(c.argc, 0);
	free(buf);
	rq.user_cmdline = NULL;
	cr_assert_eq(rig_conf(&rq, &buf, &len), 0);
	parse(buf, len, &c);
	cr_assert_null(c.init);
	free(buf);
}

Test(rig, build_cmdline_shares_and_initramfs)
{
	struct rig_request rq = test_request();
	struct rig_output o;
	struct cpio_ent e[16];
	struct init_conf c;
	const struct cpio_ent *f;
	int n;

	rq.modules = NULL;
	rq.user_cmdline = "mitigations=off";
	cr_assert_eq(rig_build(&rq, &o), 0);
	cr_assert_str_eq(o.cmdline, RIG_RIG_CMDLINE " mitigations=off");
	cr_assert_eq(o.nr_shares, 2);
	cr_assert_str_eq(o.shares[0], "/,tag=vmmroot,readonly");
	cr_assert_str_eq(o.shares[1], "/tmp,tag=vmmrw0");
	n = cpio_parse(o.initrd.data, o.initrd.len, e, 16);
	cr_assert_eq(n, 9);
	f = cpio_find(e, n, "init");
	cr_assert_not_null(f);
	cr_assert_eq(f->mode, S_IFREG | 0755);
	cr_assert_eq(memcmp(f->data,
			    "\x7f"
			    "ELFinit",
			    8),
		     0);
	f = cpio_find(e, n, "dev/console");
	cr_assert_not_null(f);
	cr_assert_eq(f->mode, S_IFCHR | 0600);
	cr_assert_eq(f->rmajor, 5);
	f = cpio_find(e, n, "vmm/init.conf");
	cr_assert_not_null(f);
	{
		char *copy = malloc(f->size);
		const char *why;
		memcpy(copy, f->data, f->size);
		cr_assert_eq(init_conf_parse(copy, f->size, &c, &why), 0);
		cr_assert_str_eq(c.argv[4], "new\nline");
		free(copy);
	}
	rig_output_free(&o);
}

Test(rig, rw_share_is_passthrough_and_root_mode_cmdline)
{
	struct rig_request rq = test_request();
	struct rig_output o;

	rq.modules = NULL;
	cr_assert_eq(rig_build(&rq, &o), 0);
	cr_assert_str_eq(o.cmdline, RIG_RIG_CMDLINE);
	cr_assert_str_eq(o.shares[0], "/,tag=vmmroot,readonly");
	cr_assert_str_eq(o.shares[1], "/tmp,tag=vmmrw0");
	rig_output_free(&o);
	rq = (struct rig_request){ .root = "/tmp",
				   .init_bin = rq.init_bin,
				   .init_size = 8 };
	cr_assert_eq(rig_build(&rq, &o), 0);
	cr_assert_str_eq(o.cmdline, RIG_ROOT_CMDLINE);
	cr_assert_eq(o.nr_shares, 1);
	cr_assert_str_eq(o.shares[0], "/tmp,tag=vmmroot");
	rig_output_free(&o);
}

Test(rig, share_paths_the_option_cannot_carry, .init = cr_redirect_stderr)
{
	static const char *const bad[] = { "/tmp/a,b" };
	static const char *const missing[] = { "/nonexistent-dir" };
	struct rig_request rq = test_request();
	struct rig_output o;

	rq.rw = bad;
	cr_assert_eq(rig_build(&rq, &o), -EINVAL);
	cr_assert_null(o.cmdline);
	rq.rw = missing;
	cr_assert_eq(rig_build(&rq, &o), -EINVAL);
	rq.rw = rw;
	rq.root = "relative";
	cr_assert_eq(rig_build(&rq, &o), -EINVAL);
}

Test(rig, module_names_per_mode)
{
	size_t n;
	const char *const *m = rig_module_names(true, false, &n);

	cr_assert_eq(n, 4);
	cr_assert_str_eq(m[0], "virtio_pci");
	cr_assert_str_eq(m[3], "overlay");
	m = rig_module_names(false, true, &n);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(m[0], "virtio_mmio");
}

/* The init vmm embeds is a static x86-64 executable (no interpreter). */
Test(rig, embedded_init_is_static_elf)
{
	const uint8_t *b = vmm_guest_init;
	size_t size = (size_t)(vmm_guest_init_end - vmm_guest_init);
	Elf64_Ehdr eh;

	cr_assert_gt(size, sizeof(eh));
	memcpy(&eh, b, sizeof(eh));
	cr_assert_eq(memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
	cr_assert_eq(eh.e_ident[EI_CLASS], ELFCLASS64);
	cr_assert_eq(eh.e_machine, EM_X86_64);
	cr_assert_leq(eh.e_phoff + (size_t)eh.e_phnum * sizeof(Elf64_Phdr),
		      size);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, b + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		cr_assert_neq(ph.p_type, PT_INTERP);
	}
}

/* A current directory under a guest tmpfs (a tree in /tmp) is shared
 * read-only at its own path, ahead of the --rw shares; one that a --rw
 * share brings is not. */
Test(rig, cwd_under_a_guest_tmpfs_is_shared)
{
	char d[] = "/tmp/vmm-rig-cwd-XXXXXX", want[64];
	struct rig_request rq = test_request();
	struct rig_user u = user;
	struct rig_output o;
	struct init_conf c;
	uint8_t *buf;
	size_t len;

	cr_assert_not_null(mkdtemp(d));
	u.cwd = d;
	rq.user = &u;
	rq.nr_rw = 0;
	rq.modules = NULL;
	cr_assert_eq(rig_build(&rq, &o), 0);
	cr_assert_eq(o.nr_shares, 2);
	snprintf(want, sizeof(want), "%s,tag=%s,readonly", d, RIG_CWD_TAG);
	cr_assert_str_eq(o.shares[1], want);
	rig_output_free(&o);
	cr_assert_eq(rig_conf(&rq, &buf, &len), 0);
	parse(buf, len, &c);
	cr_assert_eq(c.nr_shares, 1);
	cr_assert_str_eq(c.shares[0].tag, RIG_CWD_TAG);
	cr_assert_str_eq(c.shares[0].path, d);
	free(buf);

	rq.nr_rw = 1; /* --rw /tmp brings it */
	cr_assert_eq(rig_build(&rq, &o), 0);
	cr_assert_eq(o.nr_shares, 2);
	cr_assert_str_eq(o.shares[1], "/tmp,tag=vmmrw0");
	rig_output_free(&o);
	cr_assert_eq(rmdir(d), 0);
}
