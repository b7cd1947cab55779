# A read-only export: the guest reads the host's file, mkdir and create
# give EROFS, and the host directory is unchanged.
. tests/guest/p9.sh
for t in pci mmio; do
	rm -rf "$WORK/share"
	p9_share "$WORK/share"
	p9_boot "$t" "$WORK/share,tag=share,readonly" \
		"scenario=p9 ro=1 hostfile=hostfile hostsize=5000"
	expect_exit 0
	p9_expect_line "guest: 9p: host file 'hostfile' read ok"
	p9_expect_line "guest: 9p: PASS read-only"
	p9_expect_only_hostfile "$WORK/share"
done
