# reboot=a: the guest resets through the ACPI reset register; status 0.
boot --append "vmmtest.action=reboot reboot=a"
expect_status 0
expect_output "reboot: Restarting system"
