# Data the guest wrote and flushed is in the host file after SIGKILL of vmm.
truncate -s 16M "$WORK/d.img"
boot_bg --append vmmtest.script=blk-write-then-hang --disk "$WORK/d.img"
wait_for "guest: synced"
stop_vm KILL
expect_status 137
yes VMMPATTERN | head -c 4194304 >"$WORK/want"
dd if="$WORK/d.img" bs=65536 skip=16 count=64 status=none | cmp - "$WORK/want" ||
	fail "flushed data is missing after SIGKILL"
