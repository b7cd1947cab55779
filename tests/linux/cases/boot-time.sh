# --boot-time reports when the guest first wrote port 0x502.
boot --boot-time
expect_status 0
expect_stderr "vmm: boot-time: "
