# A read-only disk: the device offers VIRTIO_BLK_F_RO, refuses the write
# with an I/O error, and the host file is unchanged.
blk_image "$WORK/disk.img"
cp "$WORK/disk.img" "$WORK/orig.img"
boot --append "scenario=blk serial=SER-1 ro=1" \
	--disk "$WORK/disk.img,serial=SER-1,readonly"
expect_exit 0
blk_expect_checks
expect_output "guest: blk: read-only: write refused ok"
cmp "$WORK/disk.img" "$WORK/orig.img" >&2 || fail "a read-only disk changed"
