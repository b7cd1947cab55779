# A host block device that fails with EIO (device-mapper error target):
# the guest gets I/O errors, vmm keeps running, counts them (--stats), and
# the guest exits normally.
# harness: root
dev=vmm-eio-$$
dmsetup create --noudevsync "$dev" --table "0 32768 error" ||
	fail "dmsetup create failed"
path=/dev/$(dmsetup info -c --noheadings -o blkdevname "$dev")
[ -z "${VMM_USER:-}" ] || chown "$VMM_USER" "$path"
boot --append vmmtest.script=blk-eio --disk "$path" --stats
dmsetup remove --noudevsync "$dev"
expect_exit 0
expect_output "guest: read failed with an I/O error"
grep -qE "vmm: stats: vda: [1-9][0-9]* I/O errors" "$err" ||
	fail "vmm did not count the I/O errors"
