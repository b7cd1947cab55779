/* Where the VMM puts boot data in guest-physical memory. Everything below
 * 1 MiB; the kernel goes at its preferred address (16 MiB for Linux). */
#ifndef ARCH_X86_LAYOUT_H
#define ARCH_X86_LAYOUT_H

#define LAYOUT_GDT 0x500ULL
#define LAYOUT_START_INFO 0x6000ULL /* PVH hvm_start_info */
#define LAYOUT_PVH_MEMMAP 0x6040ULL /* up to 128 entries of 24 bytes */
#define LAYOUT_PVH_MODLIST 0x6e00ULL
#define LAYOUT_ZERO_PAGE 0x7000ULL /* Linux boot_params */
#define LAYOUT_BOOT_STACK 0x8ff0ULL
#define LAYOUT_PML4 0x9000ULL /* then PDPT, then 4 PDs: to 0xf000 */
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_EBDA 0x9fc00ULL /* reserved from here to 1 MiB */
#define LAYOUT_ACPI 0xe0000ULL /* RSDP first, then the tables */
#define LAYOUT_MPTABLE 0xf0000ULL
#define LAYOUT_RESET_VECTOR 0xffff0ULL /* F000:FFF0, where a CPU reset starts */
#define LAYOUT_HIGH_MEMORY 0x100000ULL
/* The 32-bit hole above RAM (which ends by 3 GiB): PCI BARs, then the
 * virtio-mmio windows, then ECAM for PCI bus 0. */
#define LAYOUT_PCI_MMIO 0xc0000000ULL
#define LAYOUT_PCI_MMIO_SIZE 0x10000000U
#define LAYOUT_VDEV_MMIO 0xd0000000ULL /* one 4 KiB window per device */
#define LAYOUT_PCI_ECAM 0xe0000000ULL
#define LAYOUT_IOAPIC 0xfec00000ULL
#define LAYOUT_LAPIC 0xfee00000ULL
#define LAYOUT_TSS 0xfffbd000ULL /* KVM_SET_TSS_ADDR, 3 pages */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ULL
/* RAM: up to 3 GiB from 0, the rest from 4 GiB; [3 GiB, 4 GiB) holds the
 * windows above, the IOAPIC and the LAPIC. */
#define LAYOUT_RAM_LOW_LIMIT (3ULL << 30)
#define LAYOUT_RAM_HIGH_BASE (4ULL << 30)

#endif
