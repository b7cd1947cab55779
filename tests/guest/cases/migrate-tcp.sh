# Live migration over TCP on 127.0.0.1 of a guest on 1 vCPU checking
# 64 MiB and dirtying 8 MiB of it, with a maximum downtime of 50 ms set first
# (migrate-set-parameters), tracked by KVM's dirty log with manual
# protection (--dirty-tracking bitmap): as migrate-unix.sh.
. tests/guest/migrate.sh
port=$((40000 + RANDOM % 20000))
run_state dst --incoming "tcp:127.0.0.1:$port" --memory 256M
for _ in $(seq 100); do ss -ltn | grep -q ":$port " && break; sleep 0.1; done
boot_bg --append "scenario=dirty mem=64 dirty=8 seconds=30" --memory 256M --api "$sock" \
	--dirty-tracking bitmap
wait_for "dirty: filled"
ctl migrate-set-parameters max-downtime-ms=50
[ "$ctl_out" = '{"max-downtime-ms":50,"max-bandwidth-mibs":0}' ] ||
	fail "migrate-set-parameters: '$ctl_out' '$ctl_err'"
ctl migrate "tcp:127.0.0.1:$port"
[ "$ctl_rc" = 0 ] || fail "migrate: status $ctl_rc: $ctl_err"
echo "$ctl_out" | grep -qE '^\{"status":"completed","round":[0-9]+,"dirty-tracking":"dirty-log-clear",.*\}$' ||
	fail "migrate: '$ctl_out'"
wait_pid "$vm_pid"
expect_status 0
expect_stopped_by migrated
wait_pid "$dst_pid"
expect_dst_status dst "the destination"
expect_dirty_ok "$WORK/dst.out" "the destination"
expect_continued "$WORK/dst.out" "the destination"
