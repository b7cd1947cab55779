# Live migration of a stock Linux guest (2 vCPUs, kvmclock, LAPIC timer)
# over a unix socket while it copies and checks a 16 MiB file in tmpfs
# round after round: vmm ctl migrate exits 0 with status completed, the
# source ends stopped by migrated, and the destination goes on with the
# rounds (no new start), every copy checking out, its wall clock within
# 10 s of the host's, and ends through the exit port with status 0.
. tests/linux/migratelib.sh
migrate_destination --cpus 2 --memory 512M
boot_bg --append "vmmtest.script=migrate-dirty" --cpus 2 --memory 512M \
	--api "$sock"
wait_for "guest: migrate-dirty: round 3 "
migrate_to_destination
grep -qE '^guest: migrate-dirty: ok after [0-9]+ rounds' "$out" ||
	fail "the destination did not finish its rounds"
! grep -q 'MISMATCH\|migrate-dirty: ready' "$out" ||
	fail "the destination: $(grep 'MISMATCH\|ready' "$out")"
wall=$(sed -n 's/^guest: migrate-dirty: round [0-9]* wall \([0-9]*\).*/\1/p' "$out" | tail -n 1)
now=$(date +%s)
[ -n "$wall" ] && [ $((now - wall)) -le 10 ] && [ $((wall - now)) -le 10 ] ||
	fail "the guest's wall clock ($wall) is not within 10 s of the host's ($now)"
