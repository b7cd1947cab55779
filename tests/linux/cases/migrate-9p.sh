# Live migration of a stock Linux guest with a 9p share (virtio-pci,
# passthrough) over a unix socket while its shell holds a file of the
# share open on two descriptors, appending lines through one and reading
# each back through the other (tests/linux/scenarios/migrate-9p): the
# source ends stopped by migrated, the destination goes on with the same
# open files (no new mount or open), every line reads back, and it ends
# through the exit port with status 0; the host file then holds exactly
# the lines the guest wrote.
# One vCPU, as in 9p-stress: the case tests the 9p session's migration,
# not the guest's SMP (migrate.sh and migrate-blk-qcow2.sh migrate two
# vCPUs). With two, the destination failed three times in the lab on
# 2026-12-02 (and passed 23 of 23 runs in between): twice its guest ran
# about ten times slower with its clock nearly stopped, once vCPU 1
# triple-faulted, in a whole suite whose lab host later died of a
# corrupted GS base inside svm_vcpu_run itself (README, "The lab host can
# also break its guests").
. tests/linux/migratelib.sh
share=$WORK/share
mkdir -p "$share"
migrate_destination --cpus 1 --memory 512M --9p "$share,tag=share"
boot_bg --append "vmmtest.script=migrate-9p" --cpus 1 --memory 512M \
	--api "$sock" --9p "$share,tag=share"
wait_for "guest: migrate-9p: round 40"
migrate_to_destination
line=$(grep -E '^guest: migrate-9p: ok after [0-9]+ lines' "$out") ||
	fail "the destination did not finish its rounds"
! grep -q 'MISMATCH\|failed\|migrate-9p: ready' "$out" ||
	fail "the destination: $(grep 'MISMATCH\|failed\|ready' "$out")"
grep -q '^guest: migrate-9p: round ' "$out" || fail "the destination printed no round"
n=${line##*after }
n=${n%% *}
seq -f 'line %.0f' 1 "$n" | cmp - "$share/f" >&2 ||
	fail "the host file does not hold lines 1 to $n"
echo "  $line"
