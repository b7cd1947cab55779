# Migrations that do not complete leave the source running: the
# destination killed mid-way (the bandwidth limited to 20 MiB/s so that
# the copy lasts), a cancel, a destination of another shape that refuses
# the stream; then the source guest runs to its end and every page
# checks out. A destination given a stream that is not one, or cut
# short, exits 1 with one line saying so and never runs a guest.
. tests/guest/migrate.sh
mig=$WORK/mig.sock
listen() {
	rm -f "$mig"
	run_state "$1" --incoming "unix:$mig" "${@:2}"
	for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
	[ -S "$mig" ] || fail "$1 does not listen"
}
boot_bg --append "scenario=dirty mem=64 seconds=30" --cpus 2 --memory 256M \
	--api "$sock"
wait_for "dirty: filled"
ctl migrate-set-parameters max-bandwidth-mibs=20
[ "$ctl_rc" = 0 ] || fail "migrate-set-parameters: $ctl_err"

# The destination dies.
listen killed --cpus 2 --memory 256M
"$VMM" ctl "$sock" migrate "unix:$mig" >"$WORK/m1.out" 2>"$WORK/m1.err" &
ctl_pid=$!
sleep 1
# vmm itself, not the timeout(1) running it.
pkill -KILL -P "$dst_pid" -x vmm || fail "no destination vmm to kill"
wait_pid "$ctl_pid"
[ "$status" = 1 ] || fail "migrate to a killed destination: status $status"
grep -qE '^vmm ctl: migrate: failed: ' "$WORK/m1.err" || fail "m1: $(cat "$WORK/m1.err")"
ctl query-status
[ "$ctl_out" = '{"status":"running"}' ] || fail "after the failure: $ctl_out"

# Cancelled.
listen cancelled --cpus 2 --memory 256M
"$VMM" ctl "$sock" migrate "unix:$mig" >"$WORK/m2.out" 2>"$WORK/m2.err" &
ctl_pid=$!
sleep 1
ctl migrate-cancel
[ "$ctl_rc" = 0 ] || fail "migrate-cancel: $ctl_err"
wait_pid "$ctl_pid"
[ "$status" = 1 ] && grep -qxF 'vmm ctl: migrate: cancelled' "$WORK/m2.err" ||
	fail "cancelled: status $status, $(cat "$WORK/m2.err")"
wait_pid "$dst_pid"
[ "$status" = 1 ] || fail "the cancelled destination: status $status"
[ ! -s "$WORK/cancelled.out" ] || fail "the cancelled destination ran the guest"
ctl migrate-cancel
[ "$ctl_err" = 'vmm ctl: migrate-cancel: WrongState: no migration is running' ] ||
	fail "a second cancel: '$ctl_err'"

# A destination with 1 vCPU refuses the stream of a 2-vCPU guest.
listen shape --cpus 1 --memory 256M
ctl migrate "unix:$mig"
[ "$ctl_rc" = 1 ] || fail "migrate to the wrong shape: status $ctl_rc"
wait_pid "$dst_pid"
[ "$status" = 1 ] || fail "the wrong-shape destination: status $status"
expect_err_line "$WORK/shape.err" "vmm: incoming state: the VM has 2 vCPUs, this one --cpus 1"

ctl query-status
[ "$ctl_out" = '{"status":"running"}' ] || fail "at the end: $ctl_out"
wait_pid "$vm_pid"
expect_status 0
expect_stopped_by exit-port
expect_dirty_ok "$out" "the source"

# Not a stream, and a stream cut short.
for what in junk short; do
	listen "$what" --memory 256M
	if [ "$what" = junk ]; then
		head -c 5000 /dev/urandom >"$WORK/junk"
	else
		printf 'VMMSTATE' >"$WORK/junk"
	fi
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(open(sys.argv[2],"rb").read()); s.close()' \
		"$mig" "$WORK/junk"
	wait_pid "$dst_pid"
	[ "$status" = 1 ] || fail "$what stream: status $status"
	[ ! -s "$WORK/$what.out" ] || fail "$what stream: the guest ran"
done
expect_err_line "$WORK/junk.err" "vmm: --incoming unix:$mig: not a vmm state stream (bad magic)"
expect_err_line "$WORK/short.err" "vmm: --incoming unix:$mig: truncated in the stream header (8 of 20 bytes)"
