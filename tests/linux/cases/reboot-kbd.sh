# reboot=k: the guest resets through the i8042 reset line; status 0.
boot --append "vmmtest.action=reboot reboot=k"
expect_status 0
expect_output "reboot: Restarting system"
