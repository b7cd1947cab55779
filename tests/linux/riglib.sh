# Helpers of the test-rig and 9p-root cases (sourced after tests/lib.sh):
# these boot the lab's stock kernel without the test initramfs; vmm builds
# its own from the kernel's module tree.
MODULES=${MODULES:-build/kernel/root/lib/modules/$(cat build/kernel/version)}

# rig [vmm run options] -- CMD...: the test rig, output in $out/$err.
rig() {
	set +e
	timeout -k 5 "${BOOT_TIMEOUT:-180}" "$VMM" run --kernel "$KERNEL" \
		--modules "$MODULES" --stats "$@" <"${STDIN:-/dev/null}" >"$out" 2>"$err"
	status=$?
	set -e
}

# expect_stdout_bytes HEX: the command's output, byte for byte.
expect_stdout_bytes() {
	local got
	got=$(od -An -tx1 -v "$out" | tr -d ' \n')
	[ "$got" = "$1" ] || fail "stdout bytes $got, expected $1"
}
