# One vCPU and 128 MiB: the guest sees exactly that and exits 0 by the port.
boot --cpus 1 --memory 128M
expect_exit 0
expect_output "guest: kernel "
expect_output "guest: cpus 1"
expect_memtotal_between 70000 131072
