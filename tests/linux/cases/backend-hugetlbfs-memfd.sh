# memfd with MFD_HUGETLB, from the lab host's reserved 2 MiB pages.
boot --memory 256M --memory-backend hugetlbfs
expect_exit 0
expect_memtotal_between 200000 262144
