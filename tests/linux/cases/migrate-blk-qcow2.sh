# Live migration of a stock Linux guest whose virtio-blk disk is a qcow2
# image (4 KiB clusters, so the guest's writes keep allocating clusters
# and L2 tables), over a unix socket, while the guest runs a
# write-then-verify loop on it (scenario blk-verify-loop: patterned 64 KiB
# blocks written with dd conv=fsync, the page cache dropped, read back).
# The destination opened the image read-only at start-up and takes it
# over at the end of the stream: it finishes the loop with no mismatch
# (every block, the source's writes too, read back at the end), and
# qemu-img check then finds no error and no leak.
. tests/linux/migratelib.sh
disk=$WORK/disk.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4k "$disk" 32M ||
	fail "qemu-img create"
migrate_destination --cpus 2 --memory 512M \
	--disk "$disk,format=qcow2,cache=none"
boot_bg --append "vmmtest.script=blk-verify-loop" --cpus 2 --memory 512M \
	--api "$sock" --disk "$disk,format=qcow2,cache=none"
wait_for "guest: blk-verify: round 20 "
migrate_to_destination
! grep -q 'MISMATCH\|blk-verify: ready\|failed' "$out" ||
	fail "the destination: $(grep 'MISMATCH\|ready\|failed' "$out")"
grep -qE '^guest: blk-verify: round [0-9]+ ' "$out" ||
	fail "the destination did not go on with the rounds"
grep -qE '^guest: blk-verify: ok after [0-9]+ rounds' "$out" ||
	fail "the destination did not finish the loop: $(tail -n 3 "$out" | tr '\n' '|')"
qemu-img check -q -f qcow2 "$disk" || fail "qemu-img check after the migration"
echo "  $(grep '^guest: blk-verify: ok' "$out")"
