# Stock-Linux suite: Debian's kernel with the test init (tests/linux/init).
KERNEL=${KERNEL:-build/kernel/bzImage}
INITRD=${INITRD-build/linux/initrd.cpio}
BASE_CMDLINE="console=ttyS0 quiet panic=-1"
