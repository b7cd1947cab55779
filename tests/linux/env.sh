# Stock-Linux suite: Debian's kernel with the test init (tests/linux/init).
KERNEL=${KERNEL:-build/kernel/bzImage}
INITRD=${INITRD-build/linux/initrd.cpio}
BASE_CMDLINE="console=ttyS0 quiet panic=-1"
# The kernel cache (vmm run --unpack-kernel) of the whole lab boot: the
# lab host's / and /root are the host's, read-only; its /tmp is scratch.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/vmm-cache}
