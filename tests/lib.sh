# Helpers for guest cases; sourced by tests/run-cases before each case.
# The suite's env.sh sets KERNEL, INITRD (may be empty) and BASE_CMDLINE.
# A case calls `boot ARGS...` (vmm run with that kernel, initrd and command
# line plus ARGS, and always --stats), then `expect_*` checks; the first
# failed check fails the case with its reason. A check must be one that the
# failure output cannot satisfy: match a whole line where a prefix is shared
# (expect_stderr_line), and say how the run ended (expect_stopped_by), since
# an exit-port 0, a reset and a poweroff all give status 0.
VMM=${VMM:-build/vmm}
out=$WORK/out err=$WORK/err status=""

fail() {
	echo "  $*" >&2
	echo "  --- guest output (last 15 lines):" >&2
	tail -n 15 "$out" | sed 's/^/  | /' >&2
	echo "  --- vmm stderr:" >&2
	sed 's/^/  | /' "$err" >&2
	exit 1
}

# boot [--append STR] [vmm run options]: --append adds to the cmdline.
# BOOT_TIMEOUT (seconds, default 180) bounds the run: a guest still running
# then gets SIGTERM and the status is timeout's 124 (137 if it needed
# SIGKILL). --stats is always given, for expect_stopped_by.
boot() {
	local append=""
	if [ "$1" = --append ]; then append=$2; shift 2; fi
	set +e
	timeout -k 5 "${BOOT_TIMEOUT:-180}" "$VMM" run --kernel "$KERNEL" \
		${INITRD:+--initrd "$INITRD"} --cmdline "${BASE_CMDLINE:+$BASE_CMDLINE }$append" \
		--stats "$@" <"${STDIN:-/dev/null}" >"$out" 2>"$err"
	status=$?
	set -e
}

# boot_bg [--append STR] [vmm run options]: like boot, in the background
# (pid in $vm_pid); then wait_for a line and stop_vm with a signal.
boot_bg() {
	local append=""
	if [ "$1" = --append ]; then append=$2; shift 2; fi
	"$VMM" run --kernel "$KERNEL" ${INITRD:+--initrd "$INITRD"} \
		--cmdline "${BASE_CMDLINE:+$BASE_CMDLINE }$append" --stats "$@" \
		</dev/null >"$out" 2>"$err" &
	vm_pid=$!
}

# wait_for STR: waits up to three minutes for STR in the guest output.
wait_for() {
	for _ in $(seq 1800); do
		grep -qF -- "$1" "$out" && return 0
		sleep 0.1
	done
	fail "no '$1' in the guest output"
}

# stop_vm SIGNAL: signals the background VM and collects its status.
stop_vm() {
	kill -"$1" "$vm_pid"
	set +e
	{ wait "$vm_pid"; } 2>/dev/null
	status=$?
	set -e
}

# ctl ARGS...: vmm ctl on the control socket $sock; stdout in $ctl_out, stderr in $ctl_err,
# status in $ctl_rc.
ctl() {
	set +e
	"$VMM" ctl "$sock" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
	ctl_rc=$?
	set -e
	ctl_out=$(cat "$WORK/ctl.out") ctl_err=$(cat "$WORK/ctl.err")
}

expect_status() {
	[ "$status" = "$1" ] || fail "exit status $status, expected $1"
}

expect_output() {
	grep -qF -- "$1" "$out" || fail "no '$1' in the guest output"
}

expect_stderr() {
	grep -qF -- "$1" "$err" || fail "no '$1' on vmm's stderr"
}

# expect_stderr_line REGEX: a whole line of vmm's stderr matches the
# extended REGEX (a prefix that a failure message shares is not enough).
expect_stderr_line() {
	grep -qxE -- "$1" "$err" || fail "no line matching '$1' on vmm's stderr"
}

# expect_stopped_by WORD: the run ended by this mechanism, as --stats says:
# exit-port, acpi-poweroff, acpi-reset, i8042-reset, triple-fault, signal,
# console, error, api-quit (vmm/lifecycle.h). Status 0 alone cannot tell them apart.
expect_stopped_by() {
	grep -qxF -- "vmm: stats: stopped by $1" "$err" ||
		fail "not stopped by $1 ($(grep -o 'stopped by .*' "$err" || echo 'no stop reported'))"
}

# expect_exit STATUS: the guest wrote STATUS to the exit port (port 0x501)
# and that ended the run; not a reset or poweroff with the same status.
expect_exit() {
	expect_status "$1"
	expect_stopped_by exit-port
}

# The --boot-time report of a guest that wrote the boot marker port.
BOOT_TIME_LINE='vmm: boot-time: [0-9]+\.[0-9]{3} ms \(monotonic [1-9][0-9]* ns\)'

# expect_memtotal_between MIN_KB MAX_KB
expect_memtotal_between() {
	local kb
	kb=$(sed -n 's/.*guest: MemTotal: \([0-9]*\) kB.*/\1/p' "$out" | tr -d '\r')
	[ -n "$kb" ] || fail "the guest printed no MemTotal"
	[ "$kb" -ge "$1" ] && [ "$kb" -le "$2" ] ||
		fail "MemTotal $kb kB is not within [$1, $2] kB"
}

# need_hugepages N: makes sure N free 2 MiB pages are reserved.
need_hugepages() {
	local free
	free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
	[ "$free" -ge "$1" ] && return 0
	echo $(($(cat /proc/sys/vm/nr_hugepages) + $1 - free)) >/proc/sys/vm/nr_hugepages
	free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
	[ "$free" -ge "$1" ] || fail "cannot reserve $1 huge pages (have $free)"
}
