/* 9P2000.L wire constants (message numbers, qid types, attribute masks,
 * lock values, open flags) as chaos/diod's protocol.md and the Linux
 * client define them. No Linux header carries them. Pure definitions. */
#ifndef FS9P_PROTO_H
#define FS9P_PROTO_H

enum p9_type {
	P9_TLERROR = 6,
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_TLOPEN = 12,
	P9_TLCREATE = 14,
	P9_TSYMLINK = 16,
	P9_TMKNOD = 18,
	P9_TRENAME = 20,
	P9_TREADLINK = 22,
	P9_TGETATTR = 24,
	P9_TSETATTR = 26,
	P9_TXATTRWALK = 30,
	P9_TXATTRCREATE = 32,
	P9_TREADDIR = 40,
	P9_TFSYNC = 50,
	P9_TLOCK = 52,
	P9_TGETLOCK = 54,
	P9_TLINK = 70,
	P9_TMKDIR = 72,
	P9_TRENAMEAT = 74,
	P9_TUNLINKAT = 76,
	P9_TVERSION = 100,
	P9_TAUTH = 102,
	P9_TATTACH = 104,
	P9_TFLUSH = 108,
	P9_TWALK = 110,
	P9_TREAD = 116,
	P9_TWRITE = 118,
	P9_TCLUNK = 120,
	P9_TREMOVE = 122,
};

#define P9_NOFID 0xffffffffu
#define P9_NONUNAME 0xffffffffu
#define P9_NOTAG 0xffff
#define P9_MAXWELEM 16
#define P9_QID_SIZE 13
#define P9_IOHDRSZ 24	 /* Twrite's header: what iounit leaves out */
#define P9_READHDRSZ 11	 /* size type tag count */
#define P9_WRITEHDRSZ 23 /* size type tag fid offset count */

#define P9_QTDIR 0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE 0x00

#define P9_GETATTR_BASIC 0x000007ffull

#define P9_SETATTR_MODE 0x001u
#define P9_SETATTR_UID 0x002u
#define P9_SETATTR_GID 0x004u
#define P9_SETATTR_SIZE 0x008u
#define P9_SETATTR_ATIME 0x010u
#define P9_SETATTR_MTIME 0x020u
#define P9_SETATTR_CTIME 0x040u
#define P9_SETATTR_ATIME_SET 0x080u
#define P9_SETATTR_MTIME_SET 0x100u

#define P9_LOCK_TYPE_RDLCK 0
#define P9_LOCK_TYPE_WRLCK 1
#define P9_LOCK_TYPE_UNLCK 2
#define P9_LOCK_FLAGS_BLOCK 1
#define P9_LOCK_SUCCESS 0
#define P9_LOCK_BLOCKED 1
#define P9_LOCK_ERROR 2

#define P9_AT_REMOVEDIR 0x200

/* Tlopen/Tlcreate flags (the Linux client's P9_DOTL_*; equal to x86
 * Linux's O_* values, not to every architecture's). */
#define P9_DOTL_ACCMODE 03
#define P9_DOTL_CREATE 0100
#define P9_DOTL_EXCL 0200
#define P9_DOTL_NOCTTY 0400
#define P9_DOTL_TRUNC 01000
#define P9_DOTL_APPEND 02000
#define P9_DOTL_NONBLOCK 04000
#define P9_DOTL_DSYNC 010000
#define P9_DOTL_FASYNC 020000
#define P9_DOTL_DIRECT 040000
#define P9_DOTL_LARGEFILE 0100000
#define P9_DOTL_DIRECTORY 0200000
#define P9_DOTL_NOFOLLOW 0400000
#define P9_DOTL_NOATIME 01000000
#define P9_DOTL_CLOEXEC 02000000
#define P9_DOTL_SYNC 04000000

#endif
