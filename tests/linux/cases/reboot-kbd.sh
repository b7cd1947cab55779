# reboot=k: the guest resets through the i8042 reset line; status 0.
# Linux falls back to other methods (EFI, BIOS, triple fault) when that
# does nothing, so the stop source is what shows the i8042 reset worked.
boot --append "vmmtest.action=reboot reboot=k"
expect_status 0
expect_output "reboot: Restarting system"
expect_stopped_by i8042-reset
