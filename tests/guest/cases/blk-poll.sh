# The queue's thread polls its ring (--disk poll_max_ns, default 32 us) and
# its completions (poll_host_max_ns, default 256 us) before it sleeps: at
# queue depth 1 a good share of its rounds of work are found while
# polling. With both 0 it finds nothing by polling and sleeps at least
# once per request. Counted by --stats. (What each window alone does
# depends on the machine: in the lab host the driver's next request comes
# later than 32 us and only the host's window finds work, natively both
# do; test_queue_worker checks the windows with maxima of their own, and
# the driver's with the host's off.)
build/stamp-img "$WORK/disk.img" 16
# run OPTIONS: sets ios, hits and sleeps
run() {
	boot --append "scenario=blkbench op=randread bs=4096 qd=1 secs=1" \
		--disk "$WORK/disk.img,cache=none$1"
	expect_exit 0
	ios=$(sed -n 's/^guest: blkbench op=.* ios=\([0-9]*\) .*/\1/p' "$out")
	line=$(grep "^vmm: stats: vda-q0: " "$err") || fail "no stats line for vda-q0"
	hits=$(echo "$line" | sed -n 's/^vmm: stats: vda-q0: \([0-9]*\) rounds found by polling, [0-9]* sleeps$/\1/p')
	sleeps=$(echo "$line" | sed -n 's/^vmm: stats: vda-q0: [0-9]* rounds found by polling, \([0-9]*\) sleeps$/\1/p')
	[ -n "$ios" ] && [ "$ios" -gt 100 ] && [ -n "$hits" ] && [ -n "$sleeps" ] ||
		fail "options '$1': ios '$ios', stats '$line'"
}
run ""
[ $((hits * 10)) -gt "$ios" ] ||
	fail "default window: $hits of the rounds of $ios requests found by polling"
run ",poll_max_ns=0,poll_host_max_ns=0"
[ "$hits" = 0 ] || fail "no polling: $hits rounds found by polling"
[ "$sleeps" -ge "$ios" ] || fail "no polling: $sleeps sleeps for $ios requests"
