/* The loading side of the VM state (vmm/vmstate.c) without KVM: a zeroed
 * struct vm with guest RAM from mem_create, vCPU and device counts set,
 * fed sections written by lib/stream's writer into a memfd and read back
 * by its reader (or built by hand where the reader itself would refuse
 * them). The CONFIG checks against the local VM and their exact log
 * lines; RAM runs landing at their guest addresses (data copied, zero
 * runs clearing a page an earlier run filled and leaving fresh RAM
 * unread, pages outside every run untouched); the
 * rejections of sections out of order, out of range or unknown; END.
 * vmstate_load_apply is not called: it needs vCPUs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/stream.h"
#include "tests/unit/guest_ram.h"
#include "vmm/vm.h"
#include "vmm/vmstate.h"
#include "stderr_capture.h"

#define PAGE STREAM_PAGE_SIZE
#define RAM_SIZE (16u << 20)

/* The CONFIG payload as vmstate.c lays it out (little-endian, no
 * padding); checked against vmstate_put_config's below. */
struct config {
	char arch[16];
	uint32_t cpus;
	uint32_t nr_regions;
	uint64_t mem_size;
	struct {
		uint64_t gpa, size;
	} regions[MEM_MAX_REGIONS];
	uint32_t transport;
	uint32_t nr_devices;
	char device_types[VM_MAX_DEVICES][16];
};

/* A snapshot's RAM_IMAGE payload (vmstate.h). */
_Static_assert(sizeof(struct vmstate_ram_image) == 32, "RAM_IMAGE layout");

static struct vm *vm;
static struct vmstate_load l;
static const struct device_type disk_type = { .name = "disk" };
static const struct device_type p9_type = { .name = "9p" };
static struct vm_device devs[2] = { { .type = &disk_type },
				    { .type = &p9_type } };

static void setup(void)
{
	struct mem_config cfg = { .size = RAM_SIZE,
				  .backend = MEM_BACKEND_ANON };

	vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	cr_assert_eq(test_mem_create(&vm->mem, &cfg), 0);
	cr_assert_eq(vm->mem.nr_regions, 1);
	vm->nr_vcpus = 2;
	vm->vdevs.transport = VM_TRANSPORT_MMIO;
	vmstate_load_init(&l, vm, -1);
}

static void teardown(void)
{
	vmstate_load_free(&l);
	mem_destroy(&vm->mem);
	free(vm);
}

TestSuite(vmstate, .init = setup, .fini = teardown);

/* ---- standard error ---- */

/* ---- streams ---- */

static int fd = -1;
static struct stream_writer w;

/* A memfd written by w, read back by next_section. */
static void stream_begin(void)
{
	fd = memfd_create("stream", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(stream_writer_init(&w, fd), 0);
}

static struct stream_reader rd;

/* Flushes what w holds and opens it for reading. */
static void stream_read_back(void)
{
	cr_assert_eq(stream_flush(&w), 0);
	stream_writer_free(&w);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	stream_reader_init(&rd, fd);
}

static void stream_end(void)
{
	stream_reader_free(&rd);
	close(fd);
	fd = -1;
}

/* Every section written since stream_begin, loaded in order while each
 * returns 0: the last result, and how many were loaded. */
static int load_written(unsigned *count)
{
	struct stream_section s;
	int r = 0;
	unsigned n = 0;

	stream_read_back();
	while (!r) {
		int e = stream_get_section(&rd, &s);

		if (e == -ENODATA)
			break;
		cr_assert_eq(e, 0, "stream_get_section: %s", rd.why);
		r = vmstate_load_section(&l, &s);
		n++;
	}
	stream_end();
	if (count)
		*count = n;
	return r;
}

/* One section through the writer and the reader into l. */
static int load_one(uint32_t id, uint32_t instance, uint32_t version,
		    const void *data, uint64_t len)
{
	stream_begin();
	cr_assert_eq(stream_put_section(&w, id, instance, version, data, len),
		     0);
	return load_written(NULL);
}

/* The same, expecting -EPROTO and exactly this one log line. */
static void refused(uint32_t id, uint32_t instance, uint32_t version,
		    const void *data, uint64_t len, const char *want_log)
{
	const char *log;
	int r;

	capture_begin();
	r = load_one(id, instance, version, data, len);
	log = capture_end();
	cr_assert_eq(r, -EPROTO, "section %u: %d, wanted -EPROTO", id, r);
	cr_assert_str_eq(log, want_log);
}

/* A section given as is (no reader: it would refuse it itself). */
static void refused_by_hand(const struct stream_section *s,
			    const char *want_log)
{
	const char *log;
	int r;

	capture_begin();
	r = vmstate_load_section(&l, s);
	log = capture_end();
	cr_assert_eq(r, -EPROTO, "section %u: %d, wanted -EPROTO", s->id, r);
	cr_assert_str_eq(log, want_log);
}

/* ---- CONFIG ---- */

/* What this VM's CONFIG must hold. */
static struct config mine(void)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	strcpy(c.arch, "x86_64");
	c.cpus = vm->nr_vcpus;
	c.nr_regions = 1;
	c.mem_size = RAM_SIZE;
	c.regions[0].gpa = 0;
	c.regions[0].size = RAM_SIZE;
	c.transport = vm->vdevs.transport;
	c.nr_devices = vm->devices.n;
	for (unsigned i = 0; i < vm->devices.n; i++)
		strcpy(c.device_types[i], vm->devices.dev[i]->type->name);
	return c;
}

static void load_config(void)
{
	struct config c = mine();

	cr_assert_eq(load_one(STREAM_SEC_CONFIG, 0, 1, &c, sizeof(c)), 0);
	cr_assert(l.have_config);
}

static void config_refused(const struct config *c, const char *want_log)
{
	refused(STREAM_SEC_CONFIG, 0, 1, c, sizeof(*c), want_log);
	cr_assert_not(l.have_config);
}

static void with_devices(unsigned n)
{
	vm->devices.n = n;
	for (unsigned i = 0; i < n; i++)
		vm->devices.dev[i] = &devs[i];
}

/* vmstate_put_config writes this VM's CONFIG: exactly struct config. */
Test(vmstate, put_config_is_the_layout_loaded)
{
	struct stream_section s;
	struct config want;

	with_devices(2);
	vm->vdevs.transport = VM_TRANSPORT_PCI;
	want = mine();
	stream_begin();
	cr_assert_eq(vmstate_put_config(vm, &w), 0);
	stream_read_back();
	cr_assert_eq(stream_get_section(&rd, &s), 0, "%s", rd.why);
	cr_assert_eq(s.id, STREAM_SEC_CONFIG);
	cr_assert_eq(s.instance, 0);
	cr_assert_eq(s.version, 1);
	cr_assert_eq(s.len, sizeof(want));
	cr_assert_eq(memcmp(s.payload, &want, sizeof(want)), 0);
	cr_assert_eq(vmstate_load_section(&l, &s), 0);
	cr_assert(l.have_config);
	stream_end();
}

Test(vmstate, config_accepted)
{
	with_devices(1);
	load_config();
	cr_assert_eq(l.ram_pages, 0);
}

Test(vmstate, section_before_config)
{
	uint8_t page[PAGE] = { 1 };
	struct stream_section end = { .id = STREAM_SEC_END };

	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0, page, 1, NULL), 0);
	capture_begin();
	cr_assert_eq(load_written(NULL), -EPROTO);
	cr_assert_str_eq(capture_end(),
			 "vmm: incoming state: section 2 before CONFIG\n");
	cr_assert_eq(*(uint8_t *)mem_ptr(&vm->mem, 0, 1), 0,
		     "RAM loaded before CONFIG");
	refused(STREAM_SEC_VCPU, 0, 1, "x", 1,
		"vmm: incoming state: section 4 before CONFIG\n");
	refused(STREAM_SEC_ARCH_VM, 0, 1, "x", 1,
		"vmm: incoming state: section 5 before CONFIG\n");
	refused_by_hand(&end, "vmm: incoming state: section 7 before CONFIG\n");
	cr_assert_not(l.have_end);
	/* CONFIG still comes first afterwards. */
	load_config();
}

Test(vmstate, second_config)
{
	struct config c = mine();

	load_config();
	refused(STREAM_SEC_CONFIG, 0, 1, &c, sizeof(c),
		"vmm: incoming state: a second CONFIG section\n");
}

Test(vmstate, config_of_another_version_or_length)
{
	uint8_t buf[sizeof(struct config) + 8];
	struct config c = mine();

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &c, sizeof(c));
	refused(STREAM_SEC_CONFIG, 0, 2, buf, sizeof(c),
		"vmm: incoming state: CONFIG section version 2, 200 bytes; "
		"this vmm reads version 1, 200 bytes\n");
	refused(STREAM_SEC_CONFIG, 0, 0, buf, sizeof(c),
		"vmm: incoming state: CONFIG section version 0, 200 bytes; "
		"this vmm reads version 1, 200 bytes\n");
	refused(STREAM_SEC_CONFIG, 0, 1, buf, sizeof(c) - 1,
		"vmm: incoming state: CONFIG section version 1, 199 bytes; "
		"this vmm reads version 1, 200 bytes\n");
	refused(STREAM_SEC_CONFIG, 0, 1, buf, sizeof(c) + 8,
		"vmm: incoming state: CONFIG section version 1, 208 bytes; "
		"this vmm reads version 1, 200 bytes\n");
	refused(STREAM_SEC_CONFIG, 0, 1, NULL, 0,
		"vmm: incoming state: CONFIG section version 1, 0 bytes; "
		"this vmm reads version 1, 200 bytes\n");
	cr_assert_not(l.have_config);
}

Test(vmstate, config_of_another_architecture)
{
	struct config c = mine();

	snprintf(c.arch, sizeof(c.arch), "aarch64");
	config_refused(&c, "vmm: incoming state: the VM is aarch64, this vmm "
			   "runs x86_64\n");
	/* An unterminated name is read up to its 15th byte. */
	memset(c.arch, 'a', sizeof(c.arch));
	config_refused(&c, "vmm: incoming state: the VM is aaaaaaaaaaaaaaa, "
			   "this vmm runs x86_64\n");
	memset(c.arch, 0, sizeof(c.arch));
	config_refused(
		&c, "vmm: incoming state: the VM is , this vmm runs x86_64\n");
}

Test(vmstate, config_of_another_cpu_count)
{
	struct config c = mine();

	c.cpus = 4;
	config_refused(&c, "vmm: incoming state: the VM has 4 vCPUs, this "
			   "one --cpus 2\n");
	c.cpus = 1;
	config_refused(&c, "vmm: incoming state: the VM has 1 vCPUs, this "
			   "one --cpus 2\n");
}

Test(vmstate, config_of_another_memory)
{
	struct config c = mine();

	c.mem_size = 32u << 20;
	c.regions[0].size = 32u << 20;
	config_refused(&c, "vmm: incoming state: the VM has 32 MiB of RAM, "
			   "this one --memory 16 MiB\n");
	/* The same size laid out otherwise is another VM too. */
	c = mine();
	c.regions[0].gpa = 1u << 20;
	config_refused(&c, "vmm: incoming state: the VM has 16 MiB of RAM, "
			   "this one --memory 16 MiB\n");
	c = mine();
	c.nr_regions = 2;
	config_refused(&c, "vmm: incoming state: the VM has 16 MiB of RAM, "
			   "this one --memory 16 MiB\n");
	c = mine();
	c.regions[1].size = 4096;
	config_refused(&c, "vmm: incoming state: the VM has 16 MiB of RAM, "
			   "this one --memory 16 MiB\n");
	c = mine();
	c.mem_size += 4096;
	config_refused(&c, "vmm: incoming state: the VM has 16 MiB of RAM, "
			   "this one --memory 16 MiB\n");
}

Test(vmstate, config_of_another_transport)
{
	struct config c = mine();

	c.transport = VM_TRANSPORT_PCI;
	config_refused(&c, "vmm: incoming state: the VM's transport is pci, "
			   "this one's mmio\n");
	vm->vdevs.transport = VM_TRANSPORT_PCI;
	c = mine();
	c.transport = VM_TRANSPORT_MMIO;
	config_refused(&c, "vmm: incoming state: the VM's transport is mmio, "
			   "this one's pci\n");
}

Test(vmstate, config_of_other_devices)
{
	struct config c;

	with_devices(1);
	c = mine();
	c.nr_devices = 0;
	memset(c.device_types, 0, sizeof(c.device_types));
	config_refused(&c, "vmm: incoming state: the VM has 0 devices, this "
			   "one 1\n");
	c = mine();
	c.nr_devices = 2;
	strcpy(c.device_types[1], "9p");
	config_refused(&c, "vmm: incoming state: the VM has 2 devices, this "
			   "one 1\n");
	c = mine();
	strcpy(c.device_types[0], "net");
	config_refused(&c, "vmm: incoming state: the VM's device 0 is --net, "
			   "this one's --disk\n");
	with_devices(2);
	c = mine();
	strcpy(c.device_types[0], "9p");
	strcpy(c.device_types[1], "disk");
	config_refused(&c, "vmm: incoming state: the VM's device 0 is --9p, "
			   "this one's --disk\n");
	c = mine();
	memset(c.device_types[1], 'x', 16); /* unterminated */
	config_refused(&c, "vmm: incoming state: the VM's device 1 is "
			   "--xxxxxxxxxxxxxxx, this one's --9p\n");
	/* A device count the arrays cannot hold is not read past them. */
	c = mine();
	c.nr_devices = 1000;
	config_refused(&c, "vmm: incoming state: the VM has 1000 devices, "
			   "this one 2\n");
	load_config();
}

/* ---- RAM ---- */

static uint8_t *guest(uint64_t gpa)
{
	uint8_t *p = mem_ptr(&vm->mem, gpa, PAGE);

	cr_assert_not_null(p);
	return p;
}

static void assert_page_filled(uint64_t gpa, uint8_t byte)
{
	const uint8_t *p = guest(gpa);

	for (unsigned i = 0; i < PAGE; i++)
		cr_assert_eq(p[i], byte,
			     "guest page %#llx byte %u: %#x, "
			     "wanted %#x",
			     (unsigned long long)gpa, i, p[i], byte);
}

/* Data runs copied; a zero run clears a page an earlier run filled (the
 * guest zeroed it between two rounds); pages outside every run left as
 * the earlier rounds made them. */
Test(vmstate, ram_runs_land_at_their_addresses)
{
	static uint8_t first[8 * PAGE], src[6 * PAGE];
	unsigned sections;

	load_config();
	/* The first round: 0x1f000-0x26000 filled, 0x23000 sent as zero. */
	for (unsigned i = 0; i < 8; i++)
		if (i != 4)
			memset(first + i * PAGE, 0x60 + i, PAGE);
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0x1f000, first, 8, NULL), 0);
	cr_assert_eq(stream_put_ram(&w, RAM_SIZE - PAGE, first, 1, NULL), 0);
	cr_assert_eq(load_written(&sections), 0);
	cr_assert_eq(sections, 2);
	/* The next round: zero, data, data, zero, zero, data from 0x20000. */
	memset(src + 1 * PAGE, 0x11, PAGE);
	memset(src + 2 * PAGE, 0x22, PAGE);
	memset(src + 5 * PAGE, 0x55, PAGE);
	src[5 * PAGE + PAGE - 1] = 0x56;
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0x20000, src, 6, NULL), 0);
	cr_assert_eq(stream_put_ram(&w, RAM_SIZE - PAGE, src + PAGE, 1, NULL),
		     0);
	cr_assert_eq(load_written(&sections), 0);
	cr_assert_eq(sections, 2);

	assert_page_filled(0x1f000, 0x60);
	assert_page_filled(0x20000, 0);
	assert_page_filled(0x21000, 0x11);
	assert_page_filled(0x22000, 0x22);
	assert_page_filled(0x23000, 0);
	assert_page_filled(0x24000, 0);
	cr_assert_eq(memcmp(guest(0x25000), src + 5 * PAGE, PAGE), 0);
	assert_page_filled(0x26000, 0x67);
	assert_page_filled(RAM_SIZE - PAGE, 0x11);
	assert_page_filled(RAM_SIZE - 2 * PAGE, 0);
	cr_assert_eq(l.ram_pages, 9 + 7);
	cr_assert_eq(l.zero_pages, 1 + 3);
}

/* A zero run over pages no run filled does not touch them: fresh RAM is
 * zero already, and reading it would map every page (the destination's
 * downtime once went into reading the idle guest's zero RAM). Data sent
 * then zeroed again is cleared page for page. */
Test(vmstate, zero_runs_leave_fresh_ram_unread)
{
	static uint8_t src[6 * PAGE]; /* the last two pages zero */
	uint8_t *zero = calloc(1, RAM_SIZE);
	uint64_t before;

	cr_assert_not_null(zero);
	load_config();
	before = mem_resident_bytes(&vm->mem);
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0, zero, RAM_SIZE / PAGE, NULL), 0);
	free(zero);
	cr_assert_eq(load_written(NULL), 0);
	cr_assert_eq(l.zero_pages, RAM_SIZE / PAGE);
	cr_assert_eq(mem_resident_bytes(&vm->mem), before,
		     "%llu bytes resident after the zero runs, %llu before",
		     (unsigned long long)mem_resident_bytes(&vm->mem),
		     (unsigned long long)before);

	memset(src, 0x42, 4 * PAGE);
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0x100000, src, 4, NULL), 0);
	cr_assert_eq(stream_put_ram(&w, 0x101000, src + 4 * PAGE, 2, NULL), 0);
	cr_assert_eq(load_written(NULL), 0);
	assert_page_filled(0x100000, 0x42);
	assert_page_filled(0x101000, 0);
	assert_page_filled(0x102000, 0);
	assert_page_filled(0x103000, 0x42);
	/* Filled again after being cleared, and cleared again. */
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0x101000, src, 1, NULL), 0);
	cr_assert_eq(stream_put_ram(&w, 0x101000, src + 4 * PAGE, 1, NULL), 0);
	cr_assert_eq(load_written(NULL), 0);
	assert_page_filled(0x101000, 0);
}

/* A run past the end of RAM is refused before a byte of it is copied. */
Test(vmstate, ram_outside_the_vm_refused)
{
	static uint8_t src[2 * PAGE];
	const char *log;

	load_config();
	memset(src, 0x42, sizeof(src));
	memset(guest(RAM_SIZE - PAGE), 0x99, PAGE);

	stream_begin();
	cr_assert_eq(stream_put_ram(&w, RAM_SIZE - PAGE, src, 2, NULL), 0);
	capture_begin();
	cr_assert_eq(load_written(NULL), -EPROTO);
	log = capture_end();
	cr_assert_str_eq(log,
			 "vmm: incoming state: RAM pages at 0xfff000+0x2000 "
			 "outside this VM's RAM\n");
	assert_page_filled(RAM_SIZE - PAGE, 0x99);

	stream_begin();
	cr_assert_eq(stream_put_ram(&w, RAM_SIZE, src, 1, NULL), 0);
	capture_begin();
	cr_assert_eq(load_written(NULL), -EPROTO);
	log = capture_end();
	cr_assert_str_eq(log,
			 "vmm: incoming state: RAM pages at 0x1000000+0x1000 "
			 "outside this VM's RAM\n");

	/* A zero run too. */
	memset(src, 0, sizeof(src));
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0x100000000ULL, src, 2, NULL), 0);
	capture_begin();
	cr_assert_eq(load_written(NULL), -EPROTO);
	log = capture_end();
	cr_assert_str_eq(log, "vmm: incoming state: RAM pages at "
			      "0x100000000+0x2000 outside this VM's RAM\n");
	cr_assert_eq(l.ram_pages, 0);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A RAM payload the cursor refuses (here built by hand; the reader
 * checks only its CRC and length). */
Test(vmstate, malformed_ram_section_refused)
{
	uint8_t run[16];
	struct stream_section s = { .id = STREAM_SEC_RAM,
				    .len = sizeof(run),
				    .payload = run };

	load_config();
	le64(run, 0x1000);
	le32(run + 8, 0); /* no pages */
	le32(run + 12, 2);
	refused_by_hand(&s, "vmm: incoming state: a malformed RAM section\n");
	le32(run + 8, 1);
	le32(run + 12, 1); /* data, but none follows */
	refused_by_hand(&s, "vmm: incoming state: a malformed RAM section\n");
	le64(run, 0x1001); /* not page-aligned */
	le32(run + 12, 2);
	refused_by_hand(&s, "vmm: incoming state: a malformed RAM section\n");
	s.len = 15;
	le64(run, 0x1000);
	refused_by_hand(&s, "vmm: incoming state: a malformed RAM section\n");
	/* The well-formed one is loaded. */
	s.len = 16;
	cr_assert_eq(vmstate_load_section(&l, &s), 0);
	cr_assert_eq(l.zero_pages, 1);
}

/* ---- RAM_IMAGE ---- */

Test(vmstate, ram_image_in_a_migration_stream_refused)
{
	struct vmstate_ram_image im = {
		.region = 0, .gpa = 0, .size = RAM_SIZE, .file_offset = 2u << 20
	};

	load_config();
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &im, sizeof(im),
		"vmm: incoming state: a RAM_IMAGE section in a migration "
		"stream\n");
	cr_assert_eq(l.images, 0);
}

/* In a snapshot (image_fd set): the section's shape and region are
 * checked, then the region is mapped from the file. */
Test(vmstate, ram_image_of_a_snapshot)
{
	struct vmstate_ram_image im = {
		.region = 0, .gpa = 0, .size = RAM_SIZE, .file_offset = 2u << 20
	};
	struct vmstate_ram_image bad;
	struct stream_section end = { .id = STREAM_SEC_END };
	int image = memfd_create("image", MFD_CLOEXEC);
	uint8_t byte = 0x5a;

	cr_assert_geq(image, 0);
	cr_assert_eq(ftruncate(image, (2u << 20) + RAM_SIZE), 0);
	cr_assert_eq(pwrite(image, &byte, 1, (2u << 20) + 0x3000), 1);
	l.image_fd = image;
	load_config();

	refused(STREAM_SEC_RAM_IMAGE, 0, 2, &im, sizeof(im),
		"vmm: incoming state: RAM_IMAGE section version 2, 32 "
		"bytes\n");
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &im, sizeof(im) - 8,
		"vmm: incoming state: RAM_IMAGE section version 1, 24 "
		"bytes\n");
	bad = im;
	bad.region = 1;
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &bad, sizeof(bad),
		"vmm: incoming state: RAM_IMAGE of region 1 (flags 0)\n");
	bad = im;
	bad.flags = 4;
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &bad, sizeof(bad),
		"vmm: incoming state: RAM_IMAGE of region 0 (flags 0x4)\n");
	bad = im;
	bad.size = RAM_SIZE / 2;
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &bad, sizeof(bad),
		"vmm: incoming state: RAM_IMAGE of region 0 does not match "
		"the VM's RAM\n");
	bad = im;
	bad.gpa = PAGE;
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &bad, sizeof(bad),
		"vmm: incoming state: RAM_IMAGE of region 0 does not match "
		"the VM's RAM\n");
	bad = im;
	bad.file_offset += 512;
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &bad, sizeof(bad),
		"vmm: incoming state: RAM_IMAGE of region 0 does not match "
		"the VM's RAM\n");
	/* END before every region is mapped. */
	refused_by_hand(&end, "vmm: incoming state: the snapshot holds the "
			      "RAM of only some regions\n");
	cr_assert_not(l.have_end);

	cr_assert_eq(load_one(STREAM_SEC_RAM_IMAGE, 0, 1, &im, sizeof(im)), 0);
	cr_assert_eq(l.images, 1);
	cr_assert_eq(*guest(0x3000), 0x5a, "the file's RAM is mapped");
	cr_assert_eq(*guest(0x2000), 0);
	/* Private: the guest's writes do not reach the file. */
	*guest(0x3000) = 1;
	cr_assert_eq(pread(image, &byte, 1, (2u << 20) + 0x3000), 1);
	cr_assert_eq(byte, 0x5a);
	refused(STREAM_SEC_RAM_IMAGE, 0, 1, &im, sizeof(im),
		"vmm: incoming state: RAM_IMAGE of region 0 (flags 0)\n");
	cr_assert_eq(vmstate_load_section(&l, &end), 1);
	close(image);
}

/* ---- the sections kept for later ---- */

Test(vmstate, vcpu_and_device_instances)
{
	with_devices(1);
	load_config();
	cr_assert_eq(load_one(STREAM_SEC_VCPU, 0, 1, "cpu0", 4), 0);
	cr_assert_eq(load_one(STREAM_SEC_VCPU, 1, 1, "cpu1", 4), 0);
	refused(STREAM_SEC_VCPU, 2, 1, "cpu2", 4,
		"vmm: incoming state: state of vCPU 2, the VM has 2\n");
	refused(STREAM_SEC_VCPU, UINT32_MAX, 1, "cpu", 3,
		"vmm: incoming state: state of vCPU 4294967295, the VM has "
		"2\n");
	cr_assert_eq(load_one(STREAM_SEC_DEVICE, 0, 1, "disk", 4), 0);
	refused(STREAM_SEC_DEVICE, 1, 1, "dev1", 4,
		"vmm: incoming state: state of device 1, the VM has 1\n");
	cr_assert_eq(load_one(STREAM_SEC_ARCH_VM, 0, 1, "arch", 4), 0);
	cr_assert_eq(load_one(STREAM_SEC_ARCH_VM, 7, 3, NULL, 0), 0);
	cr_assert_not_null(l.kept);
}

Test(vmstate, device_state_without_devices)
{
	load_config();
	refused(STREAM_SEC_DEVICE, 0, 1, "dev0", 4,
		"vmm: incoming state: state of device 0, the VM has 0\n");
	cr_assert_null(l.kept);
}

Test(vmstate, unknown_section_refused)
{
	struct stream_section s = { .id = STREAM_SEC_MAX + 1 };

	load_config();
	refused_by_hand(&s, "vmm: incoming state: unknown section 8\n");
	s.id = 0;
	refused_by_hand(&s, "vmm: incoming state: unknown section 0\n");
	s.id = UINT32_MAX;
	refused_by_hand(&s, "vmm: incoming state: unknown section "
			    "4294967295\n");
	cr_assert_null(l.kept);
}

Test(vmstate, end_completes_and_nothing_follows)
{
	struct config c = mine();
	uint8_t page[PAGE];

	load_config();
	/* Every page must have come before END: all of them as zero runs
	 * (guest RAM untouched: nothing read allocates it). */
	stream_begin();
	cr_assert_eq(stream_put_end(&w), 0);
	capture_begin();
	cr_assert_eq(load_written(NULL), -EPROTO);
	cr_assert_str_eq(capture_end(),
			 "vmm: incoming state: the stream ended with 0 of the "
			 "4096 RAM pages sent\n");
	cr_assert(!l.have_end);
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0, guest(0), RAM_SIZE / PAGE, NULL), 0);
	cr_assert_eq(stream_put_end(&w), 0);
	cr_assert_eq(load_written(NULL), 1);
	cr_assert_eq(l.ram_pages, RAM_SIZE / PAGE);
	cr_assert(l.have_end);

	refused(STREAM_SEC_END, 0, 0, NULL, 0,
		"vmm: incoming state: a section after END\n");
	refused(STREAM_SEC_CONFIG, 0, 1, &c, sizeof(c),
		"vmm: incoming state: a section after END\n");
	refused(STREAM_SEC_VCPU, 0, 1, "cpu0", 4,
		"vmm: incoming state: a section after END\n");
	cr_assert_null(l.kept);
	memset(page, 0x31, sizeof(page));
	stream_begin();
	cr_assert_eq(stream_put_ram(&w, 0, page, 1, NULL), 0);
	capture_begin();
	cr_assert_eq(load_written(NULL), -EPROTO);
	cr_assert_str_eq(capture_end(),
			 "vmm: incoming state: a section after END\n");
	assert_page_filled(0, 0);
}

/* A whole stream as a migration sends it, loaded to its END. */
Test(vmstate, whole_stream)
{
	static uint8_t src[3 * PAGE];
	struct stream_section s;
	unsigned sections;
	int r = 0;

	with_devices(2);
	memset(src, 0xa5, PAGE);
	memset(src + 2 * PAGE, 0x5a, PAGE);
	stream_begin();
	cr_assert_eq(stream_put_header(&w), 0);
	cr_assert_eq(vmstate_put_config(vm, &w), 0);
	/* Every page, as a first round sends them: the 3 given, the rest
	 * zero (7 pages below in 1 section, 4086 above in 16). */
	cr_assert_eq(stream_put_ram(&w, 0, guest(0), 7, NULL), 0);
	cr_assert_eq(stream_put_ram(&w, 0x7000, src, 3, NULL), 0);
	cr_assert_eq(stream_put_ram(&w, 0xa000, guest(0xa000),
				    RAM_SIZE / PAGE - 10, NULL),
		     0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_VCPU, 0, 1, "a", 1), 0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_VCPU, 1, 1, "b", 1), 0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_ARCH_VM, 0, 1, "c", 1),
		     0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_DEVICE, 0, 1, "d", 1),
		     0);
	cr_assert_eq(stream_put_section(&w, STREAM_SEC_DEVICE, 1, 1, "e", 1),
		     0);
	cr_assert_eq(stream_put_end(&w), 0);
	stream_read_back();
	cr_assert_eq(stream_get_header(&rd), 0, "%s", rd.why);
	for (sections = 0; !r; sections++) {
		cr_assert_eq(stream_get_section(&rd, &s), 0, "%s", rd.why);
		r = vmstate_load_section(&l, &s);
	}
	cr_assert_eq(r, 1);
	/* The reader never reads past END. */
	cr_assert_eq(stream_get_section(&rd, &s), -ENODATA);
	stream_end();
	cr_assert_eq(sections, 1 + 1 + 1 + 16 + 5 + 1);
	cr_assert(l.have_config);
	cr_assert(l.have_end);
	assert_page_filled(0x7000, 0xa5);
	assert_page_filled(0x8000, 0);
	assert_page_filled(0x9000, 0x5a);
	cr_assert_eq(l.ram_pages, RAM_SIZE / PAGE);
	cr_assert_eq(l.zero_pages, RAM_SIZE / PAGE - 2);
}
