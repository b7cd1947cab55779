# 5 GiB: 3 GiB below the hole, 2 GiB from 4 GiB up, all touched and checked.
boot --append "scenario=mem step=65536" --memory 5G
expect_exit 0
expect_output "top 6144 MiB, above 4 GiB 2048 MiB, 0 bad"
