# More huge pages than are reserved: one clear error, status 1.
boot --memory 4G --memory-backend hugetlbfs
expect_status 1
expect_stderr "nr_hugepages"
