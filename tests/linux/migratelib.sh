# Helpers for the stock-Linux migration cases (tests/linux/cases/
# migrate*.sh), sourced after tests/lib.sh: a destination vmm waiting on
# a unix socket, then the migration of the booted guest to it, checked
# from both ends.
sock=$WORK/api.sock mig=$WORK/mig.sock

# migrate_destination [vmm run options]: vmm run --incoming unix:$mig in
# the background (dst_pid), output in $WORK/dst.out and dst.err; returns
# once it listens.
migrate_destination() {
	timeout -k 5 300 "$VMM" run --incoming "unix:$mig" "$@" --stats \
		</dev/null >"$WORK/dst.out" 2>"$WORK/dst.err" &
	dst_pid=$!
	for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
	[ -S "$mig" ] || fail "the destination does not listen: $(cat "$WORK/dst.err")"
}

# migrate_to_destination: vmm ctl migrate exits 0 with status completed
# (its JSON in $WORK/ctl.out), the source ends with status 0 stopped by
# migrated, the destination with status 0 through the exit port; out and
# err then name the destination's output.
migrate_to_destination() {
	local rc
	set +e
	"$VMM" ctl "$sock" migrate "unix:$mig" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "migrate: status $rc: $(cat "$WORK/ctl.err")"
	grep -qE '^\{"status":"completed",.*"downtime-ms":[0-9.]+\}$' "$WORK/ctl.out" ||
		fail "migrate: $(cat "$WORK/ctl.out")"
	set +e
	{ wait "$vm_pid"; } 2>/dev/null
	status=$?
	set -e
	expect_status 0
	expect_stopped_by migrated
	set +e
	{ wait "$dst_pid"; } 2>/dev/null
	status=$?
	set -e
	out=$WORK/dst.out err=$WORK/dst.err
	[ "$status" = 0 ] || fail "the destination: status $status: $(tail -n 5 "$err")"
	expect_stopped_by exit-port
}
