# An 8-bit write of V to port 0x501 ends the VM with status V.
boot --append vmmtest.exit=42
expect_exit 42
