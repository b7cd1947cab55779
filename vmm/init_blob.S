/* The guest init (guest/init/), built static by the Makefile and
 * embedded here so vmm needs no file beside it: vmm_guest_init ..
 * vmm_guest_init_end (vmm/rig.h). GUEST_INIT_PATH is the built file. */
	.section .rodata.vmm_guest_init, "a"
	.balign 16
	.globl vmm_guest_init
	.globl vmm_guest_init_end
vmm_guest_init:
	.incbin GUEST_INIT_PATH
vmm_guest_init_end:
	.section .note.GNU-stack, "", @progbits
