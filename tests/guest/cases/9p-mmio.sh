# virtio-9p over virtio-mmio, the functional test as in 9p-pci, with
# security=passthrough named and another tag.
. tests/guest/p9.sh
p9_share "$WORK/share"
p9_boot mmio "$WORK/share,tag=hostshare,security=passthrough" \
	"scenario=p9 tag=hostshare hostfile=hostfile hostsize=5000"
expect_exit 0
p9_expect_line "guest: 9p: mmio, tag 'hostshare', msize 524288"
p9_expect_line "guest: 9p: host file 'hostfile' read ok"
p9_expect_line "guest: 9p: tree written, read back, listed ok"
p9_expect_line "guest: 9p: tree deleted, directory empty ok"
p9_expect_line "guest: 9p: PASS"
p9_expect_only_hostfile "$WORK/share"
