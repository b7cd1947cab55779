# virtio-9p over virtio-pci against a host directory (--9p, passthrough):
# the guest's 9P2000.L client reads a file the host wrote, builds a
# nested tree of files with a known pattern, reads them back, checks
# getattr sizes and readdir listings, ENOENT and EEXIST, then removes
# everything; the host directory holds only its own file afterwards.
. tests/guest/p9.sh
p9_share "$WORK/share"
p9_boot pci "$WORK/share,tag=share" \
	"scenario=p9 tag=share hostfile=hostfile hostsize=5000"
expect_exit 0
p9_expect_line "guest: 9p: pci, tag 'share', msize 524288"
p9_expect_line "guest: 9p: host file 'hostfile' read ok"
p9_expect_line "guest: 9p: tree written, read back, listed ok"
p9_expect_line "guest: 9p: tree deleted, directory empty ok"
p9_expect_line "guest: 9p: PASS"
p9_expect_only_hostfile "$WORK/share"
