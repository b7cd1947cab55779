# Teardown turns the PIT's tick reinjection off before the VM fd is
# closed (arch/x86/board.c: the PIT's SRCU waits then come before the
# close, where they were slow ones): vmm run under strace, the test
# guest on two vCPUs exiting at once. With the
# default board exactly one KVM_REINJECT_CONTROL, on the VM fd, returning
# 0, after both vCPU fds are closed (no vCPU runs any more) and before
# the VM fd's close; with --pit off none. The trace's own shape is
# checked first, so a trace that lacks the lines cannot pass.
REAL_VMM=$VMM
VMM=$WORK/vmm-traced
cat >"$VMM" <<EOF
#!/bin/sh
exec strace -f -qq -o "\$TRACE" -e trace=ioctl,close "$REAL_VMM" "\$@"
EOF
chmod +x "$VMM"

# check_teardown TRACE WANT: WANT (0 or 1) reinjection-off calls, placed
# as above.
check_teardown() {
	awk -v want="$2" '
	# "PID ioctl(FD, NAME, ...) = RESULT"
	{ sub(/^[0-9]+ +/, "") }
	/^ioctl\([0-9]+, KVM_CREATE_VM,/ { vm = $NF }
	/^ioctl\([0-9]+, KVM_CREATE_VCPU,/ { vcpu[$NF] = 1; nvcpu++ }
	/^close\(/ {
		fd = substr($1, 7) + 0
		if ((fd in vcpu) && !vclosed[fd]++) { closed++; last_vcpu_close = NR }
		if (vm != "" && fd == vm && !vm_closed) vm_closed = NR
	}
	/KVM_REINJECT_CONTROL/ {
		n++; at = NR
		if ($0 !~ "^ioctl\\(" vm ", KVM_REINJECT_CONTROL, .*\\) += 0$")
			bad = $0
	}
	END {
		if (vm == "" || nvcpu != 2 || closed != 2 || !vm_closed) {
			printf "trace: VM fd %s, %d vCPU fds, %d closed, VM fd closed at line %d\n", vm, nvcpu, closed, vm_closed
			exit 1
		}
		if (n != want) { printf "%d KVM_REINJECT_CONTROL calls, want %d\n", n, want; exit 1 }
		if (bad != "") { print "not on the VM fd or failed: " bad; exit 1 }
		if (n && !(at > last_vcpu_close && at < vm_closed)) {
			printf "KVM_REINJECT_CONTROL at line %d: vCPU fds closed by %d, VM fd closed at %d\n", at, last_vcpu_close, vm_closed
			exit 1
		}
	}' "$1"
}

export TRACE=$WORK/pit.trace
boot --append "scenario=hello" --memory 64M --cpus 2
expect_exit 0
why=$(check_teardown "$TRACE" 1) || fail "default board: $why"

export TRACE=$WORK/nopit.trace
boot --append "scenario=hello" --memory 64M --cpus 2 --pit off
expect_exit 0
why=$(check_teardown "$TRACE" 0) || fail "--pit off: $why"
