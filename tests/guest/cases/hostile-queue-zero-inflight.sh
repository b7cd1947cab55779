# Reads in flight, then the queue disabled and its size set to 0 (virtio-
# mmio QueueReady 0 and QueueNum 0; virtio-pci queue_enable 0, which the
# driver must not write, and queue_size 0) and the doorbell rung, 20
# times. vmm must survive (the completions used to divide by the queue
# size 0 in the iothread: SIGFPE).
hostile queue-zero-inflight mmio
hostile queue-zero-inflight pci
