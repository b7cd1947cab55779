# Queue sizes 0, 3, 100, 512 (above the maximum) and 65535 written before
# the queue is enabled, a zeroed descriptor made available and the
# doorbell rung; then sizes written to the enabled queue with reads in
# flight (and on virtio-pci queue_enable 0).
hostile queue-size-bad pci
hostile queue-size-bad mmio
