/* A 9p session's state for a snapshot or a live migration: what a guest
 * holding files open on a 9p mount needs to find again on a destination
 * that shares the same host directory by path. A plain byte buffer; the
 * transport (virtio-9p) puts it in its stream sections.
 *
 * Format, version FS9P_STATE_VERSION, every integer little-endian:
 *
 *   header  u32 magic FS9P_STATE_MAGIC, u32 version, u32 msize,
 *           u8 proto (0 no Tversion, 1 9P2000.L, 2 "unknown"),
 *           u8 security (0 passthrough, 1 mapped), u8 readonly (0/1),
 *           u8 0, u64 root st_dev, u64 root st_ino, u32 nfids, u32 0
 *   nfids records, by increasing fid number:
 *           u32 fid, u8 kind (0 walked, 1 opened, 2 xattr being read,
 *           3 xattr being written), u8 flags (1 STALE: no file; 2 NAMED:
 *           the last component is the name Tremove and Trename use),
 *           u8 file type (st_mode >> 12; 0 when STALE), u8 0, u32 uid
 *           (the attach's n_uname), u32 open flags (host O_*, opened
 *           only), u64 readdir position (opened only), u64 st_dev,
 *           u64 st_ino, u16 ncomp, ncomp x (u16 len, len bytes): the path
 *           from the export root, one name per component;
 *           xattr kinds then: u16 len + name (empty when read), u32 flags
 *           (XATTR_CREATE/REPLACE), u32 size announced, u32 length held,
 *           that many bytes of value
 *   nothing after the last record.
 *
 * Save: every fid's tracked path (internal.h) is checked to still lead,
 * one component at a time, to the fid's own inode. An opened fid whose
 * file is deleted (st_nlink 0: the guest removed a file it still has
 * open) or no longer at its path (renamed on the host) cannot be found
 * again: the save is refused (-ESTALE) rather than lose the guest's data.
 * A walked or xattr fid in that state is saved STALE.
 * Record locks (Tlock) are not carried over: while an opened fid holds
 * one (a read or write lock taken and no unlock of the whole file since)
 * the save is refused (-EBUSY).
 *
 * Restore: the buffer is hostile input; every length, count, flag and
 * name is checked (names single components, not "." or "..", no '/' or
 * NUL), and each path is walked again from the export root with the
 * server's confined resolution (resolve_step: openat2 beneath, no
 * symlinks), never as a path string. A path that no longer leads to a
 * file of the saved type (nor, when the export root is the saved one on
 * the same host file system, to the saved inode) is the file gone since
 * the save: for an opened fid the restore fails (-ENOENT or the walk's
 * error, why naming the fid and path), so the destination refuses the
 * guest and the source of a migration keeps running; a walked or xattr
 * fid is restored STALE: every request on it but Tclunk and Tremove gets
 * ESTALE, as a client expects of a file removed on the server. Opened
 * fids are opened again with their saved flags (O_CREAT, O_EXCL and
 * O_TRUNC are refused in the buffer), directories repositioned at their
 * readdir cookie. On any failure the session is left empty.
 *
 * Threads: both on one thread while the session is quiesced: no request
 * in flight and none submitted until the call returns (the transport has
 * drained its dispatch and stopped taking requests). The save makes only
 * the calls a saving thread's sandbox allows (fstat, newfstatat, openat
 * of one O_PATH component, close). */
#ifndef FS9P_SESSION_STATE_H
#define FS9P_SESSION_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "fs9p.h"

#define FS9P_STATE_MAGIC 0x53503946u /* "F9PS" */
#define FS9P_STATE_VERSION 1

/* The session into a malloc'd buffer (*buf, *len; the caller frees it).
 * 0, or -errno with why filled in: -ESTALE for an opened file that
 * cannot be found again, -EBUSY for a fid holding a record lock,
 * -ENOMEM, or a host call's error. */
int fs9p_session_save(struct fs9p_session *s, uint8_t **buf, size_t *len,
		      char *why, size_t why_len);

/* Into s, which has no fid yet (a fresh session: -EBUSY otherwise). 0, or
 * -errno with why filled in: -EPROTO for a buffer that is not a valid
 * state or does not fit this session (version, security model,
 * read-only, msize above the session's maximum), -ENOENT and the like
 * for an opened file gone since the save. */
int fs9p_session_restore(struct fs9p_session *s, const uint8_t *buf, size_t len,
			 char *why, size_t why_len);

#endif
