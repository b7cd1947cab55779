# Ring addresses outside RAM: far above it, on the device's own registers
# in the MMIO hole, and straddling the end of RAM; written on the enabled
# queue with reads in flight, on a disabled queue enabled again
# (virtio-mmio), and after a reset before enabling; the doorbell rung.
for where in high hole edge; do
	hostile rings-outside-ram pci where=$where
	hostile rings-outside-ram mmio where=$where
done
