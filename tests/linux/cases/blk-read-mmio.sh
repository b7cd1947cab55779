# The same two disks over virtio-mmio (--transport mmio): found through the
# DSDT, interrupts on GSI 16 and 17, the whole of vda read back.
truncate -s 64M "$WORK/a.img"
dd if=/dev/urandom of="$WORK/a.img" bs=1M count=8 conv=notrunc status=none
cp "$WORK/a.img" "$WORK/b.img"
boot --append vmmtest.script=blk-info --transport mmio \
	--disk "$WORK/a.img,serial=SERIAL-A" --disk "$WORK/b.img,readonly"
expect_exit 0
expect_output "guest: vda sectors 131072 ro 0 queues 1 serial 'SERIAL-A'"
expect_output "guest: vdb sectors 131072 ro 1"
expect_output "guest: vda md5 $(md5sum "$WORK/a.img" | cut -d' ' -f1)"
