# A triple fault is a reset: status 0, or 125 with --expect-exit-code.
boot --append "scenario=triplefault"
expect_status 0
boot --append "scenario=triplefault" --expect-exit-code
expect_status 125
expect_stderr "ended (reset) without writing the exit port"
