# Status bits out of order: FEATURES_OK cleared after DRIVER_OK, the
# features rewritten (every other time without VERSION_1) and FEATURES_OK
# set again, 200 times with reads in flight; and DRIVER_OK before
# FEATURES_OK, then FEATURES_OK late.
hostile features-ok-toggle pci inflight=1
hostile features-ok-toggle mmio inflight=1
hostile driver-ok-early pci
hostile driver-ok-early mmio
