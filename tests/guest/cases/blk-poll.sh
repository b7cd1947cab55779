# The queue's thread polls its ring (--disk poll_max_ns, default 32 us) and
# its completions (poll_host_max_ns, default 256 us) before it sleeps: at
# queue depth 1 a good share of its rounds of work are found while
# polling. With poll_host_max_ns=0 it still finds the driver's requests by
# polling (how often it then sleeps for a completion depends on the host's
# disk: 0.5 to 0.9 sleeps per request on this project's KVM-PVM machine,
# so it is not asserted here; the unit test queue_worker_no_host_poll
# checks that window); with both 0 it finds nothing by polling and sleeps
# at least once per request. Counted by --stats.
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
run ",poll_host_max_ns=0"
[ "$hits" -gt 0 ] || fail "poll_host_max_ns=0: no round found by polling"
run ",poll_max_ns=0,poll_host_max_ns=0"
[ "$hits" = 0 ] || fail "no polling: $hits rounds found by polling"
[ "$sleeps" -ge "$ios" ] || fail "no polling: $sleeps sleeps for $ios requests"
