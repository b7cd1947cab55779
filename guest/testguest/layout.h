/* Test guest: constants shared by the assembly start-up and the C library. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#define GUEST_MAX_CPUS 16
#define KSTACK_SIZE 4096  /* CPL0 stack per CPU, for exceptions only */
#define USTACK_SIZE 16384 /* CPL3 stack per CPU */
#define MAPPED_GIB 8	  /* identity map, 2 MiB user pages */

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18
#define SEL_UDATA 0x23	 /* 0x20 | RPL 3 */
#define SEL_UCODE64 0x2b /* 0x28 | RPL 3 */
#define SEL_TSS0 0x30	 /* then one 16-byte TSS descriptor per CPU */
#define TSS_SIZE 128

#define IRQ_SLOTS 16

#define TRAMPOLINE_ADDR 0x10000 /* SIPI vector 0x10 */

#endif
