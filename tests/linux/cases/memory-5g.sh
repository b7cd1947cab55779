# 5 GiB: 3 GiB below the hole and 2 GiB above 4 GiB; MemTotal shows both.
boot --memory 5G
expect_exit 0
expect_memtotal_between 4800000 5242880
