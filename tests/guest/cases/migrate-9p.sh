# A guest keeping files open on a 9p share (scenario=p9loop: a file
# created through one fid, opened again read-only through a second, the
# root walked as a third; blocks written through the first and read back
# through both, verified) on virtio-pci, --9p passthrough:
# - live-migrated over a unix socket to a vmm sharing the same directory:
#   the source ends migrated, the destination goes on with the same fids
#   (no new open), finds every block right and ends ok; the host file
#   then holds exactly the pattern of the size the guest wrote; again on
#   virtio-mmio with security=mapped;
# - snapshotted while paused, the source quit, and restored: the restored
#   guest goes on through its fids and ends ok, the file again exact;
# - refused while a file it holds open is renamed on the host (the save
#   cannot find it again): the migration fails with one line naming the
#   file, the source runs on and, the file renamed back, ends ok.
. tests/guest/migrate.sh
. tests/guest/p9.sh
mig=$WORK/mig.sock
share=$WORK/share
mkdir -p "$share"

# expect_loop_ok FILE WHAT NAME: the p9loop guest in FILE went on and
# ended well, and the host file NAME holds exactly what it wrote.
expect_loop_ok() {
	local line size
	line=$(grep -E '^p9loop: ok writes=[0-9]+ reads=[0-9]+ size=[0-9]+$' "$1") ||
		fail "$2: no ok line: $(tail -n 3 "$1" | tr '\n' '|')"
	! grep -qE '^p9loop: (MISMATCH|FAIL)' "$1" ||
		fail "$2: $(grep -E '^p9loop: (MISMATCH|FAIL)' "$1")"
	! grep -q '^p9loop: opened' "$1" ||
		fail "$2: the guest started again instead of going on"
	grep -qE '^p9loop: t=[0-9]+s ' "$1" || fail "$2: no progress lines"
	size=${line##*size=}
	[ "$size" -gt 0 ] || fail "$2: nothing written: $line"
	p9_pattern 5 "$size" | cmp - "$share/$3" >&2 ||
		fail "$2: $share/$3 does not hold the pattern of $size bytes"
}

# live_migrate NAME FILE GUEST_ARGS VMM_ARGS...: the p9loop guest on
# FILE migrated to a destination NAME with the same VMM_ARGS; the source
# ends migrated, the destination goes on and ends ok.
live_migrate() {
	local name=$1 file=$2 gargs=$3
	shift 3
	rm -f "$mig"
	run_state "$name" --incoming "unix:$mig" --memory 256M "$@"
	for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
	[ -S "$mig" ] || fail "$name: the destination does not listen on $mig"
	boot_bg --append "scenario=p9loop tag=share file=$file secs=8 $gargs" \
		--memory 256M --api "$sock" "$@"
	wait_for "p9loop: opened $file"
	wait_for "p9loop: t=1s "
	ctl migrate "unix:$mig"
	[ "$ctl_rc" = 0 ] || fail "$name: migrate: status $ctl_rc: $ctl_err"
	wait_pid "$vm_pid"
	expect_status 0
	expect_stopped_by migrated
	wait_pid "$dst_pid"
	[ "$status" = 0 ] || fail "$name: status $status: $(cat "$WORK/$name.err")"
	grep -qxF "vmm: stats: stopped by exit-port" "$WORK/$name.err" ||
		fail "$name was not stopped by the exit port"
	! grep -q '^p9loop: ok' "$out" || fail "$name: the source finished too"
	expect_loop_ok "$WORK/$name.out" "$name" "$file"
}

live_migrate dst mig "" --9p "$share,tag=share"
echo "  migrated: $(grep '^p9loop: ok' "$WORK/dst.out")"
# Over virtio-mmio with the mapped security model (the guest's modes and
# owners in xattrs): the fids' paths depend on neither.
live_migrate dst-mmio mmio "transport=mmio virtio_mmio.device=4K@0xd0000000:16" \
	--transport mmio --9p "$share,tag=share,security=mapped"
echo "  mmio, mapped, migrated: $(grep '^p9loop: ok' "$WORK/dst-mmio.out")"

# Snapshot of the paused guest, then a restore.
snap=$WORK/vm.snap
boot_bg --append "scenario=p9loop tag=share file=snap secs=6" \
	--memory 256M --api "$sock" --9p "$share,tag=share"
wait_for "p9loop: opened snap"
wait_for "p9loop: t=1s "
ctl pause
[ "$ctl_rc" = 0 ] || fail "pause: $ctl_err"
ctl snapshot "$snap"
[ "$ctl_rc" = 0 ] || fail "snapshot: status $ctl_rc: $ctl_err"
ctl quit
wait_pid "$vm_pid"
expect_status 0
run_state restore --restore "$snap" --memory 256M --9p "$share,tag=share"
wait_pid "$dst_pid"
[ "$status" = 0 ] || fail "restore: status $status: $(cat "$WORK/restore.err")"
expect_loop_ok "$WORK/restore.out" "the restored guest" snap
echo "  restored: $(grep '^p9loop: ok' "$WORK/restore.out")"

# A file the guest holds open renamed on the host: the save cannot find
# it again, so the migration is refused (one line naming the file) and
# the source runs on; renamed back, the guest ends ok.
rm -f "$mig"
run_state dst2 --incoming "unix:$mig" --memory 256M --9p "$share,tag=share"
for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
boot_bg --append "scenario=p9loop tag=share file=moved secs=6" \
	--memory 256M --api "$sock" --9p "$share,tag=share"
wait_for "p9loop: t=1s "
mv "$share/moved" "$share/moved.away"
ctl migrate "unix:$mig"
mv "$share/moved.away" "$share/moved"
[ "$ctl_rc" != 0 ] || fail "a migration with an open file renamed went through"
expect_err_line "$err" "vmm: 9p share: cannot be saved: fid 1: the file open as moved is no longer there (renamed on the host?)"
wait_pid "$vm_pid"
expect_status 0
grep -qE '^p9loop: ok writes=[0-9]+ ' "$out" ||
	fail "the source did not run on: $(tail -n 3 "$out" | tr '\n' '|')"
! grep -qE '^p9loop: (MISMATCH|FAIL)' "$out" || fail "the source: $(grep -E '^p9loop: (MISMATCH|FAIL)' "$out")"
kill "$dst_pid" 2>/dev/null || true
wait_pid "$dst_pid"
echo "  refused: $(grep -F 'cannot be saved' "$err")"
