# virtio-pci found through the ECAM window (MMCONFIG) instead of the
# ports, and a driver without indirect descriptors or event index.
blk_image "$WORK/disk.img"
boot --append "scenario=blk serial=SER-1 ecam=0xe0000000 indirect=0 eventidx=0" \
	--disk "$WORK/disk.img,serial=SER-1"
expect_exit 0
expect_output "guest: blk: pci (ecam), 32768 sectors, features 6240"
blk_expect_checks
blk_expect_writes
