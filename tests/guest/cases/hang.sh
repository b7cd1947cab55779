# A guest that never exits is stopped by the runner's timeout (SIGTERM, a
# clean stop); timeout reports 124 whatever vmm's status, so vmm's own
# report shows that the signal path ended the run.
BOOT_TIMEOUT=3 boot --append "scenario=hang"
expect_status 124
expect_output "guest: hanging"
expect_stopped_by signal
