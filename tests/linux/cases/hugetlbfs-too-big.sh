# More huge pages than are reserved: one clear error, status 1.
boot --memory 4G --memory-backend hugetlbfs
expect_status 1
expect_stderr "guest RAM: cannot map 4096 MiB from "
expect_stderr ": Cannot allocate memory (are enough huge pages reserved in /proc/sys/vm/nr_hugepages?)"
