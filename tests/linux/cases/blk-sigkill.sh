# Data the guest wrote and flushed is in the host file after SIGKILL of vmm.
truncate -s 16M "$WORK/d.img"
"$VMM" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$WORK/d.img" \
	--cmdline "$BASE_CMDLINE vmmtest.script=blk-write-then-hang" \
	</dev/null >"$out" 2>"$err" &
pid=$!
for _ in $(seq 1800); do
	grep -q "guest: synced" "$out" && break
	sleep 0.1
done
expect_output "guest: synced"
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null || true
yes VMMPATTERN | head -c 4194304 >"$WORK/want"
dd if="$WORK/d.img" bs=65536 skip=16 count=64 status=none | cmp - "$WORK/want" ||
	fail "flushed data is missing after SIGKILL"
