# virtio-pci with MSI-X: one vector per queue, routed through KVM GSI
# routing and irqfds; the guest waits for interrupts instead of polling;
# the host file is opened with O_DIRECT (cache=none).
blk_image "$WORK/disk.img"
boot --append "scenario=blk serial=SER-1 queues=2 irq=1" \
	--disk "$WORK/disk.img,serial=SER-1,queues=2,cache=none"
expect_exit 0
expect_output ", 2 queues, interrupts"
expect_output "queue 0 did 128 queue 1 did 128"
blk_expect_checks
blk_expect_writes
grep -q "guest: blk: [1-9][0-9]* interrupts on queue 0" "$out" ||
	fail "no MSI-X interrupts counted"
