# Snapshot and restore of a running guest on 2 vCPUs (vmm ctl snapshot,
# vmm run --restore): the guest keeps dirtying and checking 128 MiB; a
# snapshot taken while it runs is restored twice from the same file, and
# each restored guest goes on from where the snapshot was taken (no new
# fill) and finds every page as it left it. A snapshot of a paused guest
# leaves it paused. The source runs on to its own end.
# needs: guest TSC offset
. tests/guest/migrate.sh
snap=$WORK/vm.snap
boot_bg --append "scenario=dirty mem=128 seconds=8" --cpus 2 --memory 512M \
	--api "$sock"
wait_for "dirty: filled"
wait_for "dirty: t=1s "
ctl snapshot "$snap"
[ "$ctl_rc" = 0 ] || fail "snapshot: status $ctl_rc: $ctl_err"
echo "$ctl_out" | grep -qxE '\{"state-bytes":[1-9][0-9]*,"ram-bytes":[1-9][0-9]*,"total-ms":[0-9.]+\}' ||
	fail "snapshot: reply '$ctl_out'"
[ -f "$snap" ] && [ ! -e "$snap.tmp" ] || fail "snapshot: no $snap (or a .tmp left)"
ctl query-status
[ "$ctl_out" = '{"status":"running"}' ] || fail "after the snapshot: $ctl_out"
# Paused before: paused after.
ctl pause
ctl snapshot "$WORK/paused.snap"
[ "$ctl_rc" = 0 ] || fail "snapshot while paused: $ctl_err"
ctl query-status
[ "$ctl_out" = '{"status":"paused"}' ] || fail "after a paused snapshot: $ctl_out"
ctl resume
[ "$ctl_rc" = 0 ] || fail "resume: $ctl_err"
wait_pid "$vm_pid"
expect_status 0
expect_stopped_by exit-port
expect_dirty_ok "$out" "the source"

for i in 1 2; do
	run_state restore$i --restore "$snap" --cpus 2 --memory 512M
	wait_pid "$dst_pid"
	[ "$status" = 0 ] || fail "restore $i: status $status: $(cat "$WORK/restore$i.err")"
	expect_dirty_ok "$WORK/restore$i.out" "restore $i"
	expect_continued "$WORK/restore$i.out" "restore $i"
	grep -qxF "vmm: stats: stopped by exit-port" "$WORK/restore$i.err" ||
		fail "restore $i: not stopped by the exit port"
done

# A guest saved in its first second: KVM before Linux 6.7 (the lab's
# 6.1) takes a TSC written within a second of what a new vCPU counted
# since its creation for a synchronisation: with a stable host TSC it
# keeps its own value (up to a second off), with an unstable one (the
# lab's nested host) it adds the milliseconds since the vCPU's creation.
# vmm reads the TSC back (allowing for the time since it wrote it), moves
# the vCPU's offset when it is more than a millisecond off, and reads it
# again: still off, it says so ("the TSC is still ..."), which fails this
# case. Whether an offset moved here depends on how long the restore took
# (in the lab, 0.6 to 3.5 ms since the vCPU's creation); it is shown.
boot_bg --append "scenario=dirty mem=1 seconds=2" --memory 64M --api "$sock"
wait_for "dirty: filled"
ctl pause
[ "$ctl_rc" = 0 ] || fail "young: pause: $ctl_err"
ctl snapshot "$WORK/young.snap"
[ "$ctl_rc" = 0 ] || fail "young: snapshot: $ctl_err"
ctl quit
wait_pid "$vm_pid"
run_state young --restore "$WORK/young.snap" --memory 64M
wait_pid "$dst_pid"
[ "$status" = 0 ] || fail "young: restore: status $status: $(cat "$WORK/young.err")"
expect_dirty_ok "$WORK/young.out" "young: restore"
! grep -q "TSC is still" "$WORK/young.err" || fail "young: $(cat "$WORK/young.err")"
echo "  young: $(grep 'KVM kept its own TSC' "$WORK/young.err" || echo 'the TSC read back within 1 ms of the saved one')"
