# `vmm 9p-serve` in the lab host, mounted by the lab kernel's own 9p
# client (9pnet_fd): sourced by the 9p-serve-* cases after p9lib.sh.

# serve_start [--as UID] DIR LISTEN [options]: starts the server in the
# background and waits for its "serving" line.
serve_start() {
	local as=""
	if [ "$1" = --as ]; then as=$2; shift 2; fi
	modprobe 9pnet_fd 2>/dev/null || true
	# The lab host's loopback starts down; trans=tcp needs it.
	ip link set lo up || fail "cannot bring up lo"
	if [ -n "$as" ]; then
		setpriv --reuid="$as" --regid="$as" --clear-groups \
			"$VMM" 9p-serve "$@" >"$out" 2>"$err" &
	else
		"$VMM" 9p-serve "$@" >"$out" 2>"$err" &
	fi
	srv_pid=$!
	for _ in $(seq 100); do
		grep -q "^vmm 9p-serve: serving " "$err" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "vmm 9p-serve did not start"
}

# serve_stop: SIGTERM, and the server must exit 0.
serve_stop() {
	kill -TERM "$srv_pid"
	set +e
	wait "$srv_pid"
	status=$?
	set -e
	[ "$status" = 0 ] || fail "vmm 9p-serve exited with $status after SIGTERM"
}
