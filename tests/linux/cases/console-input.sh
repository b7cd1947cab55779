# Bytes on vmm's stdin reach the guest through the UART. They are sent once
# the guest is up: a UART's FIFO is cleared when the driver starts.
mkfifo "$WORK/in"
(
	for _ in $(seq 1200); do
		grep -q "guest: MemTotal" "$out" 2>/dev/null && break
		sleep 0.1
	done
	printf 'ping-from-host\n'
	sleep 30
) >"$WORK/in" &
writer=$!
STDIN=$WORK/in boot --append vmmtest.action=echo
kill "$writer" 2>/dev/null || true
expect_exit 0
expect_output "got: ping-from-host"
