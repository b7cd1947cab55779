# Two disks over virtio-pci (the default): capacity, serial (GET_ID), read-only flag, and
# the whole of vda read by the guest matches the host file.
truncate -s 64M "$WORK/a.img"
dd if=/dev/urandom of="$WORK/a.img" bs=1M count=8 conv=notrunc status=none
cp "$WORK/a.img" "$WORK/b.img"
boot --append vmmtest.script=blk-info --disk "$WORK/a.img,serial=SERIAL-A" \
	--disk "$WORK/b.img,readonly"
expect_exit 0
expect_output "guest: vda sectors 131072 ro 0 queues 1 serial 'SERIAL-A'"
expect_output "guest: vdb sectors 131072 ro 1"
expect_output "guest: vda md5 $(md5sum "$WORK/a.img" | cut -d' ' -f1)"
