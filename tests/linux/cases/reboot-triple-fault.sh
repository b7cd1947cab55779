# reboot=t: the guest resets through a triple fault (KVM_EXIT_SHUTDOWN);
# status 0. Linux falls back to the i8042 after it, so the stop source is
# what shows the triple fault ended the run.
boot --append "vmmtest.action=reboot reboot=t"
expect_status 0
expect_output "reboot: Restarting system"
expect_stopped_by triple-fault
