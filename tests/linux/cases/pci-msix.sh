# virtio-pci as Linux sees it: the host bridge and the virtio-blk function
# bound to virtio-pci, MMCONFIG accepted (reserved in E820 and in the
# DSDT), and a vector of its own per queue that delivers interrupts.
truncate -s 16M "$WORK/d.img"
boot --append vmmtest.script=pci-info --cpus 2 --disk "$WORK/d.img,queues=2"
expect_exit 0
expect_output "guest: pci 0000:00:00.0 0x1b36:0x0008 class 0x060000"
expect_output "guest: pci 0000:00:01.0 0x1af4:0x1042 class 0x018000 driver virtio-pci"
expect_output "reserved in E820"
expect_output "guest: msix virtio0-config silent"
expect_output "guest: msix virtio0-req.0 fired"
expect_output "guest: msix virtio0-req.1 fired"
