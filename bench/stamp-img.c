/* Writes the block benchmark's disk: every 512-byte sector starts with
 * its number and a magic (little-endian u64 each), the rest is
 * pseudo-random, so the test guest's blkbench can check that each sector
 * it reads is the one it asked for.
 *   stamp-img FILE MIB [BAD_SECTOR]
 * BAD_SECTOR (for tests) gets a wrong number. Runs alone; no threads. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512
#define STAMP_MAGIC 0x706d617473626d76ULL /* "vmbstamp", as the guest's */
#define CHUNK (1u << 20)

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	static uint8_t buf[CHUNK];
	uint64_t seed = 0x2545f4914f6cdd1dULL, bad = UINT64_MAX, mib;
	char *end;
	int fd;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: stamp-img FILE MIB [BAD_SECTOR]\n");
		return 2;
	}
	mib = strtoull(argv[2], &end, 10);
	if (*end || !mib || mib > (1u << 20)) {
		fprintf(stderr, "stamp-img: bad size '%s' (MiB)\n", argv[2]);
		return 2;
	}
	if (argc == 4)
		bad = strtoull(argv[3], NULL, 10);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "stamp-img: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	for (uint64_t c = 0; c < mib; c++) {
		for (size_t i = 0; i < CHUNK; i += 8) {
			uint64_t v = xorshift(&seed);
			memcpy(buf + i, &v, 8);
		}
		for (uint64_t s = 0; s < CHUNK / SECTOR; s++) {
			uint64_t n = c * (CHUNK / SECTOR) + s;
			uint64_t v[2] = { n == bad ? n + 1 : n, STAMP_MAGIC };
			memcpy(buf + s * SECTOR, v, sizeof(v));
		}
		if (write(fd, buf, CHUNK) != CHUNK) {
			fprintf(stderr, "stamp-img: %s: write: %s\n", argv[1],
				strerror(errno));
			return 1;
		}
	}
	if (fsync(fd) || close(fd)) {
		fprintf(stderr, "stamp-img: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	return 0;
}
