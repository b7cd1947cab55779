/* `vmm img bench`: qemu-img bench on vmm's block layer (vmm/img.c runs
 * it). */
#ifndef VMM_IMG_BENCH_H
#define VMM_IMG_BENCH_H

/* argv[0] is "bench". Returns the exit status. */
int img_bench(int argc, char **argv);

#endif
