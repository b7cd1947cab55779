boot --memory 256M --memory-backend memfd --memory-shared
expect_exit 0
expect_memtotal_between 200000 262144
