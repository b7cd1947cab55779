# --boot-time reports when the guest first wrote port 0x502: the whole
# report line, which the "never wrote the boot marker port" message (same
# prefix) cannot match.
boot --boot-time
expect_exit 0
expect_stderr_line "$BOOT_TIME_LINE"
