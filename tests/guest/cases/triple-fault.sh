# A triple fault is a reset (KVM_EXIT_SHUTDOWN): status 0, or 125 with
# --expect-exit-code.
boot --append "scenario=triplefault"
expect_status 0
expect_stopped_by triple-fault
boot --append "scenario=triplefault" --expect-exit-code
expect_status 125
expect_stopped_by triple-fault
expect_stderr_line "vmm: the guest ended \(reset\) without writing the exit port"
