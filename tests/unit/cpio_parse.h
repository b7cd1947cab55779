/* A test-side newc cpio reader: an oracle for vmm/initramfs.c written
 * from the format's description, strict about every field and pad. */
#ifndef TESTS_UNIT_CPIO_PARSE_H
#define TESTS_UNIT_CPIO_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpio_ent {
	uint32_t ino, mode, uid, gid, nlink, mtime, size, rmajor, rminor;
	char name[256];
	const uint8_t *data;
};

static inline uint32_t cpio_hex8(const uint8_t *p, bool *ok)
{
	char s[9];
	char *end;
	uint32_t v;

	memcpy(s, p, 8);
	s[8] = '\0';
	v = (uint32_t)strtoul(s, &end, 16);
	if (end != s + 8 || strspn(s, "0123456789ABCDEF") != 8)
		*ok = false;
	return v;
}

/* Fills ents (up to max) until the trailer; returns the count, or -1 for
 * anything malformed (bad magic, digits, pads, overrun, no trailer). */
static inline int cpio_parse(const uint8_t *b, size_t len,
			     struct cpio_ent *ents, int max)
{
	size_t off = 0;
	int n = 0;

	while (off + 110 <= len && n < max) {
		struct cpio_ent *e = &ents[n];
		bool ok = memcmp(b + off, "070701", 6) == 0;
		uint32_t f[13], namesize;
		for (int i = 0; i < 13; i++)
			f[i] = cpio_hex8(b + off + 6 + 8 * i, &ok);
		namesize = f[11];
		if (!ok || f[12] != 0 || f[7] || f[8] || namesize < 2 ||
		    namesize > sizeof(e->name) || off + 110 + namesize > len ||
		    b[off + 110 + namesize - 1] != 0)
			return -1;
		memset(e, 0, sizeof(*e));
		e->ino = f[0], e->mode = f[1], e->uid = f[2], e->gid = f[3];
		e->nlink = f[4], e->mtime = f[5], e->size = f[6];
		e->rmajor = f[9], e->rminor = f[10];
		memcpy(e->name, b + off + 110, namesize);
		off += 110 + namesize;
		for (; off % 4; off++)
			if (off >= len || b[off])
				return -1;
		if (off + e->size > len)
			return -1;
		e->data = b + off;
		off += e->size;
		for (; off % 4; off++)
			if (off >= len || b[off])
				return -1;
		if (!strcmp(e->name, "TRAILER!!!"))
			return off == len ? n : -1;
		n++;
	}
	return -1;
}

static inline const struct cpio_ent *cpio_find(const struct cpio_ent *e, int n,
					       const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(e[i].name, name))
			return &e[i];
	return NULL;
}

#endif
