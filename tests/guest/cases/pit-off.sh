# --pit off: a board without the i8254. The test guest's pit scenario
# reads channel 0 twice a millisecond apart: with the default board it
# counts, without it the ports read 0xff (and the guest calibrates its
# TSC against the RTC). A snapshot keeps the board: a
# guest saved without a PIT is refused by a VM that has one and restored
# by one that has none, and a guest saved with a PIT is refused by a VM
# without.
. tests/guest/migrate.sh
boot --append "scenario=pit" --memory 64M
expect_exit 0
grep -qxF "guest: pit present" "$out" || fail "default board: $(grep pit "$out")"
boot --append "scenario=pit" --memory 64M --pit off
expect_exit 0
grep -qxF "guest: pit absent" "$out" || fail "--pit off: $(grep pit "$out")"

boot_bg --append "scenario=dirty mem=16 seconds=4" --memory 128M --pit off \
	--api "$sock"
wait_for "dirty: t=1s "
ctl snapshot "$WORK/nopit.snap"
[ "$ctl_rc" = 0 ] || fail "snapshot without a PIT: $ctl_err"
ctl quit
wait_pid "$vm_pid"
run_state with-pit --restore "$WORK/nopit.snap" --memory 128M
wait_pid "$dst_pid"
[ "$status" != 0 ] || fail "a VM with a PIT restored a guest saved without"
expect_err_line "$WORK/with-pit.err" \
	"vmm: incoming state: no PIT state: the saved VM ran with --pit off; so must this one"
run_state without-pit --restore "$WORK/nopit.snap" --memory 128M --pit off
wait_pid "$dst_pid"
[ "$status" = 0 ] || fail "restore with --pit off: status $status: $(cat "$WORK/without-pit.err")"
expect_dirty_ok "$WORK/without-pit.out" "restore with --pit off"
expect_continued "$WORK/without-pit.out" "restore with --pit off"

boot_bg --append "scenario=dirty mem=16 seconds=4" --memory 128M --api "$sock"
wait_for "dirty: t=1s "
ctl snapshot "$WORK/pit.snap"
[ "$ctl_rc" = 0 ] || fail "snapshot with a PIT: $ctl_err"
ctl quit
wait_pid "$vm_pid"
run_state no-pit --restore "$WORK/pit.snap" --memory 128M --pit off
wait_pid "$dst_pid"
[ "$status" != 0 ] || fail "a VM without a PIT restored a guest saved with one"
expect_err_line "$WORK/no-pit.err" \
	"vmm: PIT state: the saved VM had a PIT; this one runs with --pit off"
