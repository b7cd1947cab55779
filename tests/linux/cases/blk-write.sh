# A pattern written and flushed in the guest is in the host file, byte for
# byte, and nothing around it changed.
truncate -s 16M "$WORK/d.img"
boot --append vmmtest.script=blk-write --disk "$WORK/d.img"
expect_exit 0
expect_output "guest: pattern written and read back"
yes VMMPATTERN | head -c 4194304 >"$WORK/want"
dd if="$WORK/d.img" bs=65536 skip=16 count=64 status=none | cmp - "$WORK/want" ||
	fail "the host file does not hold the pattern"
[ "$(head -c 1048576 "$WORK/d.img" | tr -d '\0' | wc -c)" = 0 ] ||
	fail "bytes before the pattern changed"
