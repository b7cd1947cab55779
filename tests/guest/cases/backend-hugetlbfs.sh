# RAM from the hugetlbfs backend, written and checked by the guest.
need_hugepages 128
boot --append "scenario=mem step=4096" --memory 128M --memory-backend hugetlbfs
expect_exit 0
expect_output "top 128 MiB, above 4 GiB 0 MiB, 0 bad"
