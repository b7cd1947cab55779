# With --expect-exit-code a reboot is not a pass.
boot --append vmmtest.action=reboot --expect-exit-code
expect_status 125
expect_output "reboot: Restarting system"
expect_stderr_line "vmm: the guest ended \(reset\) without writing the exit port"
