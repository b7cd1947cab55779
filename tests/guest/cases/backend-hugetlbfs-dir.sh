# An unlinked file in a hugetlbfs mount: made for the test when it runs as
# root; as an unprivileged user, the mount an administrator gave it write
# access to, /dev/hugepages (tests/lab/as-user does that).
need_hugepages 128
if [ "$(id -u)" = 0 ]; then
	dir=$WORK/huge
	mkdir -p "$dir"
	mount -t hugetlbfs none "$dir"
else
	dir=/dev/hugepages
	[ -w "$dir" ] || fail "running as $(id -un): $dir is not writable"
fi
boot --append "scenario=mem step=4096" --memory 128M --memory-backend "hugetlbfs:$dir"
[ "$(id -u)" != 0 ] || umount "$dir"
expect_exit 0
expect_output "top 128 MiB, above 4 GiB 0 MiB, 0 bad"
