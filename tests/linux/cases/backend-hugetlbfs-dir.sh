# An unlinked file in a hugetlbfs mount.
boot --memory 256M --memory-backend hugetlbfs:/dev/hugepages
expect_exit 0
expect_memtotal_between 200000 262144
