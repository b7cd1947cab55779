/* hvm_start_info (PVH boot ABI, version 1) and key=value arguments from
 * its command line. */
#include "guest.h"

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

static const struct hvm_start_info *info;

void pvh_init(uint32_t start_info)
{
	info = (const struct hvm_start_info *)(uint64_t)start_info;
	if (info->magic != 0x336ec578) {
		printf("guest: bad hvm_start_info magic %x\n", info->magic);
		guest_exit(4);
	}
}

const char *pvh_cmdline(void)
{
	return info->cmdline_paddr ? (const char *)info->cmdline_paddr : "";
}

uint64_t pvh_rsdp(void)
{
	return info->rsdp_paddr;
}

unsigned pvh_memmap(const struct memmap_entry **entries)
{
	if (info->version < 1 || !info->memmap_paddr)
		return 0;
	*entries = (const struct memmap_entry *)info->memmap_paddr;
	return info->memmap_entries;
}

const char *arg(const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = pvh_cmdline(); *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = 0;
			p += klen + 1;
			while (*p && *p != ' ' && n + 1 < size)
				buf[n++] = *p++;
			buf[n] = 0;
			return buf;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

uint64_t arg_u64(const char *key, uint64_t dflt)
{
	char buf[32];
	return arg(key, buf, sizeof(buf)) ? parse_u64(buf, 0) : dflt;
}
