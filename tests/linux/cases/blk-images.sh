# ext4 with a write-then-verify pattern (tests/linux/scenarios/
# blk-ext4-verify) on a qcow2 disk, a QED disk and a qcow2 overlay over a
# raw backing file, each then checked on the host with qemu-img check;
# the overlay is then committed into its backing file with qemu-img
# commit, and the backing file compared byte for byte with what the
# overlay showed.
verify_on() { # image format
	boot --append "vmmtest.script=blk-ext4-verify" \
		--disk "$WORK/$1,format=$2,queues=2"
	expect_exit 0
	expect_output "guest: ext4 written, read back and verified"
	qemu-img check -q -f "$2" "$WORK/$1" || fail "qemu-img check $1"
}
"$VMM" img create -f qcow2 "$WORK/d.qcow2" 256M || fail "vmm img create"
verify_on d.qcow2 qcow2
qemu-img create -q -f qed "$WORK/d.qed" 256M || fail "qemu-img create qed"
verify_on d.qed qed
head -c 256M /dev/urandom >"$WORK/base.raw"
cp "$WORK/base.raw" "$WORK/base.orig"
qemu-img create -q -f qcow2 -b base.raw -F raw "$WORK/over.qcow2" ||
	fail "qemu-img create overlay"
verify_on over.qcow2 qcow2
cmp -s "$WORK/base.raw" "$WORK/base.orig" || fail "the backing file changed"
qemu-img convert -O raw "$WORK/over.qcow2" "$WORK/seen.raw"
qemu-img commit -q "$WORK/over.qcow2" || fail "qemu-img commit"
cmp "$WORK/base.raw" "$WORK/seen.raw" || fail "committed data differs"
true
