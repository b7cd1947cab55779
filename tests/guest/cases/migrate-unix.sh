# Live migration over a unix socket of a guest checking 96 MiB on 2
# vCPUs and dirtying 16 MiB of it all the time (under the lab's TCG the
# link carries about 25 MB/s, so the guest is throttled before the
# migration converges); KVM's dirty ring tracks the pages: vmm ctl migrate follows it to the end and exits 0
# with the final query-migrate (completed); the source's run ends with
# status 0, stopped by migrated; the destination goes on from where the
# source was (no new fill) and finds every page right.
# In the lab host this case runs on one lab CPU (tests/guest/check): with
# the dirty ring, on a two-CPU lab host, the source guest triple-faulted
# or the destination hung now and then (README, lab section).
# lab: one CPU
. tests/guest/migrate.sh
mig=$WORK/mig.sock
run_state dst --incoming "unix:$mig" --cpus 2 --memory 256M
for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
[ -S "$mig" ] || fail "the destination does not listen on $mig"
boot_bg --append "scenario=dirty mem=96 dirty=16 seconds=30" --cpus 2 --memory 256M \
	--api "$sock" --dirty-tracking ring
wait_for "dirty: filled"
wait_for "dirty: t=1s "
ctl migrate "unix:$mig"
[ "$ctl_rc" = 0 ] || fail "migrate: status $ctl_rc: $ctl_err"
echo "$ctl_out" | grep -qE '^\{"status":"completed","round":[1-9][0-9]*,"dirty-tracking":"ring",.*"downtime-ms":[0-9.]+\}$' ||
	fail "migrate: final reply '$ctl_out'"
wait_pid "$vm_pid"
expect_status 0
expect_stopped_by migrated
wait_pid "$dst_pid"
expect_dst_status dst "the destination"
expect_dirty_ok "$WORK/dst.out" "the destination"
expect_continued "$WORK/dst.out" "the destination"
grep -qxF "vmm: stats: stopped by exit-port" "$WORK/dst.err" ||
	fail "the destination was not stopped by the exit port"
! grep -q '^dirty: ok' "$out" || fail "the source finished the scenario too"
