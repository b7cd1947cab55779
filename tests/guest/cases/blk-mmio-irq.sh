# virtio-mmio with its interrupt line (GSI 16 through the IOAPIC, irqfd on
# the VMM side) and two queues.
blk_image "$WORK/disk.img"
boot --append "scenario=blk serial=SER-1 transport=mmio irq=1 queues=2 virtio_mmio.device=4K@0xd0000000:16" \
	--transport mmio --disk "$WORK/disk.img,serial=SER-1,queues=2"
expect_exit 0
expect_output "guest: blk: mmio, 32768 sectors"
expect_output ", 2 queues, interrupts"
expect_output "queue 0 did 128 queue 1 did 128"
blk_expect_checks
blk_expect_writes
grep -q "guest: blk: [1-9][0-9]* interrupts on queue 0" "$out" ||
	fail "no interrupts counted"
