/* qcow2 compressed clusters (block/qcow2.h): deflating one cluster as
 * QEMU does (zlib raw deflate, a 4 KiB window, no header), and the L2
 * entry that describes a compressed run (its byte offset in the file and
 * the count of 512 B sectors it touches beyond the first). Pure functions
 * on the caller's buffers: any thread, no state, no lock. */
#include <errno.h>
#include <zlib.h>

#include "qcow2.h"

/* QEMU's qcow2_zlib_compress: the default level, windowBits -12,
 * memLevel 9. */
long qcow2_compress_cluster(const void *in, size_t len, void *out, size_t cap)
{
	z_stream z = { 0 };
	long r;
	int zr;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	zr = deflate(&z, Z_FINISH);
	if (zr == Z_STREAM_END)
		r = (long)(cap - z.avail_out);
	else
		r = zr == Z_OK || zr == Z_BUF_ERROR ? -ENOSPC : -EIO;
	deflateEnd(&z);
	return r;
}

/* The sector count field sits above the offset: cluster_bits - 8 bits
 * wide, ending at bit 61. */
static unsigned csize_shift(unsigned cluster_bits)
{
	return 62 - (cluster_bits - 8);
}

uint64_t qcow2_compressed_entry(unsigned cluster_bits, uint64_t off,
				uint64_t len)
{
	uint64_t sectors = ((off + len - 1) >> 9) - (off >> 9);

	return QCOW2_COMPRESSED | sectors << csize_shift(cluster_bits) | off;
}

void qcow2_compressed_parse(unsigned cluster_bits, uint64_t entry,
			    uint64_t *off, uint64_t *len)
{
	unsigned shift = csize_shift(cluster_bits);
	uint64_t sectors =
		((entry >> shift) & ((1ull << (cluster_bits - 8)) - 1)) + 1;

	*off = entry & ((1ull << shift) - 1);
	*len = sectors * 512 - (*off & 511);
}

uint64_t qcow2_compressed_max_offset(unsigned cluster_bits)
{
	return 1ull << csize_shift(cluster_bits);
}
