# Live migration of a stock Linux guest with a 9p share (virtio-pci,
# passthrough) over a unix socket while its shell holds a file of the
# share open on two descriptors, appending lines through one and reading
# each back through the other (tests/linux/scenarios/migrate-9p): the
# source ends stopped by migrated, the destination goes on with the same
# open files (no new mount or open), every line reads back, and it ends
# through the exit port with status 0; the host file then holds exactly
# the lines the guest wrote.
sock=$WORK/api.sock mig=$WORK/mig.sock share=$WORK/share
mkdir -p "$share"
timeout -k 5 300 "$VMM" run --incoming "unix:$mig" --cpus 2 --memory 512M \
	--9p "$share,tag=share" --stats </dev/null >"$WORK/dst.out" \
	2>"$WORK/dst.err" &
dst_pid=$!
for _ in $(seq 100); do [ -S "$mig" ] && break; sleep 0.1; done
[ -S "$mig" ] || fail "the destination does not listen on $mig"
boot_bg --append "vmmtest.script=migrate-9p" --cpus 2 --memory 512M \
	--api "$sock" --9p "$share,tag=share"
wait_for "guest: migrate-9p: round 40"
set +e
"$VMM" ctl "$sock" migrate "unix:$mig" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
rc=$?
set -e
[ "$rc" = 0 ] || fail "migrate: status $rc: $(cat "$WORK/ctl.err")"
grep -qE '^\{"status":"completed",' "$WORK/ctl.out" ||
	fail "migrate: $(cat "$WORK/ctl.out")"
set +e
{ wait "$vm_pid"; } 2>/dev/null
status=$?
set -e
expect_status 0
expect_stopped_by migrated
set +e
{ wait "$dst_pid"; } 2>/dev/null
dst_status=$?
set -e
out=$WORK/dst.out err=$WORK/dst.err
[ "$dst_status" = 0 ] || fail "the destination: status $dst_status"
expect_stopped_by exit-port
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
