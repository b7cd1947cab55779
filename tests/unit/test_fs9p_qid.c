/* QID remapping: an export spanning two host file systems never gives
 * colliding qid.path; the root's device keeps host inode numbers. */
#include <sys/mount.h>

#include "fs9p_client.h"

Test(fs9p_qid, two_file_systems_do_not_collide)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	char p[PATH_MAX], nm[32];
	struct tqid q[2];
	struct tattr a;
	struct stat st;
	uint64_t seen[40];
	int n = 0;

	cr_assert_eq(mkdir(tc_path(c, "m", p), 0755), 0);
	cr_assert_eq(mount("tmpfs", p, "tmpfs", 0, "size=1m"), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(nm, sizeof(nm), "f%d", i);
		tc_host_file(c, nm, "");
		snprintf(nm, sizeof(nm), "m/f%d", i);
		tc_host_file(c, nm, "");
	}
	for (int i = 0; i < 20; i++) {
		snprintf(nm, sizeof(nm), "f%d", i);
		cr_assert_eq(tc_walk1(c, 0, 1, nm, q), 1);
		cr_assert_eq(stat(tc_path(c, nm, p), &st), 0);
		cr_assert_eq(q[0].path, st.st_ino, "prefix 0");
		seen[n++] = q[0].path;
		cr_assert_eq(tc_clunk(c, 1), 0);
		const char *two[] = { "m", nm };
		cr_assert_eq(tc_walkv(c, 0, 1, 2, two, q), 2);
		snprintf(nm, sizeof(nm), "m/f%d", i);
		cr_assert_eq(stat(tc_path(c, nm, p), &st), 0);
		cr_assert_eq(q[1].path, 1ull << 48 | st.st_ino, "prefix 1");
		cr_assert_eq(tc_getattr(c, 1, &a), 0);
		cr_assert_eq(a.qid.path, q[1].path,
			     "getattr's inode is the qid");
		seen[n++] = q[1].path;
		cr_assert_eq(tc_clunk(c, 1), 0);
	}
	for (int i = 0; i < n; i++)
		for (int k = i + 1; k < n; k++)
			cr_assert_neq(seen[i], seen[k]);
	cr_assert_eq(umount2(tc_path(c, "m", p), MNT_DETACH), 0);
	tc_close(c);
}
