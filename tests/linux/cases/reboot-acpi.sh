# reboot=a: the guest resets through the ACPI reset register; status 0.
# Linux falls back to the i8042 when that does nothing, so the stop source
# is what shows the register worked.
boot --append "vmmtest.action=reboot reboot=a"
expect_status 0
expect_output "reboot: Restarting system"
expect_stopped_by acpi-reset
