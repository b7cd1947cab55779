# virtio-blk over virtio-pci (the default transport), config space through
# the 0xCF8/0xCFC ports, polling, two queues both used: reads of the
# pattern the test prepared, GET_ID, an out-of-range read, write + flush +
# read back, discard and write-zeroes; then the host file is checked.
blk_image "$WORK/disk.img"
boot --append "scenario=blk serial=SER-1 queues=2" \
	--disk "$WORK/disk.img,serial=SER-1,queues=2"
expect_exit 0
expect_output "guest: blk: pci, 32768 sectors"
expect_output ", 2 queues, polling"
expect_output "queue 0 did 128 queue 1 did 128"
blk_expect_checks
blk_expect_writes
