# ACPI S5 poweroff ends the process with status 0.
boot --append vmmtest.action=poweroff --cpus 2
expect_status 0
expect_output "guest: cpus 2"
