/* Decompresses a Linux kernel's compressed payload (the one inside an x86
 * bzImage) with the system's tool for its format: gzip, xz, lzma, zstd,
 * lz4, bzip2 or lzop. The kernel's build appends the unpacked size as a
 * little-endian 32-bit word to every format (gzip's own trailer ends with
 * it), so the output is checked against it and bounded by it. */
#ifndef VMM_UNPACK_H
#define VMM_UNPACK_H

#include <stddef.h>
#include <stdint.h>

/* More than any kernel image; a payload claiming more is refused. */
#define UNPACK_MAX_SIZE (1ULL << 30)

/* The format's name ("xz", ...) from the payload's magic, or NULL. */
const char *unpack_format(const uint8_t *p, size_t len);

/* Writes the unpacked payload (len bytes at p, file data: untrusted) to
 * out_fd, which it truncates first. 0, or -errno with a one-line reason
 * in why (which names the tool and its Debian package when it is
 * missing). Forks and waits for the tool; the caller's other threads
 * keep running. */
int unpack_payload(const uint8_t *p, size_t len, int out_fd, char *why,
		   size_t why_len);

#endif
