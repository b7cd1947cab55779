/* Confinement: nothing a client sends reaches a host path outside the
 * export. Each attack runs through fs9p_handle against an export directory
 * inside a temporary parent that holds a "secret" file next to it. */
#include <fcntl.h>
#include <sys/mount.h>

#include "fs9p_client.h"

struct jail {
	char parent[64];
	char exp[96];
	char secret[128];
	struct tc *c;
};

static void jail_open(struct jail *j)
{
	FILE *f;

	tc_mkdtemp(j->parent);
	snprintf(j->exp, sizeof(j->exp), "%s/export", j->parent);
	snprintf(j->secret, sizeof(j->secret), "%s/secret", j->parent);
	cr_assert_eq(mkdir(j->exp, 0755), 0);
	cr_assert(f = fopen(j->secret, "w"));
	fputs("secret", f);
	fclose(f);
	j->c = tc_open_dir(j->exp, FS9P_PASSTHROUGH, false);
}

static void jail_close(struct jail *j)
{
	tc_close(j->c);
	tc_rm_rf(j->parent);
}

Test(fs9p_confine, slash_in_names_refused)
{
	struct jail j;
	struct tc *c;

	jail_open(&j);
	c = j.c;
	cr_assert_eq(tc_walk1(c, 0, 1, "../secret", NULL), -EINVAL);
	cr_assert_eq(tc_walk1(c, 0, 1, "/etc", NULL), -EINVAL);
	cr_assert_eq(tc_walk1(c, 0, 1, "", NULL), -EINVAL);
	cr_assert_eq(tc_mkdir(c, 0, "../x", 0755, 0, NULL), -EINVAL);
	cr_assert_eq(tc_lcreate(c, 0, "../x", O_RDWR, 0644, 0, NULL), -EINVAL);
	cr_assert_eq(tc_symlink(c, 0, "a/b", "x", 0, NULL), -EINVAL);
	cr_assert_eq(tc_mknod(c, 0, "..", S_IFIFO | 0644, 0, 0, 0, NULL),
		     -EINVAL);
	cr_assert_eq(tc_renameat(c, 0, "..", 0, "x"), -EINVAL);
	cr_assert_eq(tc_unlinkat(c, 0, "../secret", 0), -EINVAL);
	cr_assert_eq(tc_link(c, 0, 0, "../x"), -EINVAL);
	cr_assert_eq(access(j.secret, F_OK), 0);
	jail_close(&j);
}

/* A walk of "/" is refused wherever it starts, alone or among other
 * names (Linux 6.1's v9fs_fid_lookup_with_uid sends one when two tasks
 * race to a uid's first use of the mount root; the client turns any
 * answer into ENOENT there, see tests/linux/scenarios/9p-stress). */
Test(fs9p_confine, slash_is_no_name)
{
	const char *two[2] = { "/", "/" };
	struct tqid q[2];
	struct jail j;
	struct tc *c;

	jail_open(&j);
	c = j.c;
	cr_assert_eq(tc_walk1(c, 0, 1, "/", q), -EINVAL);
	cr_assert_eq(tc_mkdir(c, 0, "d", 0755, 0, NULL), 0);
	cr_assert_eq(tc_walk1(c, 0, 4, "d", NULL), 1);
	cr_assert_eq(tc_walk1(c, 4, 5, "/", NULL), -EINVAL);
	cr_assert_eq(tc_walkv(c, 0, 5, 2, two, q), -EINVAL);
	cr_assert_eq(tc_walk1(c, 0, 5, NULL, NULL), 0, "no fid was created");
	cr_assert_eq(access(j.secret, F_OK), 0);
	jail_close(&j);
}

Test(fs9p_confine, dotdot_at_root_stays)
{
	const char *up[16];
	struct tqid root, q[16];
	struct jail j;
	struct tc *c;

	jail_open(&j);
	c = j.c;
	for (int i = 0; i < 16; i++)
		up[i] = "..";
	cr_assert_eq(tc_walk1(c, 0, 1, NULL, NULL), 0);
	cr_assert_eq(tc_attach(c, 2, 0, &root), 0);
	cr_assert_eq(tc_walkv(c, 0, 1, 16, up, q), -EINVAL, "fid 1 exists");
	cr_assert_eq(tc_clunk(c, 1), 0);
	cr_assert_eq(tc_walkv(c, 0, 1, 16, up, q), 16);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(q[i].path, root.path);
	/* and again from there, then to the sibling */
	cr_assert_eq(tc_walkv(c, 1, 1, 16, up, q), 16);
	cr_assert_eq(tc_walk1(c, 1, 3, "secret", NULL), -ENOENT);
	/* down then up further than down */
	cr_assert_eq(tc_mkdir(c, 0, "d", 0755, 0, NULL), 0);
	const char *names[] = { "d", "..", "..", "..", "secret" };
	cr_assert_eq(tc_walkv(c, 0, 4, 5, names, q), 4, "partial: 4 qids");
	cr_assert_eq(q[1].path, root.path);
	cr_assert_eq(q[3].path, root.path);
	cr_assert_eq(tc_clunk(c, 4), -EBADF, "partial walk made no fid");
	jail_close(&j);
}

Test(fs9p_confine, symlink_out_is_never_followed)
{
	struct jail j;
	struct tc *c;
	struct tqid q[2];
	char p[PATH_MAX], buf[256];

	jail_open(&j);
	c = j.c;
	cr_assert_eq(symlink(j.parent, tc_path(c, "out", p)), 0);
	cr_assert_eq(symlink(j.secret, tc_path(c, "sec", p)), 0);
	const char *names[] = { "out", "secret" };
	cr_assert_eq(tc_walkv(c, 0, 1, 2, names, q), 1);
	cr_assert_eq(q[0].type, P9_QTSYMLINK);
	cr_assert_eq(tc_walk1(c, 0, 1, "sec", NULL), 1);
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), -ELOOP);
	cr_assert_eq(tc_readlink(c, 1, buf, sizeof(buf)),
		     (int)strlen(j.secret));
	cr_assert_str_eq(buf, j.secret);
	cr_assert_eq(tc_walk1(c, 0, 2, "out", NULL), 1);
	cr_assert_eq(tc_lcreate(c, 2, "x", O_RDWR, 0644, 0, NULL), -ENOTDIR);
	cr_assert_eq(tc_mkdir(c, 2, "x", 0755, 0, NULL), -ENOTDIR);
	cr_assert_eq(tc_unlinkat(c, 2, "secret", 0), -ENOTDIR);
	cr_assert_eq(
		tc_setattr(c, 1, P9_SETATTR_MODE, 0777, 0, 0, 0, 0, 0, 0, 0),
		-EOPNOTSUPP, "chmod would follow");
	cr_assert_eq(tc_setattr(c, 1, P9_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, 0, 0),
		     -EINVAL);
	cr_assert_eq(tc_xattrcreate(c, 1, "user.x", 0, 0), 0);
	cr_assert_eq(tc_clunk(c, 1), -EOPNOTSUPP, "xattr of a symlink");
	struct stat st;
	cr_assert_eq(stat(j.secret, &st), 0);
	cr_assert_eq(st.st_size, 6);
	cr_assert_eq(st.st_mode & 0777, 0644);
	cr_assert_eq(access(tc_path(c, "../x", p), F_OK), -1);
	jail_close(&j);
}

Test(fs9p_confine, dir_swapped_for_symlink_after_walk)
{
	struct jail j;
	struct tc *c;
	char p[PATH_MAX], out[PATH_MAX];

	jail_open(&j);
	c = j.c;
	cr_assert_eq(tc_mkdir(c, 0, "d", 0755, 0, NULL), 0);
	cr_assert_eq(tc_walk1(c, 0, 1, "d", NULL), 1);
	cr_assert_eq(tc_renameat(c, 0, "d", 0, "d2"), 0);
	cr_assert_eq(tc_symlink(c, 0, "d", j.parent, 0, NULL), 0);
	cr_assert_eq(tc_lcreate(c, 1, "x", O_RDWR, 0644, 0, NULL), 0);
	cr_assert_eq(access(tc_path(c, "d2/x", p), F_OK), 0,
		     "created in the walked directory");
	snprintf(out, sizeof(out), "%s/x", j.parent);
	cr_assert_eq(access(out, F_OK), -1, "not through the symlink");
	/* a host-side swap the same way */
	cr_assert_eq(tc_walk1(c, 0, 2, "d2", NULL), 1);
	cr_assert_eq(rename(tc_path(c, "d2", p), tc_path(c, "d3", out)), 0);
	cr_assert_eq(symlink(j.parent, tc_path(c, "d2", p)), 0);
	cr_assert_eq(tc_mkdir(c, 2, "y", 0755, 0, NULL), 0);
	cr_assert_eq(access(tc_path(c, "d3/y", p), F_OK), 0);
	snprintf(out, sizeof(out), "%s/y", j.parent);
	cr_assert_eq(access(out, F_OK), -1);
	/* a rename of a fid's directory keeps ".." inside */
	cr_assert_eq(tc_mkdir(c, 0, "a", 0755, 0, NULL), 0);
	const char *down[] = { "a" };
	cr_assert_eq(tc_walkv(c, 0, 3, 1, down, NULL), 1);
	cr_assert_eq(tc_renameat(c, 0, "a", 2, "a"), 0);
	const char *up[] = { "..", "..", "..", "secret" };
	cr_assert_eq(tc_walkv(c, 3, 4, 4, up, NULL), 3);
	jail_close(&j);
}

Test(fs9p_confine, proc_magic_links)
{
	struct jail j;
	struct tc *c;
	char p[PATH_MAX], buf[256];
	struct tqid q[4];

	jail_open(&j);
	c = j.c;
	cr_assert_eq(symlink("/proc/self/root", tc_path(c, "pr", p)), 0);
	const char *n1[] = { "pr", "etc" };
	cr_assert_eq(tc_walkv(c, 0, 1, 2, n1, q), 1);
	cr_assert_eq(mkdir(tc_path(c, "proc", p), 0755), 0);
	if (mount("proc", p, "proc", 0, NULL) == 0) {
		const char *n2[] = { "proc", "self", "root", "etc" };
		const char *n3[] = { "proc", "1", "root", "etc" };
		const char *n4[] = { "proc", "1", "root" };

		cr_assert_eq(tc_walkv(c, 0, 1, 4, n2, q), 2, "self is a link");
		cr_assert_eq(tc_walkv(c, 0, 1, 4, n3, q), 3,
			     "root not followed");
		cr_assert_eq(q[2].type, P9_QTSYMLINK);
		cr_assert_eq(tc_walkv(c, 0, 1, 3, n4, q), 3);
		cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), -ELOOP);
		/* text or an error, never the target's content */
		int rl = tc_readlink(c, 1, buf, sizeof(buf));
		cr_assert(rl < 0 || buf[0] == '/', "readlink: %d", rl);
		cr_assert_eq(tc_link(c, 0, 1, "rootlink"), -EXDEV);
		cr_assert_eq(tc_clunk(c, 1), 0);
		tc_close(c);
		j.c = NULL;
		cr_assert_eq(umount2(p, MNT_DETACH), 0);
		tc_rm_rf(j.parent);
		return;
	}
	jail_close(&j);
}

Test(fs9p_confine, nothing_outside_is_written)
{
	struct jail j;
	struct tc *c;
	char p[PATH_MAX];
	struct stat st;

	jail_open(&j);
	c = j.c;
	/* a host hard link to the outside file can be read (the server can
	 * not tell), but Tlink only links fids already inside */
	cr_assert_eq(tc_walk1(c, 0, 1, "..", NULL), 0 + 1);
	cr_assert_eq(tc_link(c, 0, 1, "rootlink"), -EPERM, "a directory");
	cr_assert_eq(tc_renameat(c, 1, "secret", 0, "stolen"), -ENOENT,
		     "fid 1 is the root itself");
	cr_assert_eq(stat(j.secret, &st), 0);
	cr_assert_eq(access(tc_path(c, "stolen", p), F_OK), -1);
	jail_close(&j);
}
