# Resets with reads in flight, each followed at once by a proper
# initialisation on new rings and a checked read, which must work (a
# reset is always allowed): 20 rounds on both transports.
HOSTILE_EXPECT=serving hostile reset-inflight pci
HOSTILE_EXPECT=serving hostile reset-inflight mmio
