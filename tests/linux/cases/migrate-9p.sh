# Live migration of a stock Linux guest with a 9p share (virtio-pci,
# passthrough) over a unix socket while its shell holds a file of the
# share open on two descriptors, appending lines through one and reading
# each back through the other (tests/linux/scenarios/migrate-9p): the
# source ends stopped by migrated, the destination goes on with the same
# open files (no new mount or open), every line reads back, and it ends
# through the exit port with status 0; the host file then holds exactly
# the lines the guest wrote.
. tests/linux/migratelib.sh
share=$WORK/share
mkdir -p "$share"
migrate_destination --cpus 2 --memory 512M --9p "$share,tag=share"
boot_bg --append "vmmtest.script=migrate-9p" --cpus 2 --memory 512M \
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
