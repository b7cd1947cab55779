# The blkverify guest (verified disk I/O: 8 requests in flight, every
# block read back as it was last written, the generations in guest RAM)
# on image formats, virtio-pci, for each of: qcow2 (64 KiB clusters),
# qcow2 with 4 KiB clusters and lazy refcounts, a qcow2 overlay over a
# raw backing file, QED:
# - live-migrated over a unix socket to a vmm that opened the same image
#   at start-up (read-only, inactive) and takes it over at the END of the
#   stream: the source ends migrated, the destination goes on and finds
#   every block right; then qemu-img check finds no error and no leak,
#   and the overlay's backing file is unchanged;
# - snapshotted while paused, the image copied meanwhile, the source
#   quit: the source's quit changed nothing the guest sees (qemu-img
#   compare with the copy), the copy is clean, and the guest restored on
#   it goes on and finds every block right; the copy is clean after.
# Then a destination whose image cannot be taken over (the path now
# names a raw file) exits 1, and the source resumes and ends well.
. tests/guest/migrate.sh
mig=$WORK/mig.sock

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

# make_image KIND FILE FMT
make_image() {
	rm -f "$2"
	case $1 in
	qcow2) qemu-img create -q -f qcow2 "$2" 4M ;;
	qcow2-lazy) qemu-img create -q -f qcow2 \
		-o cluster_size=4k,lazy_refcounts=on "$2" 4M ;;
	overlay)
		head -c 4M /dev/urandom >"$WORK/base.raw"
		cp "$WORK/base.raw" "$WORK/base.want"
		qemu-img create -q -f qcow2 -o cluster_size=4k -b base.raw \
			-F raw "$2" ;;
	qed) qemu-img create -q -f qed "$2" 4M ;;
	esac || fail "$1: qemu-img create"
}

listen() {
	rm -f "$mig"
	run_state "$1" --incoming "unix:$mig" --memory 256M --disk "$2"
	for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
	[ -S "$mig" ] || fail "$1: the destination does not listen on $mig"
}

for kind in qcow2 qcow2-lazy overlay qed; do
	fmt=qcow2
	[ $kind != qed ] || fmt=qed
	disk=$WORK/disk-$kind.$fmt
	make_image $kind "$disk"
	listen dst-$kind "$disk,format=$fmt,cache=none"
	boot_bg --append "scenario=blkverify blocks=512 qd=8 secs=5 irq=1" \
		--memory 256M --api "$sock" --disk "$disk,format=$fmt,cache=none"
	wait_for "blkverify: filled"
	wait_for "blkverify: t=1s "
	ctl migrate "unix:$mig"
	[ "$ctl_rc" = 0 ] || fail "$kind: migrate: status $ctl_rc: $ctl_err"
	wait_pid "$vm_pid"
	expect_status 0
	expect_stopped_by migrated
	wait_pid "$dst_pid"
	expect_dst_status "dst-$kind" "$kind: the destination"
	expect_blk_ok "$WORK/dst-$kind.out" "$kind: the destination"
	! grep -q '^blkverify: ok' "$out" || fail "$kind: the source finished too"
	qemu-img check -q -f $fmt "$disk" ||
		fail "$kind: qemu-img check after the migration"
	if [ $kind = overlay ]; then
		cmp -s "$WORK/base.raw" "$WORK/base.want" ||
			fail "overlay: the backing file changed"
	fi
	echo "  $kind migrated: $(grep '^blkverify: ok' "$WORK/dst-$kind.out")"

	# Snapshot of the paused guest, its disk copied meanwhile.
	snap=$WORK/vm-$kind.snap
	make_image $kind "$disk"
	boot_bg --append "scenario=blkverify blocks=512 qd=8 secs=4 irq=1" \
		--memory 256M --api "$sock" --disk "$disk,format=$fmt,cache=none"
	wait_for "blkverify: filled"
	wait_for "blkverify: t=1s "
	ctl pause
	[ "$ctl_rc" = 0 ] || fail "$kind: pause: $ctl_err"
	ctl snapshot "$snap"
	[ "$ctl_rc" = 0 ] || fail "$kind: snapshot: status $ctl_rc: $ctl_err"
	cp "$disk" "$disk.snap"
	ctl quit
	wait_pid "$vm_pid"
	expect_status 0
	qemu-img compare -q -f $fmt -F $fmt "$disk" "$disk.snap" ||
		fail "$kind: the guest's disk changed after the snapshot"
	qemu-img check -q -f $fmt "$disk.snap" ||
		fail "$kind: qemu-img check of the copy"
	run_state restore-$kind --restore "$snap" --memory 256M \
		--disk "$disk.snap,format=$fmt,cache=none"
	wait_pid "$dst_pid"
	[ "$status" = 0 ] || fail "$kind: restore: status $status: $(cat "$WORK/restore-$kind.err")"
	expect_blk_ok "$WORK/restore-$kind.out" "$kind: the restored guest"
	qemu-img check -q -f $fmt "$disk.snap" ||
		fail "$kind: qemu-img check after the restored run"
	echo "  $kind restored: $(grep '^blkverify: ok' "$WORK/restore-$kind.out")"
	rm -f "$snap"
done

# The takeover fails: the destination's path names a qcow2 image at
# start-up and a raw file by the END. It exits 1 and the source, which
# handed its image over, takes it back and ends well.
disk=$WORK/disk-fail.qcow2
make_image qcow2 "$disk"
ln -sf "$disk" "$WORK/dst-link"
listen dst-fail "$WORK/dst-link,format=qcow2,cache=none"
boot_bg --append "scenario=blkverify blocks=512 qd=8 secs=4 irq=1" \
	--memory 256M --api "$sock" --disk "$disk,format=qcow2,cache=none"
wait_for "blkverify: filled"
wait_for "blkverify: t=1s "
truncate -s 4M "$WORK/not-qcow2.raw"
ln -sfn "$WORK/not-qcow2.raw" "$WORK/dst-link"
ctl migrate "unix:$mig"
[ "$ctl_rc" = 1 ] || fail "takeover failure: migrate: status $ctl_rc"
wait_pid "$dst_pid"
[ "$status" = 1 ] || fail "takeover failure: the destination: status $status"
grep -q "vmm: disk vda: taking over $WORK/dst-link from the source failed" \
	"$WORK/dst-fail.err" ||
	fail "takeover failure: $(cat "$WORK/dst-fail.err")"
[ ! -s "$WORK/dst-fail.out" ] || fail "takeover failure: the destination ran the guest"
truncate -s 4M "$WORK/zero.raw"
cmp -s "$WORK/not-qcow2.raw" "$WORK/zero.raw" ||
	fail "takeover failure: the destination wrote to the file"
wait_pid "$vm_pid"
expect_status 0
expect_stopped_by exit-port
grep -qE '^blkverify: ok ' "$out" || fail "takeover failure: the source did not end well: $(tail -n 3 "$out" | tr '\n' '|')"
! grep -q MISMATCH "$out" || fail "takeover failure: $(grep MISMATCH "$out")"
qemu-img check -q "$disk" || fail "takeover failure: qemu-img check"
echo "  takeover failure: the source went on: $(grep '^blkverify: ok' "$out")"
