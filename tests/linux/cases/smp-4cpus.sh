# Four vCPUs on a two-core lab host: all of them come up.
boot --cpus 4 --memory 256M
expect_exit 0
expect_output "guest: cpus 4"
