# SIGTERM stops a running VM cleanly with status 128 + 15, through the
# signal path (vmm's own report, not just the status).
boot_bg --append vmmtest.action=sleep
wait_for "guest: sleeping"
stop_vm TERM
expect_status 143
expect_stopped_by signal
