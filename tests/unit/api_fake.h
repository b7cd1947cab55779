/* A fake VM behind the control socket's protocol (vmm/api.h), for the
 * unit tests and the fuzz target: a paused flag, counts of the calls,
 * and an error the next pause returns when set. One thread. */
#ifndef TESTS_UNIT_API_FAKE_H
#define TESTS_UNIT_API_FAKE_H

#include <errno.h>
#include <stdbool.h>

#include "vmm/api.h"

struct api_fake {
	bool paused;
	int pauses, resumes, quits;
	int pause_error; /* returned by the next pause when set */
};

static inline int api_fake_pause(void *o)
{
	struct api_fake *f = o;

	f->pauses++;
	if (f->pause_error)
		return f->pause_error;
	if (f->paused)
		return -EALREADY;
	f->paused = true;
	return 0;
}

static inline int api_fake_resume(void *o)
{
	struct api_fake *f = o;

	f->resumes++;
	if (!f->paused)
		return -EALREADY;
	f->paused = false;
	return 0;
}

static inline void api_fake_quit(void *o)
{
	((struct api_fake *)o)->quits++;
}

static inline bool api_fake_paused(void *o)
{
	return ((struct api_fake *)o)->paused;
}

static inline struct api_ops api_fake_ops(struct api_fake *f)
{
	return (struct api_ops){ .opaque = f,
				 .pause = api_fake_pause,
				 .resume = api_fake_resume,
				 .quit = api_fake_quit,
				 .paused = api_fake_paused };
}

#endif
