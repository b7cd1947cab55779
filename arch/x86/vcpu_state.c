/* One x86 vCPU's state to and from its stream section (arch/arch.h,
 * state.h): registers, FPU/SSE/AVX (XSAVE), XCR0, MSRs, LAPIC, pending
 * events, MP state, debug registers, TSC frequency.
 *
 * arch_vcpu_save runs on the thread writing the stream while every vCPU
 * is parked outside KVM_RUN; arch_vcpu_restore on the main thread before
 * any vCPU runs. KVM serializes the ioctls of one vCPU fd (its vcpu
 * mutex); the state is in a buffer of the call's own: no lock, no global
 * mutable state. */
#include "arch/arch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <zlib.h>

#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/stream.h"
#include "state.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* KVM's MSR list is some 100 entries long; more is not KVM. */
#define MSR_INDEX_LIST_MAX 4096

static int vcpu_ioctl(const struct vcpu *v, unsigned long req, void *arg,
		      const char *name)
{
	int e;

	if (ioctl(v->fd, req, arg) >= 0)
		return 0;
	e = errno;
	log_error("vCPU %u: %s: %s", v->id, name, strerror(e));
	return -e;
}

#define VCPU_IOCTL(v, req, arg) vcpu_ioctl(v, req, arg, #req)

static int vm_cap(const struct vcpu *v, long cap)
{
	int r = ioctl(v->vm->vm_fd, KVM_CHECK_EXTENSION, cap);

	return r > 0 ? r : 0;
}

/* This format holds the special registers as KVM_GET_SREGS2 gives them
 * (with the PAE PDPTRs) and 4096 bytes of XSAVE state: a vCPU with more
 * (AMX, once a VMM asks for it) cannot be saved. Restoring into one is
 * fine: what was saved is zero-extended (restore_xsave). */
static int check_host(const struct vcpu *v, bool saving)
{
	int xsave = vm_cap(v, KVM_CAP_XSAVE2);

	if (!vm_cap(v, KVM_CAP_SREGS2)) {
		log_error("vCPU %u: KVM lacks KVM_CAP_SREGS2 (Linux 5.14 or "
			  "later), which saving and restoring need",
			  v->id);
		return -ENOTSUP;
	}
	if (saving && xsave > X86_XSAVE_SIZE) {
		log_error("vCPU %u: its XSAVE state is %d bytes, more than "
			  "the %d this vmm saves",
			  v->id, xsave, X86_XSAVE_SIZE);
		return -ENOTSUP;
	}
	return 0;
}

/* KVM_GET_MSR_INDEX_LIST (a /dev/kvm ioctl): a malloc'd list. */
static int kvm_msr_list(const struct vcpu *v, struct kvm_msr_list **out)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;
	int kvm_fd = v->vm->kvm_fd, e;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		goto fail;
	if (probe.nmsrs > MSR_INDEX_LIST_MAX) {
		log_error("vCPU %u: KVM lists %u MSRs", v->id, probe.nmsrs);
		return -EIO;
	}
	l = calloc(1, sizeof(*l) + (probe.nmsrs + 1) * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		goto fail;
	}
	*out = l;
	return 0;
fail:
	e = errno;
	log_error("vCPU %u: KVM_GET_MSR_INDEX_LIST: %s", v->id, strerror(e));
	return -e;
}

/* The table's MSRs this host has, read into st->msrs in table order.
 * KVM_GET_MSRS stops at the first MSR it refuses and returns how many it
 * read: that one (an unlisted MTRR, a PMU counter beyond the vCPU's) is
 * left out and the rest read again. */
static int save_msrs(const struct vcpu *v, struct x86_vcpu_state *st)
{
	uint32_t want[X86_VCPU_MAX_MSRS];
	struct kvm_msr_list *list = NULL;
	struct kvm_msrs *m;
	unsigned n, pos = 0;
	int r = kvm_msr_list(v, &list);

	if (r)
		return r;
	n = x86_msr_select(list->indices, list->nmsrs, want, X86_VCPU_MAX_MSRS);
	free(list);
	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		return -ENOMEM;
	st->nmsrs = 0;
	while (pos < n) {
		unsigned ask = n - pos;

		m->nmsrs = ask;
		for (unsigned i = 0; i < ask; i++)
			m->entries[i] = (struct kvm_msr_entry){
				.index = want[pos + i],
			};
		r = ioctl(v->fd, KVM_GET_MSRS, m);
		if (r < 0 || (unsigned)r > ask) {
			r = r < 0 ? -errno : -EIO;
			log_error("vCPU %u: KVM_GET_MSRS: %s", v->id,
				  strerror(-r));
			free(m);
			return r;
		}
		for (int i = 0; i < r; i++)
			st->msrs[st->nmsrs++] = (struct x86_msr_value){
				.index = m->entries[i].index,
				.data = m->entries[i].data,
			};
		pos += (unsigned)r;
		if (pos < n)
			pos++; /* refused: not saved */
	}
	free(m);
	return 0;
}

/* KVM_GET_TSC_KHZ: the vCPU's TSC frequency, or -errno (logged). */
static int tsc_khz(const struct vcpu *v)
{
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0), e = khz < 0 ? errno : EIO;

	if (khz > 0)
		return khz;
	log_error("vCPU %u: KVM_GET_TSC_KHZ: %s", v->id,
		  khz < 0 ? strerror(e) : "0 kHz");
	return -e;
}

static int save_tsc_khz(const struct vcpu *v, struct x86_vcpu_state *st)
{
	int khz = tsc_khz(v);

	if (khz < 0)
		return khz;
	st->tsc_khz = (uint32_t)khz;
	return 0;
}

/* The MP state first: reading it lets KVM's LAPIC take a pending INIT or
 * SIPI, which changes the events and registers read after it (QEMU reads
 * it before the registers for the same reason). */
/* The CRC32 of the vCPU's CPUID as KVM_GET_CPUID2 gives it back (what
 * arch_vcpu_init set, from this host's supported CPUID). */
static int cpuid_crc(const struct vcpu *v, uint32_t *crc)
{
	enum { MAX_ENTRIES = 256 };
	struct kvm_cpuid2 *c =
		calloc(1, sizeof(*c) + MAX_ENTRIES * sizeof(c->entries[0]));
	int r;

	if (!c)
		return -ENOMEM;
	c->nent = MAX_ENTRIES;
	r = VCPU_IOCTL(v, KVM_GET_CPUID2, c);
	if (!r)
		*crc = (uint32_t)crc32(0, (const Bytef *)c->entries,
				       c->nent * sizeof(c->entries[0]));
	free(c);
	return r;
}

static int save_state(const struct vcpu *v, struct x86_vcpu_state *st)
{
	struct kvm_mp_state mp = { 0 };
	int r = check_host(v, true);

	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_MP_STATE, &mp);
	st->mp_state = mp.mp_state;
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_VCPU_EVENTS, &st->events);
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_REGS, &st->regs);
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_SREGS2, &st->sregs);
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_XSAVE, st->xsave);
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_XCRS, &st->xcrs);
	if (!r)
		r = save_msrs(v, st);
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_LAPIC, &st->lapic);
	if (!r)
		r = VCPU_IOCTL(v, KVM_GET_DEBUGREGS, &st->debugregs);
	if (!r)
		r = save_tsc_khz(v, st);
	if (!r)
		r = cpuid_crc(v, &st->cpuid_crc);
	return r;
}

int arch_vcpu_save(struct vcpu *v, struct stream_writer *w)
{
	struct x86_vcpu_state *st = calloc(1, sizeof(*st));
	int r;

	if (!st)
		return -ENOMEM;
	r = save_state(v, st);
	if (!r)
		r = stream_put_section(w, STREAM_SEC_VCPU, v->id,
				       X86_VCPU_STATE_VERSION, st, sizeof(*st));
	free(st);
	return r;
}

int x86_vcpu_save_rules(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = {
		KVM_CHECK_EXTENSION,	/* on the VM fd */
		KVM_GET_MSR_INDEX_LIST, /* on /dev/kvm */
		KVM_GET_MP_STATE,	KVM_GET_VCPU_EVENTS, KVM_GET_REGS,
		KVM_GET_SREGS2,		KVM_GET_XSAVE,	     KVM_GET_XCRS,
		KVM_GET_MSRS,		KVM_GET_LAPIC,	     KVM_GET_DEBUGREGS,
		KVM_GET_TSC_KHZ,	KVM_GET_CPUID2,
	};

	return sandbox_allow_ioctls(ctx, ioctls,
				    sizeof(ioctls) / sizeof(ioctls[0]));
}

/* ---- restore ---- */

/* Before the TSC is written: KVM converts a TSC value into an offset at
 * the vCPU's frequency. */
static int restore_tsc_khz(const struct vcpu *v, uint32_t khz)
{
	int host = tsc_khz(v), e;
	bool can_scale = vm_cap(v, KVM_CAP_TSC_CONTROL) > 0;

	if (host < 0)
		return host;
	switch (x86_tsc_decide(khz, (uint32_t)host, can_scale)) {
	case X86_TSC_KEEP: return 0;
	case X86_TSC_SET:
		if (ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) == 0)
			return 0;
		e = errno;
		log_error("vCPU %u: KVM_SET_TSC_KHZ %u (this host: %d kHz): "
			  "%s",
			  v->id, khz, host, strerror(e));
		return -e;
	default:
		log_error("vCPU %u: the guest's TSC ran at %u kHz, this "
			  "host's runs at %d kHz and KVM cannot scale it "
			  "(no KVM_CAP_TSC_CONTROL)",
			  v->id, khz, host);
		return -ENOTSUP;
	}
}

/* KVM_SET_XSAVE reads as many bytes as this VM's XSAVE state has
 * (KVM_CAP_XSAVE2, at least 4096): what we saved, zero-extended. */
static int restore_xsave(const struct vcpu *v, const struct x86_vcpu_state *st)
{
	size_t size = (size_t)vm_cap(v, KVM_CAP_XSAVE2);
	uint8_t *buf;
	int r;

	if (size < X86_XSAVE_SIZE)
		size = X86_XSAVE_SIZE;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, st->xsave, X86_XSAVE_SIZE);
	r = VCPU_IOCTL(v, KVM_SET_XSAVE, buf);
	free(buf);
	return r;
}

/* The MSRs flagged after_lapic or not, in the section's (the table's)
 * order. KVM_SET_MSRS stops at the first MSR it refuses. */
static int restore_msrs(const struct vcpu *v, const struct x86_vcpu_state *st,
			bool after_lapic)
{
	struct kvm_msrs *m =
		calloc(1, sizeof(*m) + st->nmsrs * sizeof(m->entries[0]));
	int r;

	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < st->nmsrs; i++) {
		int pos = x86_msr_position(st->msrs[i].index);
		bool late = x86_msr_table[pos].flags & X86_MSR_AFTER_LAPIC;

		if (late == after_lapic)
			m->entries[m->nmsrs++] = (struct kvm_msr_entry){
				.index = st->msrs[i].index,
				.data = st->msrs[i].data,
			};
	}
	r = m->nmsrs ? ioctl(v->fd, KVM_SET_MSRS, m) : 0;
	if (r < 0) {
		r = -errno;
		log_error("vCPU %u: KVM_SET_MSRS: %s", v->id, strerror(-r));
	} else if ((unsigned)r < m->nmsrs) {
		log_error("vCPU %u: KVM refused MSR %#x = %#llx", v->id,
			  m->entries[r].index,
			  (unsigned long long)m->entries[r].data);
		r = -EINVAL;
	} else {
		r = 0;
	}
	free(m);
	return r;
}

#define MSR_IA32_TSC 0x10

/* How far the vCPU's TSC is from the saved value `want` written at
 * written_ns, counting on since at the guest's rate: expected minus read
 * (cycles). */
static int tsc_error(const struct vcpu *v, uint64_t want, uint32_t khz,
		     uint64_t written_ns, int64_t *error)
{
	union {
		struct kvm_msrs h;
		uint8_t room[sizeof(struct kvm_msrs) +
			     sizeof(struct kvm_msr_entry)];
	} m = { 0 };
	uint64_t since;

	m.h.nmsrs = 1;
	m.h.entries[0].index = MSR_IA32_TSC;
	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1) {
		log_error("vCPU %u: reading the TSC back: %s", v->id,
			  strerror(errno));
		return -EIO;
	}
	since = (monotonic_ns() - written_ns) * khz / 1000000u;
	*error = (int64_t)(want + since - m.h.entries[0].data);
	return 0;
}

/* KVM before Linux 6.7 takes a host write of the TSC that lands within a
 * second of what the vCPU's TSC would read since its creation (or since
 * the VM's last TSC write) for an attempt to synchronise vCPUs: with a
 * stable host TSC it keeps its own value, and a guest saved in its first
 * second came back with the TSC this vCPU had counted since its creation,
 * up to a second off; with an unstable one (the lab's nested host) it
 * adds the time since the vCPU's creation, milliseconds. So the TSC is
 * read back (allowing for the time since it was written); more than a
 * millisecond off, the vCPU's TSC offset is moved by the difference
 * (KVM_VCPU_TSC_OFFSET, Linux 5.16) and the TSC read back again: still
 * off (KVM-PVM, whose guests' user mode reads the host's TSC), that is
 * said, and the guest runs on, as it would under QEMU. */
static int settle_tsc(const struct vcpu *v, const struct x86_vcpu_state *st,
		      uint64_t written_ns)
{
	uint64_t offset;
	struct kvm_device_attr attr = { .group = KVM_VCPU_TSC_CTRL,
					.attr = KVM_VCPU_TSC_OFFSET,
					.addr = (uintptr_t)&offset };
	const struct x86_msr_value *want = NULL;
	int64_t diff, after, slack = (int64_t)st->tsc_khz; /* 1 ms */
	int r;

	/* vCPU 0 only: KVM matches the others to it (the same rule), which
	 * keeps every vCPU on one TSC; their saved values differ by the time
	 * the save took between them, and moving each by its own difference
	 * put them apart (by a millisecond, in a lab migration). */
	if (v->id)
		return 0;
	for (uint32_t i = 0; i < st->nmsrs; i++)
		if (st->msrs[i].index == MSR_IA32_TSC)
			want = &st->msrs[i];
	if (!want)
		return 0;
	r = tsc_error(v, want->data, st->tsc_khz, written_ns, &diff);
	if (r || (diff < slack && diff > -slack))
		return r;
	if (ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &attr) ||
	    ioctl(v->fd, KVM_GET_DEVICE_ATTR, &attr)) {
		log_error("vCPU %u: KVM kept its own TSC (%lld cycles from the "
			  "saved one) and offers no KVM_VCPU_TSC_OFFSET",
			  v->id, (long long)diff);
		return -ENOTSUP;
	}
	offset += (uint64_t)diff;
	if (VCPU_IOCTL(v, KVM_SET_DEVICE_ATTR, &attr))
		return -EIO;
	r = tsc_error(v, want->data, st->tsc_khz, written_ns, &after);
	if (r)
		return r;
	log_info("vCPU %u: KVM kept its own TSC, %lld cycles from the saved "
		 "one; its offset moved",
		 v->id, (long long)diff);
	if (after >= slack || after <= -slack)
		log_info("vCPU %u: the TSC is still %lld cycles from the saved "
			 "one: this KVM does not apply TSC offsets to what the "
			 "guest reads (KVM-PVM runs its user mode's RDTSC "
			 "natively); the guest runs on",
			 v->id, (long long)after);
	return 0;
}

/* QEMU's order (kvm_arch_put_registers), for these reasons:
 * - the TSC frequency before any TSC value (the MSRs);
 * - the special registers first: they set EFER and the APIC base (its
 *   xAPIC/x2APIC mode decides how KVM_SET_LAPIC reads the APIC id);
 * - KVM_SET_REGS drops a pending exception, so the events come after it;
 * - the MSRs after the registers and XCR0, the TSC deadline only once the
 *   LAPIC is in TSC-deadline mode;
 * - events, then the MP state last (a pending SIPI goes with it).
 * Guest RAM must already be in KVM's slots: the paravirtual MSRs (async
 * page faults, PV EOI, the wall clock) point KVM at guest pages. */
static int restore_state(struct vcpu *v, struct x86_vcpu_state *st)
{
	struct kvm_mp_state mp = { .mp_state = st->mp_state };
	uint32_t crc = 0;
	uint64_t written;
	int r = check_host(v, false);

	if (!r)
		r = cpuid_crc(v, &crc);
	if (!r && crc != st->cpuid_crc) {
		log_error("vCPU %u state: the CPU the guest saw (CPUID) is not "
			  "the one KVM offers here",
			  v->id);
		r = -EPROTO;
	}
	if (!r)
		r = restore_tsc_khz(v, st->tsc_khz);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_SREGS2, &st->sregs);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_REGS, &st->regs);
	if (!r)
		r = restore_xsave(v, st);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_XCRS, &st->xcrs);
	if (!r)
		r = restore_msrs(v, st, false);
	written = monotonic_ns(); /* the TSC is among those MSRs */
	if (!r)
		r = settle_tsc(v, st, written);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_LAPIC, &st->lapic);
	if (!r)
		r = restore_msrs(v, st, true);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_DEBUGREGS, &st->debugregs);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_VCPU_EVENTS, &st->events);
	if (!r)
		r = VCPU_IOCTL(v, KVM_SET_MP_STATE, &mp);
	return r;
}

int arch_vcpu_restore(struct vcpu *v, const struct stream_section *s)
{
	struct x86_vcpu_state *st = malloc(sizeof(*st));
	char why[192];
	int r;

	if (!st)
		return -ENOMEM;
	r = x86_vcpu_state_check(s, v->id, st, why, sizeof(why));
	if (r)
		log_error("%s", why);
	else
		r = restore_state(v, st);
	free(st);
	return r;
}
