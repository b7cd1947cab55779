/* The layout of a saved session (session_state.h describes it) shared by
 * session_save.c and session_restore.c: sizes, flag bits, kind codes and
 * the open flags a saved opened fid may carry. Pure definitions. */
#ifndef FS9P_SESSION_FORMAT_H
#define FS9P_SESSION_FORMAT_H

#include <fcntl.h>

#define SS_HEADER_SIZE 40
#define SS_RECORD_SIZE 42 /* a record without its names and xattr part */
#define SS_XATTR_SIZE 14  /* an xattr part without its name and value */

/* Record flags. */
#define SS_STALE 0x01u
#define SS_NAMED 0x02u

/* Record kinds: enum fid_kind's values, fixed here for the format. */
#define SS_KIND_PATH 0
#define SS_KIND_OPEN 1
#define SS_KIND_XATTR_READ 2
#define SS_KIND_XATTR_WRITE 3

/* What Tlopen and Tlcreate can leave in a fid's oflags (ops_io.c,
 * ops_create.c), O_TRUNC excepted: it is never applied again. */
#define SS_OPEN_FLAGS                                                          \
	(O_ACCMODE | O_APPEND | O_DSYNC | O_SYNC | O_DIRECTORY | O_LARGEFILE)

#endif
