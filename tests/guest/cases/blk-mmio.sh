# virtio-blk over virtio-mmio, found from a virtio_mmio.device= argument
# as Linux would, polling, with the cache=writeback path.
blk_image "$WORK/disk.img"
boot --append "scenario=blk serial=SER-1 transport=mmio virtio_mmio.device=4K@0xd0000000:16" \
	--transport mmio --disk "$WORK/disk.img,serial=SER-1,cache=writeback"
expect_exit 0
expect_output "guest: blk: mmio, 32768 sectors"
blk_expect_checks
blk_expect_writes
