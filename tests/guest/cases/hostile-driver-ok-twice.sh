# A hostile guest sets DRIVER_OK again without a reset: status 0xb then
# 0xf, 5000 times, idle and with reads in flight, on both transports. vmm
# must survive (it used to start the queue's iothread again over the
# running one: SIGSEGV within a few thousand writes) and the device must
# serve after a reset.
hostile driver-ok-twice pci
hostile driver-ok-twice pci inflight=1
hostile driver-ok-twice mmio inflight=1
