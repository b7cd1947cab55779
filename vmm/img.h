/* `vmm img`: create, inspect and convert disk images (qcow2, raw) with
 * the block layer the devices use. Option names follow qemu-img. */
#ifndef VMM_IMG_H
#define VMM_IMG_H

int img_command(int argc, char **argv);

#endif
