# Linux's default reboot on a hardware-reduced ACPI platform (EFI, then a
# jump to the BIOS reset vector) ends the process with status 0. The
# reset-vector code pulses the i8042 reset line (arch/x86/board.c); a
# vector that ran into garbage would triple-fault, also with status 0.
boot --append vmmtest.action=reboot
expect_status 0
expect_output "guest: cpus 1"
expect_output "reboot: Restarting system"
expect_stopped_by i8042-reset
