# Live migration of a stock Linux guest whose virtio-blk disk is a qcow2
# image (4 KiB clusters, so the guest's writes keep allocating clusters
# and L2 tables), over a unix socket, while the guest runs a
# write-then-verify loop on it (scenario blk-verify-loop: patterned 64 KiB
# blocks written with dd conv=fsync, the page cache dropped, read back).
# The destination opened the image read-only at start-up and takes it
# over at the end of the stream: it finishes the loop with no mismatch
# (every block, the source's writes too, read back at the end), and
# qemu-img check then finds no error and no leak.
sock=$WORK/api.sock mig=$WORK/mig.sock disk=$WORK/disk.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4k "$disk" 32M ||
	fail "qemu-img create"
timeout -k 5 300 "$VMM" run --incoming "unix:$mig" --cpus 2 --memory 512M \
	--disk "$disk,format=qcow2,cache=none" \
	--stats </dev/null >"$WORK/dst.out" 2>"$WORK/dst.err" &
dst_pid=$!
for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
[ -S "$mig" ] || fail "the destination does not listen: $(cat "$WORK/dst.err")"
boot_bg --append "vmmtest.script=blk-verify-loop" --cpus 2 --memory 512M \
	--api "$sock" --disk "$disk,format=qcow2,cache=none"
wait_for "guest: blk-verify: round 20 "
set +e
"$VMM" ctl "$sock" migrate "unix:$mig" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
rc=$?
set -e
[ "$rc" = 0 ] || fail "migrate: status $rc: $(cat "$WORK/ctl.err")"
grep -qE '^\{"status":"completed",' "$WORK/ctl.out" ||
	fail "migrate: $(cat "$WORK/ctl.out")"
set +e
{ wait "$vm_pid"; } 2>/dev/null
status=$?
set -e
expect_status 0
expect_stopped_by migrated
set +e
{ wait "$dst_pid"; } 2>/dev/null
dst_status=$?
set -e
out=$WORK/dst.out err=$WORK/dst.err
[ "$dst_status" = 0 ] || fail "the destination: status $dst_status: $(tail -n 5 "$err")"
expect_stopped_by exit-port
! grep -q 'MISMATCH\|blk-verify: ready\|failed' "$out" ||
	fail "the destination: $(grep 'MISMATCH\|ready\|failed' "$out")"
grep -qE '^guest: blk-verify: round [0-9]+ ' "$out" ||
	fail "the destination did not go on with the rounds"
grep -qE '^guest: blk-verify: ok after [0-9]+ rounds' "$out" ||
	fail "the destination did not finish the loop: $(tail -n 3 "$out" | tr '\n' '|')"
qemu-img check -q -f qcow2 "$disk" || fail "qemu-img check after the migration"
echo "  $(grep '^guest: blk-verify: ok' "$out")"
