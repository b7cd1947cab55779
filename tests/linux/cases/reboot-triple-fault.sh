# reboot=t: the guest resets through a triple fault (KVM_EXIT_SHUTDOWN);
# status 0. Linux falls back to the i8042 after it, so the stop source is
# what shows the triple fault ended the run.
boot --append "vmmtest.action=reboot reboot=t"
expect_status 0
expect_output "reboot: Restarting system"
expect_stopped_by triple-fault
# The vCPU is named; on AMD (the lab) KVM has reset its registers by then.
expect_stderr_line 'vmm: vcpu 0: triple fault( \(its registers were reset by KVM\)| at rip=0x[0-9a-f]+ rsp=.*)'
