# Snapshot and restore of a stock Linux guest (2 vCPUs) while it copies
# and checks a 16 MiB file in tmpfs round after round: the source is
# ended (quit) right after the snapshot; two runs restored from the same
# file each go on with the rounds (no new start), every copy checking
# out, and end through the exit port with status 0.
sock=$WORK/api.sock snap=$WORK/vm.snap
boot_bg --append "vmmtest.script=migrate-dirty" --cpus 2 --memory 512M \
	--api "$sock"
wait_for "guest: migrate-dirty: round 3 "
"$VMM" ctl "$sock" snapshot "$snap" >"$WORK/ctl.out" 2>"$WORK/ctl.err" ||
	fail "snapshot: $(cat "$WORK/ctl.err")"
"$VMM" ctl "$sock" quit >/dev/null || fail "quit"
set +e
{ wait "$vm_pid"; } 2>/dev/null
status=$?
set -e
expect_status 0
expect_stopped_by api-quit
for i in 1 2; do
	set +e
	timeout -k 5 300 "$VMM" run --restore "$snap" --cpus 2 --memory 512M \
		--stats </dev/null >"$WORK/r$i.out" 2>"$WORK/r$i.err"
	status=$?
	set -e
	out=$WORK/r$i.out err=$WORK/r$i.err
	expect_status 0
	expect_stopped_by exit-port
	grep -qE '^guest: migrate-dirty: ok after [0-9]+ rounds' "$out" ||
		fail "restore $i did not finish its rounds"
	! grep -q 'MISMATCH\|migrate-dirty: ready' "$out" ||
		fail "restore $i: $(grep 'MISMATCH\|ready' "$out")"
done
