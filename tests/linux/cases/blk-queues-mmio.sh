# queues=2 over virtio-mmio: two virtqueues sharing the device's one
# interrupt line; a pattern written and read back.
truncate -s 16M "$WORK/d.img"
boot --append vmmtest.script=blk-write --cpus 2 --transport mmio \
	--disk "$WORK/d.img,queues=2"
expect_exit 0
expect_output "guest: pattern written and read back"
