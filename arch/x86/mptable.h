/* Intel MultiProcessor Specification 1.4 table: lets a guest booted with
 * acpi=off find every vCPU, the IOAPIC and the ISA interrupt routing. */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_MAX_CPUS 254

/* Bytes mptable_build writes for ncpus. */
size_t mptable_size(unsigned ncpus);

/* Writes the floating pointer followed by the configuration table into buf
 * (mptable_size bytes), as if placed at guest-physical gpa. APIC ids are
 * the vCPU indexes; the IOAPIC takes id ncpus. Pure. */
void mptable_build(uint8_t *buf, uint64_t gpa, unsigned ncpus);

#endif
