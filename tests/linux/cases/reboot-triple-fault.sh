# reboot=t: the guest resets through a triple fault; status 0.
boot --append "vmmtest.action=reboot reboot=t"
expect_status 0
expect_output "reboot: Restarting system"
