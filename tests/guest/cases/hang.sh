# A guest that never exits is stopped by the runner's timeout (SIGTERM, a
# clean stop); timeout reports 124.
BOOT_TIMEOUT=3 boot --append "scenario=hang"
expect_status 124
expect_output "guest: hanging"
