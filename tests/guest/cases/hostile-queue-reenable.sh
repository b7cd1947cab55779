# After I/O, a read left on the ring un-notified, then the queue enabled
# again on rings at other addresses, after a reset (both transports) or
# after virtio-mmio QueueReady 0 with the device live: nothing may be
# written to the old rings or the left read's buffer afterwards, and after
# a reset I/O on the new rings must work.
HOSTILE_EXPECT=serving hostile queue-reenable pci how=reset
HOSTILE_EXPECT=serving hostile queue-reenable mmio how=reset
hostile queue-reenable mmio how=disable
