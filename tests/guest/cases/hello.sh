# The guest reads its command line and memory map from hvm_start_info,
# calibrates the TSC, and the boot marker is reported (the whole report
# line: the "never wrote the boot marker port" message shares its prefix).
# The memory map: RAM below the EBDA, the reserved EBDA and BIOS area, RAM
# from 1 MiB, and (PCI being the default transport) the reserved ECAM
# window.
boot --append "scenario=hello marker=on" --memory 256M --boot-time
expect_exit 0
expect_output "guest: hello from CPL3"
expect_output "guest: cmdline 'scenario=hello marker=on'"
expect_output "guest: ram 255 MiB in 4 memmap entries"
expect_stderr_line "$BOOT_TIME_LINE"
