# What the guest writes over 9p is on the host, byte for byte: the
# functional test stopped before its deletes (keep=1), on both transports,
# with a smaller msize (64 KiB: the 1 MiB file "big" takes 17 writes),
# then the host tree compared with the expected one.
. tests/guest/p9.sh
for t in pci mmio; do
	rm -rf "$WORK/share"
	p9_share "$WORK/share"
	p9_boot "$t" "$WORK/share,tag=share" "scenario=p9 keep=1 msize=65536"
	expect_exit 0
	p9_expect_line "guest: 9p: $t, tag 'share', msize 65536"
	p9_expect_line "guest: 9p: PASS, files kept"
	p9_expect_tree "$WORK/share" 65536
	cmp "$WORK/share/hostfile" "$WORK/hostfile.orig" >&2 || fail "hostfile changed"
done
