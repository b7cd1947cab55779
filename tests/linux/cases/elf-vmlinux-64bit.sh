# An ELF vmlinux without the PVH note is entered at its 64-bit e_entry with
# boot_params, like Firecracker boots vmlinux.
objcopy --remove-section=.notes build/kernel/vmlinux "$WORK/vmlinux"
readelf -n "$WORK/vmlinux" | grep -q 'Unknown note type: (0x00000012)' &&
	fail "the PVH note is still there"
KERNEL=$WORK/vmlinux
boot --cpus 2 --memory 256M
expect_exit 0
expect_output "guest: cpus 2"
