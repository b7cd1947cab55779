# A guest doing verified disk I/O (scenario=blkverify: 8 requests in
# flight, interrupts, every block read back as it was last written, the
# generations in guest RAM) on virtio-pci and on virtio-mmio:
# - live-migrated over a unix socket to a vmm opening the same image
#   (shared storage): the source ends migrated, the destination goes on
#   from where the source was (no new fill), finds every block right and
#   never waited for a completion longer than 3 s (a lost interrupt shows
#   as the driver's 20 s timeout);
# - snapshotted while paused (the image copied beside the snapshot, as a
#   user keeps the disk with it), the source quit, and restored on the
#   copy: the restored guest goes on and finds every block right.
. tests/guest/migrate.sh
mig=$WORK/mig.sock
MMIO_ARGS="transport=mmio virtio_mmio.device=4K@0xd0000000:16"

# expect_blk_ok FILE WHAT: the blkverify guest in FILE went on and ended
# well.
expect_blk_ok() {
	local line wait
	line=$(grep -E '^blkverify: ok ios=[0-9]+ writes=[0-9]+ verified=[0-9]+ max-wait-ms=[0-9]+$' "$1") ||
		fail "$2: no ok line: $(tail -n 3 "$1" | tr '\n' '|')"
	! grep -q MISMATCH "$1" || fail "$2: $(grep MISMATCH "$1")"
	! grep -q '^blkverify: filled' "$1" ||
		fail "$2: the guest started again instead of going on"
	grep -qE '^blkverify: t=[0-9]+s ' "$1" || fail "$2: no progress lines"
	wait=${line##*max-wait-ms=}
	[ "$wait" -lt 3000 ] || fail "$2: a completion took $wait ms: $line"
}

for t in pci mmio; do
	disk=$WORK/disk-$t.img
	rm -f "$disk" "$mig"
	truncate -s 4M "$disk"
	if [ $t = mmio ]; then
		topt="--transport mmio" gargs=$MMIO_ARGS
	else
		topt="" gargs=""
	fi
	# shellcheck disable=SC2086
	run_state dst-$t --incoming "unix:$mig" --memory 256M $topt \
		--disk "$disk,cache=none"
	for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
	[ -S "$mig" ] || fail "$t: the destination does not listen on $mig"
	# shellcheck disable=SC2086
	boot_bg --append "scenario=blkverify blocks=512 qd=8 secs=8 irq=1 $gargs" \
		--memory 256M --api "$sock" $topt --disk "$disk,cache=none"
	wait_for "blkverify: filled"
	wait_for "blkverify: t=1s "
	ctl migrate "unix:$mig"
	[ "$ctl_rc" = 0 ] || fail "$t: migrate: status $ctl_rc: $ctl_err"
	wait_pid "$vm_pid"
	expect_status 0
	expect_stopped_by migrated
	wait_pid "$dst_pid"
	expect_dst_status "dst-$t" "$t: the destination"
	expect_blk_ok "$WORK/dst-$t.out" "$t: the destination"
	grep -qxF "vmm: stats: stopped by exit-port" "$WORK/dst-$t.err" ||
		fail "$t: the destination was not stopped by the exit port"
	! grep -q '^blkverify: ok' "$out" || fail "$t: the source finished too"
	echo "  $t migrated: $(grep '^blkverify: ok' "$WORK/dst-$t.out")"

	# Snapshot of the paused guest, its disk copied meanwhile.
	snap=$WORK/vm-$t.snap
	truncate -s 0 "$disk" && truncate -s 4M "$disk"
	# shellcheck disable=SC2086
	boot_bg --append "scenario=blkverify blocks=512 qd=8 secs=6 irq=1 $gargs" \
		--memory 256M --api "$sock" $topt --disk "$disk,cache=none"
	wait_for "blkverify: filled"
	wait_for "blkverify: t=1s "
	ctl pause
	[ "$ctl_rc" = 0 ] || fail "$t: pause: $ctl_err"
	ctl snapshot "$snap"
	[ "$ctl_rc" = 0 ] || fail "$t: snapshot: status $ctl_rc: $ctl_err"
	cp "$disk" "$disk.snap"
	ctl quit
	wait_pid "$vm_pid"
	expect_status 0
	# shellcheck disable=SC2086
	run_state restore-$t --restore "$snap" --memory 256M $topt \
		--disk "$disk.snap,cache=none"
	wait_pid "$dst_pid"
	[ "$status" = 0 ] || fail "$t: restore: status $status: $(cat "$WORK/restore-$t.err")"
	expect_blk_ok "$WORK/restore-$t.out" "$t: the restored guest"
	echo "  $t restored: $(grep '^blkverify: ok' "$WORK/restore-$t.out")"
done
