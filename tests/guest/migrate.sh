# Helpers for the snapshot and migration cases (tests/guest/cases/
# snapshot-*.sh, migrate-*.sh), sourced after tests/lib.sh. The workload
# is the test guest's scenario=dirty (guest/testguest/dirty.c): it fills
# its working set with a pattern of (address, generation), then rewrites
# and verifies it until its time is up; any page that did not survive is
# a "dirty: MISMATCH ..." line and exit status 1.

sock=$WORK/api.sock
# The line a dirty guest ends with when every page checked out.
DIRTY_OK='dirty: ok passes=[0-9]+ max-stall-us=[0-9]+'

# run_state NAME ARGS...: vmm run ARGS (a --restore or --incoming run)
# in the background, output in $WORK/NAME.out and .err, pid in $dst_pid.
run_state() {
	local name=$1
	shift
	timeout -k 5 "${BOOT_TIMEOUT:-180}" "$VMM" run --stats "$@" </dev/null \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	dst_pid=$!
}

# wait_pid PID: its exit status in $status.
wait_pid() {
	set +e
	{ wait "$1"; } 2>/dev/null
	status=$?
	set -e
}

# expect_dst_status NAME WHAT: the run_state run NAME, collected by
# wait_pid, ended with status 0; if not, its last output lines and its
# stderr are shown.
expect_dst_status() {
	[ "$status" = 0 ] && return
	echo "  --- $1 output (last 15 lines):" >&2
	tail -n 15 "$WORK/$1.out" | sed 's/^/  | /' >&2
	fail "$2: status $status: $(cat "$WORK/$1.err")"
}

# expect_dirty_ok FILE WHAT: the guest output in FILE ends well: the ok
# line, no mismatch, no second fill (the guest went on, it did not boot
# again).
expect_dirty_ok() {
	grep -qxE "$DIRTY_OK" "$1" ||
		fail "$2: no '$DIRTY_OK' line: $(tail -n 3 "$1" | tr '\n' '|')"
	! grep -q MISMATCH "$1" || fail "$2: $(grep MISMATCH "$1")"
}

# expect_continued FILE WHAT: FILE holds the output of a guest that was
# already running: progress lines, and no start of the scenario.
expect_continued() {
	! grep -q '^dirty: filling' "$1" ||
		fail "$2: the guest started again instead of going on"
	grep -qE '^dirty: t=[0-9]+s ' "$1" || fail "$2: no progress lines"
}

# expect_err_line FILE LINE: FILE (a vmm's stderr) holds LINE as a whole
# line; expect_err_regex FILE REGEX: a whole line matches the extended
# REGEX (for lines holding byte offsets).
expect_err_line() {
	grep -qxF -- "$2" "$1" ||
		fail "expected the line '$2' on stderr, got: $(cat "$1")"
}
expect_err_regex() {
	grep -qxE -- "$2" "$1" ||
		fail "expected a line matching '$2' on stderr, got: $(cat "$1")"
}
