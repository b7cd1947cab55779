# A kernel panic with panic=-1 resets; --expect-exit-code makes it fail.
boot --append vmmtest.action=panic --expect-exit-code
expect_status 125
expect_output "Kernel panic"
expect_stderr_line "vmm: the guest ended \(reset\) without writing the exit port"
