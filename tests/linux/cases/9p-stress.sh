# Six guest processes create, rename, link, read and delete files on one
# share in parallel for 20 s, checking what they read; the device must
# have had several of their requests in flight at once.
# One vCPU: with two, the lab host (nested SVM under QEMU 7.2's TCG)
# triple-faults or hangs its guest when the lab host itself is busy, 9p
# or not: the same workload on a guest tmpfs, no 9p device, failed that
# way too while two lab-host threads bounced a byte between its CPUs, and
# the lab host's own kernel once died of a corrupted GS base inside
# svm_vcpu_run. Concurrency on the device's side (its queue worker and
# four dispatch threads) does not need a second vCPU: each guest process
# sleeps on its own request while the next one sends.
mkdir "$WORK/share"
boot --append vmmtest.script=9p-stress --cpus 1 --9p "$WORK/share,tag=share"
expect_exit 0
for i in 1 2 3 4 5 6; do
	tr -d '\r' <"$out" | grep -qE "^guest: w$i [0-9]+ rounds ok" ||
		fail "worker $i did not finish cleanly"
done
expect_output "guest: 0 files left"
expect_output "guest: stress ok"
[ -z "$(find "$WORK/share" -type f)" ] || fail "files left on the host"
peak=$(sed -n 's/^vmm: stats: 9p share: [0-9]* requests, [0-9]* errors, at most \([0-9]*\) in flight$/\1/p' "$err")
[ -n "$peak" ] && [ "$peak" -ge 2 ] ||
	fail "the requests never overlapped (at most '${peak:-?}' in flight)"
