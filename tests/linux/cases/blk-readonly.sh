# A read-only disk refuses writes and the host file is untouched.
dd if=/dev/urandom of="$WORK/d.img" bs=1M count=4 status=none
sum=$(md5sum <"$WORK/d.img")
boot --append vmmtest.script=blk-readonly --disk "$WORK/d.img,readonly"
expect_status 0
expect_output "guest: write refused"
[ "$(md5sum <"$WORK/d.img")" = "$sum" ] || fail "the read-only file changed"
