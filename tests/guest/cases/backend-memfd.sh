# RAM from the memfd backend, written and checked by the guest.
boot --append "scenario=mem step=4096" --memory 128M --memory-backend memfd
expect_exit 0
expect_output "top 128 MiB, above 4 GiB 0 MiB, 0 bad"
