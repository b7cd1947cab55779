# SIGINT stops a running VM cleanly with status 128 + 2, through the
# signal path.
boot_bg --append "scenario=hang"
wait_for "guest: hanging"
stop_vm INT
expect_status 130
expect_stopped_by signal
