# SIGTERM stops a running VM cleanly with status 128 + 15.
boot_bg --append vmmtest.action=sleep
wait_for "guest: sleeping"
stop_vm TERM
expect_status 143
