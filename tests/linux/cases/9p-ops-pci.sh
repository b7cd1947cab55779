# A share through virtio-9p over virtio-pci, passthrough: every 9P2000.L
# message the Linux client sends (tests/linux/tools/fsops) gives the same
# transcript as the same operations on a local directory, and the host
# sees the same tree. Run by an unprivileged user (make nonroot-check),
# who cannot give files away, the share is mapped: the same transcript,
# and on the host only plain files and directories of that user.
. tests/linux/p9lib.sh
# fsops makes some 10 000 requests: 95-115 s in a lab host on a loaded
# machine, so more room than the default 180 s bound.
BOOT_TIMEOUT=480
fsops_reference
mkdir "$WORK/share"
security=passthrough
[ "$(id -u)" = 0 ] || security=mapped
boot --append "vmmtest.script=9p-fsops vmmtest.p9opts=msize=524288" \
	--9p "$WORK/share,tag=share,security=$security"
expect_exit 0
expect_guest_transcript
if [ $security = passthrough ]; then
	expect_same_tree "$WORK/share/t"
else
	owners=$(find "$WORK/share/t" -printf '%u\n' | sort -u)
	[ "$owners" = "$(id -un)" ] || fail "host files are owned by: $owners"
	[ -z "$(find "$WORK/share/t" ! -type f ! -type d)" ] ||
		fail "the host holds something other than plain files and directories"
	[ "$(xattr_of "$WORK/share/t/a/f1" user.virtfs.uid)" = d2040000 ] ||
		fail "user.virtfs.uid of a/f1 is $(xattr_of "$WORK/share/t/a/f1" user.virtfs.uid)"
fi
