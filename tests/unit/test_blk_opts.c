#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/blk_opts.h"

static int parse(const char *s, struct vblk_config *cfg, const char **why)
{
	static char buf[256];
	strcpy(buf, s);
	return vblk_parse_opt(buf, cfg, why);
}

Test(blk_opts, defaults_and_every_option)
{
	struct vblk_config c;
	const char *why = NULL;

	cr_assert_eq(parse("/var/disk.img", &c, &why), 0);
	cr_assert_str_eq(c.path, "/var/disk.img");
	cr_assert(!c.readonly && !c.direct);
	cr_assert_eq(c.queues, 1);
	cr_assert_eq(c.serial[0], 0);
	cr_assert_null(c.format,
		       "no format= leaves the default (raw) to vblk_init");
	cr_assert_eq(c.poll_max_ns, 32768, "QEMU's poll-max-ns default");
	cr_assert_eq(c.poll_host_max_ns, 262144);
	cr_assert_eq(
		parse("d.img,format=raw,readonly,cache=none,queues=4,serial=ABC123,poll_max_ns=0,poll_host_max_ns=0",
		      &c, &why),
		0, "%s", why);
	cr_assert_eq(c.poll_max_ns, 0);
	cr_assert_eq(c.poll_host_max_ns, 0);
	cr_assert(c.readonly && c.direct);
	cr_assert_str_eq(c.format, "raw");
	cr_assert_eq(c.queues, 4);
	cr_assert_str_eq(c.serial, "ABC123");
	cr_assert_eq(parse("d.img,cache=writeback,serial=12345678901234567890",
			   &c, &why),
		     0);
	cr_assert(!c.direct);
	cr_assert_eq(strlen(c.serial), 20);
	cr_assert_eq(parse("d.img,poll_max_ns=1000000000", &c, &why), 0);
	cr_assert_eq(c.poll_max_ns, 1000000000);
	cr_assert_eq(c.poll_host_max_ns, 262144, "each maximum its own");
	cr_assert_eq(parse("d.img,poll_host_max_ns=1000000000", &c, &why), 0);
	cr_assert_eq(c.poll_host_max_ns, 1000000000);
	cr_assert_eq(c.poll_max_ns, 32768);
}

Test(blk_opts, bad_options)
{
	static const char *bad[] = {
		"",
		",readonly",
		"d.img,format=vmdk",
		"d.img,cache=unsafe",
		"d.img,queues=0",
		"d.img,queues=9",
		"d.img,queues=-1",
		"d.img,queues=2x",
		"d.img,queues=18446744073709551617",
		"d.img,serial=123456789012345678901",
		"d.img,bogus",
		"d.img,bogus=1",
		"d.img,readonly=yes",
		"d.img,format=file",
		"d.img,format=",
		"d.img,format",
		"d.img,format=RAW",
		"d.img,format=raw,format=qcow2",
		"d.img,poll_max_ns=1000000001",
		"d.img,poll_max_ns=-1",
		"d.img,poll_max_ns=",
		"d.img,poll_max_ns=32us",
		"d.img,poll_host_max_ns=1000000001",
		"d.img,poll_host_max_ns=-1",
		"d.img,poll_host_max_ns=",
		"d.img,poll_host_max_ns",
		"d.img,poll_host_max_ns=256us",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vblk_config c;
		const char *why = NULL;
		cr_assert_eq(parse(bad[i], &c, &why), -EINVAL, "'%s' accepted",
			     bad[i]);
		cr_assert_not_null(why, "'%s' has no reason", bad[i]);
	}
}

Test(blk_opts, format_errors_name_the_known_formats)
{
	static const char *bad[] = {
		"d.img,format=vmdk",
		"d.img,format=file",
		"d.img,format=",
		"d.img,format=QCOW2",
		"d.img,readonly,format=vmdk",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vblk_config c;
		const char *why = NULL;
		cr_assert_eq(parse(bad[i], &c, &why), -EINVAL, "'%s' accepted",
			     bad[i]);
		cr_assert_str_eq(why,
				 "format must be one of: raw, qcow2, qed, auto",
				 "'%s'", bad[i]);
	}
}

Test(blk_opts, format_raw_is_accepted_anywhere)
{
	struct vblk_config c;
	const char *why = NULL;

	cr_assert_eq(parse("d.img,format=raw", &c, &why), 0, "%s", why);
	cr_assert_eq(parse("d.img,readonly,format=raw,queues=2", &c, &why), 0,
		     "%s", why);
	cr_assert(c.readonly);
	cr_assert_eq(c.queues, 2);
}

Test(blk_opts, format_qcow2_is_accepted)
{
	struct vblk_config c;
	const char *why = NULL;

	cr_assert_eq(parse("d.qcow2,format=qcow2,queues=2", &c, &why), 0, "%s",
		     why);
	cr_assert_str_eq(c.format, "qcow2");
	cr_assert_eq(parse("d.img,format=auto", &c, &why), 0, "%s", why);
	cr_assert_str_eq(c.format, "auto");
}
