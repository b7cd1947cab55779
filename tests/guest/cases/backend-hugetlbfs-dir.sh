# An unlinked file in a hugetlbfs mount made for the test.
need_hugepages 128
mkdir -p "$WORK/huge"
mount -t hugetlbfs none "$WORK/huge"
boot --append "scenario=mem step=4096" --memory 128M --memory-backend "hugetlbfs:$WORK/huge"
umount "$WORK/huge"
expect_exit 0
expect_output "top 128 MiB, above 4 GiB 0 MiB, 0 bad"
