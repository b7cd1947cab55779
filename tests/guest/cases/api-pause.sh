# The control socket (--api, vmm ctl; docs/api.md) under the default
# seccomp filters: query-status, pause (the guest's tick lines stop while
# paused, on 2 vCPUs, one of them never started by the guest), resume
# (they go on), the error replies and vmm ctl's exit statuses, the
# client limit and the line limit, then quit while paused: status 0,
# stopped by api-quit, the socket file removed; a stale socket file is
# replaced, a live one refused; SIGTERM ends a paused run.
sock=$WORK/api.sock
# A socket file nothing listens on (left by a killed run) is replaced.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
[ -S "$sock" ] || fail "could not make a stale socket file"
boot_bg --append "scenario=tick ms=50" --cpus 2 --api "$sock"
wait_for "guest: tick 3"
# One that a running vmm listens on is refused, before any guest runs.
set +e
"$VMM" run --kernel "$KERNEL" --api "$sock" </dev/null >"$WORK/2.out" 2>"$WORK/2.err"
rc=$?
set -e
[ "$rc" = 2 ] && [ "$(wc -l <"$WORK/2.err")" = 1 ] &&
	grep -qxF "vmm: --api $sock: another process is listening on it" "$WORK/2.err" ||
	fail "a second vmm on the live socket: status $rc, stderr: $(cat "$WORK/2.err")"
ticks() { grep -c '^guest: tick ' "$out"; }
# expect_ctl RC STDOUT STDERR ARGS...
expect_ctl() {
	local rc=$1 want_out=$2 want_err=$3
	shift 3
	ctl "$@"
	[ "$ctl_rc" = "$rc" ] && [ "$ctl_out" = "$want_out" ] &&
		[ "$ctl_err" = "$want_err" ] ||
		fail "vmm ctl $*: status $ctl_rc, stdout '$ctl_out'," \
			"stderr '$ctl_err'; expected $rc, '$want_out', '$want_err'"
}

# The api thread runs in its own sandbox (one filter: its own).
api_task=$(grep -lx api /proc/"$vm_pid"/task/*/comm) ||
	fail "no thread named api"
grep -q '^Seccomp:[[:space:]]*2$' "${api_task%comm}status" &&
	grep -q '^Seccomp_filters:[[:space:]]*1$' "${api_task%comm}status" ||
	fail "the api thread is not in exactly one seccomp filter"

expect_ctl 0 '{"status":"running"}' '' query-status
expect_ctl 0 '{}' '' pause
expect_ctl 0 '{"status":"paused"}' '' query-status
n1=$(ticks)
sleep 1.5
n2=$(ticks)
[ "$n1" = "$n2" ] || fail "the guest printed $((n2 - n1)) ticks while paused"
expect_ctl 1 '' 'vmm ctl: pause: WrongState: the VM is already paused' pause
expect_ctl 1 '' "vmm ctl: fly: UnknownCommand: no command 'fly'" fly
expect_ctl 1 '' 'vmm ctl: resume: BadRequest: this command takes no arguments' \
	resume now=true
expect_ctl 2 '' "vmm ctl: argument 'now' is not KEY=VALUE" resume now
expect_ctl 0 '{}' '' resume
expect_ctl 1 '' 'vmm ctl: resume: WrongState: the VM is not paused' resume
expect_ctl 0 '{"status":"running"}' '' query-status
n3=$(ticks)
sleep 1
n4=$(ticks)
[ "$n4" -gt "$n3" ] || fail "no ticks after resume ($n3, then $n4)"

# Four clients at once are served; a fifth is told Busy and closed. A
# line over 64 KiB gets BadRequest and its connection is closed.
python3 - "$sock" <<'EOF' || fail "client limit or line limit: see above"
import json, socket, sys
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.settimeout(20)
    return s
def closed(s):
    # Closed with our bytes unread: a reset rather than an end of stream.
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
def reply(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)
held = [conn() for _ in range(4)]
for i, s in enumerate(held):
    s.sendall(b'{"id":%d,"command":"query-status"}\n' % i)
    r = reply(s)
    assert r == {"id": i, "return": {"status": "running"}}, r
extra = conn()
r = reply(extra)
assert r["error"]["code"] == "Busy", r
assert closed(extra), "the fifth client was not closed"
held.pop().close()
big = conn()
big.sendall(b" " * 70000)
r = reply(big)
assert r["id"] is None and r["error"]["code"] == "BadRequest", r
assert closed(big), "the oversize line's connection was not closed"
for s in held:
    s.sendall(b'{"id":"again","command":"query-status"}\n')
    assert reply(s)["id"] == "again"
EOF

# Quit while paused ends the run.
expect_ctl 0 '{}' '' pause
expect_ctl 0 '{}' '' quit
set +e
{ wait "$vm_pid"; } 2>/dev/null
status=$?
set -e
expect_status 0
expect_stopped_by api-quit
[ ! -e "$sock" ] || fail "the socket file is left after the run"
ctl query-status
[ "$ctl_rc" = 1 ] && [ "$(wc -l <"$WORK/ctl.err")" = 1 ] &&
	grep -qxF "vmm ctl: $sock: cannot connect: No such file or directory" "$WORK/ctl.err" ||
	fail "vmm ctl to a gone socket: status $ctl_rc, stderr '$ctl_err'"

# SIGTERM while paused ends the run too: the parked vCPUs are woken.
boot_bg --append "scenario=tick ms=50" --api "$sock"
wait_for "guest: tick 1"
expect_ctl 0 '{}' '' pause
stop_vm TERM
expect_status 143
expect_stopped_by signal
[ ! -e "$sock" ] || fail "the socket file is left after SIGTERM"
