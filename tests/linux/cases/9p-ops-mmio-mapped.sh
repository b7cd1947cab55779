# security=mapped over virtio-mmio: the guest sees what a local file
# system gives, while the host holds plain files owned by vmm's user and
# the guest's owner, mode and device numbers in user.virtfs.* xattrs.
. tests/linux/p9lib.sh
# fsops makes some 10 000 requests: 95-115 s in a lab host on a loaded
# machine, so more room than the default 180 s bound.
BOOT_TIMEOUT=480
fsops_reference
mkdir "$WORK/share"
boot --append "vmmtest.script=9p-fsops vmmtest.p9opts=msize=131072:cache=none" \
	--transport mmio --9p "$WORK/share,tag=share,security=mapped"
expect_exit 0
expect_guest_transcript
node=$WORK/share/t/a/null
[ -f "$node" ] && [ ! -c "$node" ] || fail "the mapped device node is not a plain file on the host"
# le32 0o20666 and rdev makedev(1,3) = 0x103 as le64
[ "$(xattr_of "$node" user.virtfs.mode)" = b6210000 ] ||
	fail "user.virtfs.mode of the node is $(xattr_of "$node" user.virtfs.mode)"
[ "$(xattr_of "$node" user.virtfs.rdev)" = 0301000000000000 ] ||
	fail "user.virtfs.rdev of the node is $(xattr_of "$node" user.virtfs.rdev)"
[ "$(xattr_of "$WORK/share/t/a/f1" user.virtfs.uid)" = d2040000 ] ||
	fail "user.virtfs.uid of a/f1 is $(xattr_of "$WORK/share/t/a/f1" user.virtfs.uid)"
[ "$(stat -c %u "$WORK/share/t/a/f1")" = "$(id -u)" ] || fail "a/f1 is not owned by vmm's user on the host"
