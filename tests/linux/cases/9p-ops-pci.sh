# A share through virtio-9p over virtio-pci, passthrough: every 9P2000.L
# message the Linux client sends (tests/linux/tools/fsops) gives the same
# transcript as the same operations on a local directory, and the host
# sees the same tree.
. tests/linux/p9lib.sh
# fsops makes some 10 000 requests: 95-115 s in a lab host on a loaded
# machine, so more room than the default 180 s bound.
BOOT_TIMEOUT=480
fsops_reference
mkdir "$WORK/share"
boot --append "vmmtest.script=9p-fsops vmmtest.p9opts=msize=524288" \
	--9p "$WORK/share,tag=share"
expect_exit 0
expect_guest_transcript
expect_same_tree "$WORK/share/t"
