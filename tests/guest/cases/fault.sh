# An unmapped access at CPL3 reaches the guest's exception handler, which
# reports it and exits with status 3.
boot --append "scenario=fault"
expect_exit 3
expect_output "guest: exception 14 "
expect_output "cr2 300000000"
