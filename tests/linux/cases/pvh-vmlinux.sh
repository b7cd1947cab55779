# The ELF vmlinux from the bzImage's payload, entered through its PVH note.
KERNEL=build/kernel/vmlinux
boot --cpus 2 --memory 256M
expect_exit 0
expect_output "guest: cpus 2"
expect_output "guest: kernel "
