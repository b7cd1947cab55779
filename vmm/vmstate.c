/* The VM's state as stream sections (vmstate.h). Saving runs on the
 * migration worker with every vCPU parked; loading on the main thread
 * before any vCPU runs. No state outside the caller's structs. */
#include "vmstate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/checked.h"
#include "lib/log.h"
#include "vcpu.h"
#include "vm.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the stream's structs are little-endian");

#define CONFIG_VERSION 1
#define RAM_IMAGE_VERSION 1
#define TYPE_NAME_MAX 16

/* The VM's shape: what the receiving VM's command line must match. */
struct vmstate_config {
	char arch[16];
	uint32_t cpus;
	uint32_t nr_regions;
	uint64_t mem_size;
	struct {
		uint64_t gpa, size;
	} regions[MEM_MAX_REGIONS];
	uint32_t transport;
	uint32_t nr_devices;
	char device_types[VM_MAX_DEVICES][TYPE_NAME_MAX];
};

struct vmstate_kept {
	struct vmstate_kept *next;
	struct stream_section s;
	uint8_t payload[];
};

static void config_of(struct vm *vm, struct vmstate_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->arch, "x86_64");
	c->cpus = vm->nr_vcpus;
	c->nr_regions = vm->mem.nr_regions;
	c->mem_size = vm->mem.size;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		c->regions[i].gpa = vm->mem.regions[i].gpa;
		c->regions[i].size = vm->mem.regions[i].size;
	}
	c->transport = vm->vdevs.transport;
	c->nr_devices = vm->devices.n;
	for (unsigned i = 0; i < vm->devices.n; i++)
		strncpy(c->device_types[i], vm->devices.dev[i]->type->name,
			TYPE_NAME_MAX - 1);
}

int vmstate_put_config(struct vm *vm, struct stream_writer *w)
{
	struct vmstate_config c;

	config_of(vm, &c);
	return stream_put_section(w, STREAM_SEC_CONFIG, 0, CONFIG_VERSION, &c,
				  sizeof(c));
}

int vmstate_saveable(struct vm *vm)
{
	for (unsigned i = 0; i < vm->devices.n; i++) {
		const struct device_type *t = vm->devices.dev[i]->type;
		if (!t->save) {
			log_error("the VM's --%s device cannot be saved yet",
				  t->name);
			return -ENOTSUP;
		}
	}
	return 0;
}

int vmstate_quiesce(struct vm *vm)
{
	unsigned i;
	int r = vmstate_saveable(vm);

	for (i = 0; i < vm->devices.n && !r; i++) {
		struct vm_device *d = vm->devices.dev[i];
		if (d->type->quiesce)
			r = d->type->quiesce(d->dev);
	}
	if (r)
		/* Those quiesced before the failure go on; the failed one
		 * resumed itself. */
		for (unsigned j = 0; j + 1 < i; j++) {
			struct vm_device *d = vm->devices.dev[j];
			if (d->type->resume)
				d->type->resume(d->dev);
		}
	return r;
}

void vmstate_resume(struct vm *vm)
{
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct vm_device *d = vm->devices.dev[i];
		if (d->type->resume)
			d->type->resume(d->dev);
	}
}

int vmstate_put_state(struct vm *vm, struct stream_writer *w)
{
	int r = vmstate_saveable(vm);

	for (unsigned i = 0; i < vm->nr_vcpus && !r; i++)
		r = arch_vcpu_save(&vm->vcpus[i], w);
	if (!r)
		r = arch_vm_save(vm, w);
	for (unsigned i = 0; i < vm->devices.n && !r; i++)
		r = vm->devices.dev[i]->type->save(vm->devices.dev[i]->dev, w,
						   i);
	return r;
}

void vmstate_load_init(struct vmstate_load *l, struct vm *vm, int image_fd)
{
	memset(l, 0, sizeof(*l));
	l->vm = vm;
	l->image_fd = image_fd;
	l->tail = &l->kept;
}

static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int refuse(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_error("incoming state: %s", line);
	return -EPROTO;
}

static const char *transport_name(uint32_t t)
{
	return t == VM_TRANSPORT_PCI ? "pci" : "mmio";
}

static int check_config(struct vmstate_load *l, const struct stream_section *s)
{
	struct vmstate_config mine, c;

	if (l->have_config)
		return refuse("a second CONFIG section");
	if (s->version != CONFIG_VERSION || s->len != sizeof(c))
		return refuse("CONFIG section version %u, %llu bytes; this "
			      "vmm reads version %u, %zu bytes",
			      s->version, (unsigned long long)s->len,
			      CONFIG_VERSION, sizeof(c));
	memcpy(&c, s->payload, sizeof(c));
	config_of(l->vm, &mine);
	c.arch[sizeof(c.arch) - 1] = 0;
	if (strcmp(c.arch, mine.arch))
		return refuse("the VM is %s, this vmm runs %s", c.arch,
			      mine.arch);
	if (c.cpus != mine.cpus)
		return refuse("the VM has %u vCPUs, this one --cpus %u", c.cpus,
			      mine.cpus);
	if (c.mem_size != mine.mem_size || c.nr_regions != mine.nr_regions ||
	    memcmp(c.regions, mine.regions, sizeof(c.regions)))
		return refuse("the VM has %llu MiB of RAM, this one --memory "
			      "%llu MiB",
			      (unsigned long long)c.mem_size >> 20,
			      (unsigned long long)mine.mem_size >> 20);
	if (c.transport != mine.transport)
		return refuse("the VM's transport is %s, this one's %s",
			      transport_name(c.transport),
			      transport_name(mine.transport));
	if (c.nr_devices != mine.nr_devices)
		return refuse("the VM has %u devices, this one %u",
			      c.nr_devices, mine.nr_devices);
	for (unsigned i = 0; i < c.nr_devices; i++) {
		c.device_types[i][TYPE_NAME_MAX - 1] = 0;
		if (strcmp(c.device_types[i], mine.device_types[i]))
			return refuse("the VM's device %u is --%s, this one's "
				      "--%s",
				      i, c.device_types[i],
				      mine.device_types[i]);
	}
	l->have_config = true;
	return 0;
}

/* The index of the region holding [gpa, gpa + len), or -1. */
static int region_of(const struct guest_mem *mem, gpa_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *reg = &mem->regions[i];

		if (gpa >= reg->gpa && gpa - reg->gpa < reg->size &&
		    len <= reg->size - (gpa - reg->gpa))
			return (int)i;
	}
	return -1;
}

static int load_ram(struct vmstate_load *l, const struct stream_section *s)
{
	struct stream_ram_cursor c;
	struct stream_ram_run run;
	int r;

	stream_ram_begin(&c, s);
	while ((r = stream_ram_next(&c, &run)) > 0) {
		uint64_t len = run.npages * STREAM_PAGE_SIZE;
		int i = region_of(&l->vm->mem, run.gpa, len);
		const struct mem_region *reg;
		uint64_t *filled, first;
		uint8_t *host;

		if (i < 0)
			return refuse("RAM pages at %#llx+%#llx outside this "
				      "VM's RAM",
				      (unsigned long long)run.gpa,
				      (unsigned long long)len);
		reg = &l->vm->mem.regions[i];
		if (!l->filled[i]) {
			uint64_t words =
				(reg->size / STREAM_PAGE_SIZE + 63) / 64;

			l->filled[i] = calloc(words, sizeof(uint64_t));
			if (!l->filled[i])
				return -ENOMEM;
		}
		filled = l->filled[i];
		host = reg->hva + (run.gpa - reg->gpa);
		first = (run.gpa - reg->gpa) / STREAM_PAGE_SIZE;
		if (run.data)
			memcpy(host, run.data, len);
		for (uint64_t k = 0; k < run.npages; k++) {
			uint64_t p = first + k, bit = 1ull << (p % 64);

			if (run.data)
				filled[p / 64] |= bit;
			else if (filled[p / 64] & bit) {
				/* Pages never filled are still fresh: not
				 * even read, so they stay unallocated. */
				memset(host + k * STREAM_PAGE_SIZE, 0,
				       STREAM_PAGE_SIZE);
				filled[p / 64] &= ~bit;
			}
		}
		if (!run.data)
			l->zero_pages += run.npages;
		l->ram_pages += run.npages;
	}
	return r ? refuse("a malformed RAM section") : 0;
}

static int map_ram_image(struct vmstate_load *l, const struct stream_section *s)
{
	struct guest_mem *mem = &l->vm->mem;
	struct vmstate_ram_image im;
	struct mem_region *reg;

	if (l->image_fd < 0)
		return refuse("a RAM_IMAGE section in a migration stream");
	if (s->version != RAM_IMAGE_VERSION || s->len != sizeof(im))
		return refuse("RAM_IMAGE section version %u, %llu bytes",
			      s->version, (unsigned long long)s->len);
	memcpy(&im, s->payload, sizeof(im));
	if (im.region >= mem->nr_regions || im.flags ||
	    (l->images & (1u << im.region)))
		return refuse("RAM_IMAGE of region %u (flags %#x)", im.region,
			      im.flags);
	reg = &mem->regions[im.region];
	if (im.gpa != reg->gpa || im.size != reg->size ||
	    im.file_offset % STREAM_PAGE_SIZE)
		return refuse("RAM_IMAGE of region %u does not match the "
			      "VM's RAM",
			      im.region);
	if (mmap(reg->hva, reg->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, l->image_fd,
		 (off_t)im.file_offset) == MAP_FAILED) {
		log_error("restore: mapping the RAM of region %u: %s",
			  im.region, strerror(errno));
		return -errno;
	}
	l->images |= 1u << im.region;
	return 0;
}

static int keep(struct vmstate_load *l, const struct stream_section *s)
{
	struct vmstate_kept *k = malloc(sizeof(*k) + s->len);

	if (!k)
		return -ENOMEM;
	k->next = NULL;
	k->s = *s;
	k->s.payload = k->payload;
	memcpy(k->payload, s->payload, s->len);
	*l->tail = k;
	l->tail = &k->next;
	return 0;
}

int vmstate_load_section(struct vmstate_load *l, const struct stream_section *s)
{
	if (l->have_end)
		return refuse("a section after END");
	if (!l->have_config && s->id != STREAM_SEC_CONFIG)
		return refuse("section %u before CONFIG", s->id);
	switch (s->id) {
	case STREAM_SEC_CONFIG: return check_config(l, s);
	case STREAM_SEC_RAM: return load_ram(l, s);
	case STREAM_SEC_RAM_IMAGE: return map_ram_image(l, s);
	case STREAM_SEC_VCPU:
		if (s->instance >= l->vm->nr_vcpus)
			return refuse("state of vCPU %u, the VM has %u",
				      s->instance, l->vm->nr_vcpus);
		return keep(l, s);
	case STREAM_SEC_DEVICE:
		if (s->instance >= l->vm->devices.n)
			return refuse("state of device %u, the VM has %u",
				      s->instance, l->vm->devices.n);
		return keep(l, s);
	case STREAM_SEC_ARCH_VM: return keep(l, s);
	case STREAM_SEC_END:
		if (l->image_fd >= 0 &&
		    l->images != (1u << l->vm->mem.nr_regions) - 1)
			return refuse("the snapshot holds the RAM of only "
				      "some regions");
		/* A migration's first round sends every page. */
		if (l->image_fd < 0 &&
		    l->ram_pages < l->vm->mem.size / STREAM_PAGE_SIZE)
			return refuse("the stream ended with %llu of the %llu "
				      "RAM pages sent",
				      (unsigned long long)l->ram_pages,
				      (unsigned long long)(l->vm->mem.size /
							   STREAM_PAGE_SIZE));
		l->have_end = true;
		return 1;
	default: return refuse("unknown section %u", s->id);
	}
}

int vmstate_load_apply(struct vmstate_load *l)
{
	struct vm *vm = l->vm;
	bool *seen = calloc(vm->nr_vcpus + vm->devices.n + 1, sizeof(*seen));
	int r = 0;

	if (!seen)
		return -ENOMEM;
	for (struct vmstate_kept *k = l->kept; k && !r; k = k->next) {
		const struct stream_section *s = &k->s;
		if (s->id == STREAM_SEC_VCPU) {
			if (seen[s->instance])
				r = refuse("vCPU %u's state twice",
					   s->instance);
			else
				r = arch_vcpu_restore(&vm->vcpus[s->instance],
						      s);
			seen[s->instance] = true;
		} else if (s->id == STREAM_SEC_ARCH_VM) {
			r = arch_vm_restore(vm, s);
		} else {
			struct vm_device *d = vm->devices.dev[s->instance];
			if (!d->type->restore)
				r = refuse("the --%s device cannot be "
					   "restored",
					   d->type->name);
			else
				r = d->type->restore(d->dev, s);
			seen[vm->nr_vcpus + s->instance] = true;
		}
	}
	for (unsigned i = 0; i < vm->nr_vcpus + vm->devices.n && !r; i++)
		if (!seen[i])
			r = i < vm->nr_vcpus ? refuse("no state for vCPU %u", i)
					     : refuse("no state for device %u",
						      i - vm->nr_vcpus);
	free(seen);
	return r ? r : arch_restore_done(vm);
}

void vmstate_load_free(struct vmstate_load *l)
{
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		free(l->filled[i]);
		l->filled[i] = NULL;
	}
	if (l->image_fd >= 0)
		close(l->image_fd);
	l->image_fd = -1;
	while (l->kept) {
		struct vmstate_kept *k = l->kept;
		l->kept = k->next;
		free(k);
	}
	l->tail = &l->kept;
}
