# Two vCPUs: the boot vCPU brings the second up through INIT/SIPI.
boot --cpus 2 --memory 256M
expect_exit 0
expect_output "guest: cpus 2"
