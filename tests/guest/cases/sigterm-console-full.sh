# SIGTERM ends a run whose console nobody reads: the guest floods a FIFO
# that is never drained, so its vCPU is stuck writing to the full pipe
# (blocking stdout: asleep in (anon_)pipe_write; non-blocking: waiting in poll
# where it used to spin on EAGAIN). The stop must still end the run, the
# unwritten output dropped, within 10 s (it never ended before).
for mode in blocking nonblocking; do
	rm -f "$WORK/fifo"
	mkfifo "$WORK/fifo"
	exec 7<>"$WORK/fifo" # held open, never read: the pipe fills up
	if [ $mode = blocking ]; then
		"$VMM" run --kernel "$KERNEL" --cmdline "scenario=flood lines=1000000" \
			--stats >"$WORK/fifo" 2>"$err" </dev/null &
	else
		python3 -c 'import fcntl, os, sys
fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)
os.execv(sys.argv[1], sys.argv[1:])' "$VMM" run --kernel "$KERNEL" \
			--cmdline "scenario=flood lines=1000000" --stats \
			>"$WORK/fifo" 2>"$err" </dev/null &
	fi
	vm_pid=$!
	# Full (the pipe holds 64 KiB, the flood is 57 MB): the vCPU thread
	# sleeps in pipe_write, or in poll when stdout is non-blocking.
	want='(anon_)?pipe_write' # anon_pipe_write since Linux 6.14
	[ $mode = nonblocking ] && want='.*poll.*'
	full=""
	for _ in $(seq 100); do
		sleep 0.1
		for t in /proc/$vm_pid/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = vcpu0 ] &&
				grep -qxE "$want" "$t/wchan" 2>/dev/null && full=1
		done
		[ -z "$full" ] || break
	done
	[ -n "$full" ] || { kill -9 $vm_pid; wait $vm_pid 2>/dev/null || true; fail "$mode: vcpu0 never waited in $want"; }
	if ! kill -TERM $vm_pid 2>/dev/null; then
		set +e
		wait $vm_pid
		status=$?
		set -e
		fail "$mode: vmm ended (status $status) before the SIGTERM"
	fi
	for _ in $(seq 100); do
		kill -0 $vm_pid 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $vm_pid 2>/dev/null; then
		kill -9 $vm_pid
		wait $vm_pid 2>/dev/null || true
		fail "$mode: vmm still running 10 s after SIGTERM"
	fi
	set +e
	wait $vm_pid
	status=$?
	set -e
	exec 7>&-
	expect_status 143
	expect_stopped_by signal
done
