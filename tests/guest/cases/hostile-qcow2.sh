# The hostile driver's attacks with reads in flight on a qcow2 overlay
# over the pattern: every read is a coroutine of the qcow2 driver reading
# the backing file (not the direct path a raw disk or an allocated
# cluster takes), so resets, QueueReady=0, DRIVER_OK twice and
# FEATURES_OK toggles land while coroutines wait for their I/O. The
# device must survive each as it does on a raw disk.
HOSTILE_FORMAT=qcow2 HOSTILE_EXPECT=serving hostile reset-inflight pci
HOSTILE_FORMAT=qcow2 HOSTILE_EXPECT=serving hostile reset-inflight mmio
HOSTILE_FORMAT=qcow2 hostile queue-zero-inflight pci
HOSTILE_FORMAT=qcow2 hostile driver-ok-twice pci inflight=1
HOSTILE_FORMAT=qcow2 hostile features-ok-toggle pci inflight=1
HOSTILE_FORMAT=qcow2 HOSTILE_EXPECT=serving hostile queue-reenable pci how=reset
HOSTILE_FORMAT=qcow2 hostile queue-reenable mmio how=disable
