# Helpers for stock-Linux guest cases; sourced by tests/linux/run-cases.
# A case calls `boot ARGS...` (vmm run with the test kernel, initramfs and
# a quiet command line plus ARGS), then `expect_*` checks; the first failed
# check fails the case with its reason.
KERNEL=${KERNEL:-build/kernel/bzImage}
INITRD=${INITRD:-build/linux/initrd.cpio}
VMM=${VMM:-build/vmm}
BASE_CMDLINE="console=ttyS0 quiet panic=-1"
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
boot() {
	local append=""
	if [ "$1" = --append ]; then append=$2; shift 2; fi
	set +e
	timeout -k 5 "${BOOT_TIMEOUT:-180}" "$VMM" run --kernel "$KERNEL" \
		--initrd "$INITRD" --cmdline "$BASE_CMDLINE $append" "$@" \
		<"${STDIN:-/dev/null}" >"$out" 2>"$err"
	status=$?
	set -e
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

# expect_memtotal_between MIN_KB MAX_KB
expect_memtotal_between() {
	local kb
	kb=$(sed -n 's/.*guest: MemTotal: \([0-9]*\) kB.*/\1/p' "$out" | tr -d '\r')
	[ -n "$kb" ] || fail "the guest printed no MemTotal"
	[ "$kb" -ge "$1" ] && [ "$kb" -le "$2" ] ||
		fail "MemTotal $kb kB is not within [$1, $2] kB"
}
