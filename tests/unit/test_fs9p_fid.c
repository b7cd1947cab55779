/* Fid lifetime: walk to a newfid, clone, clunk, reuse, unknown fids, and
 * clunks racing requests on several threads. */
#include <fcntl.h>
#include <pthread.h>

#include "fs9p_client.h"

Test(fs9p_fid, lifetime)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	struct tattr a;

	tc_host_file(c, "f", "x");
	cr_assert_eq(tc_getattr(c, 77, &a), -EBADF, "unknown fid");
	cr_assert_eq(tc_clunk(c, 77), -EBADF);
	cr_assert_eq(tc_walk1(c, 77, 78, NULL, NULL), -EBADF);
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1);
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), -EINVAL, "newfid in use");
	cr_assert_eq(tc_walk1(c, 0, 2, "nope", NULL), -ENOENT);
	cr_assert_eq(tc_getattr(c, 2, &a), -EBADF, "failed walk made no fid");
	cr_assert_eq(tc_clunk(c, 1), 0);
	cr_assert_eq(tc_getattr(c, 1, &a), -EBADF);
	cr_assert_eq(tc_walk1(c, 0, 1, "f", NULL), 1, "fid number reused");
	cr_assert_eq(tc_getattr(c, 1, &a), 0);
	cr_assert_eq(a.size, 1);
	/* walk fid onto itself */
	cr_assert_eq(tc_walk1(c, 0, 3, NULL, NULL), 0);
	cr_assert_eq(tc_walk1(c, 3, 3, "f", NULL), 1);
	cr_assert_eq(tc_getattr(c, 3, &a), 0);
	cr_assert_eq(a.size, 1);
	cr_assert_eq(tc_getattr(c, 0, &a), 0);
	cr_assert_eq(a.mode & S_IFMT, S_IFDIR, "the root fid unchanged");
	cr_assert_eq(tc_walk1(c, 0, P9_NOFID, NULL, NULL), -EINVAL);
	/* a clone of an open fid is a walked fid of its own */
	cr_assert_eq(tc_lopen(c, 1, O_RDONLY, NULL), 0);
	cr_assert_eq(tc_walk1(c, 1, 4, NULL, NULL), 0);
	cr_assert_eq(tc_read(c, 4, 0, 1, NULL), -EBADF);
	cr_assert_eq(tc_lopen(c, 4, O_RDONLY, NULL), 0);
	cr_assert_eq(tc_read(c, 4, 0, 1, NULL), 1);
	/* many fids: the table grows */
	for (uint32_t i = 100; i < 1100; i++)
		cr_assert_eq(tc_walk1(c, 0, i, NULL, NULL), 0);
	for (uint32_t i = 100; i < 1100; i += 2)
		cr_assert_eq(tc_clunk(c, i), 0);
	for (uint32_t i = 101; i < 1100; i += 2)
		cr_assert_eq(tc_getattr(c, i, &a), 0);
	cr_assert_eq(tc_getattr(c, 100, &a), -EBADF);
	tc_close(c);
}

struct racer {
	struct fs9p_session *s;
	int id;
	int errors;
};

/* One thread's request loop: walk, open, read, clunk on its own fids and
 * on a shared one other threads clunk and recreate. */
static void *race(void *arg)
{
	struct racer *r = arg;
	struct tc *c = calloc(1, sizeof(*c));

	c->s = r->s;
	c->out_len = TC_BUF;
	for (int i = 0; i < 300; i++) {
		uint32_t mine = 1000 + (uint32_t)r->id;
		char buf[8];
		struct tattr a;
		int e;

		if (tc_walk1(c, 0, mine, "f", NULL) != 1 ||
		    tc_lopen(c, mine, O_RDONLY, NULL) ||
		    tc_read(c, mine, 0, 8, buf) != 5 || tc_clunk(c, mine))
			r->errors++;
		/* the shared fid 5: any outcome but a crash is fine */
		tc_walk1(c, 0, 5, "f", NULL);
		e = tc_getattr(c, 5, &a);
		if (e && e != -EBADF)
			r->errors++;
		tc_clunk(c, 5);
	}
	free(c);
	return NULL;
}

Test(fs9p_fid, concurrent_requests_and_clunks)
{
	struct tc *c = tc_open(FS9P_PASSTHROUGH, false);
	struct racer rs[4];
	pthread_t th[4];

	tc_host_file(c, "f", "hello");
	for (int i = 0; i < 4; i++) {
		rs[i] = (struct racer){ c->s, i, 0 };
		pthread_create(&th[i], NULL, race, &rs[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(rs[i].errors, 0, "thread %d", i);
	}
	tc_close(c);
}
