# With --expect-exit-code a reboot is not a pass.
boot --append vmmtest.action=reboot --expect-exit-code
expect_status 125
expect_stderr "without writing the exit port"
