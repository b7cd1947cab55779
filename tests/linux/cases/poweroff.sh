# ACPI S5 poweroff ends the process with status 0. A poweroff that did
# nothing would make init exit, the kernel panic and (panic=-1) reset,
# also with status 0: the stop source tells them apart.
boot --append vmmtest.action=poweroff --cpus 2
expect_status 0
expect_output "guest: cpus 2"
expect_stopped_by acpi-poweroff
