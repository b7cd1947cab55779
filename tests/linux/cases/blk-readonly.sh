# A read-only disk refuses writes and the host file is untouched; the guest
# read the very disk (md5) before its write was refused.
dd if=/dev/urandom of="$WORK/d.img" bs=1M count=4 status=none
sum=$(md5sum <"$WORK/d.img")
boot --append vmmtest.script=blk-readonly --disk "$WORK/d.img,readonly"
expect_exit 0
expect_output "guest: vda md5 $(md5sum "$WORK/d.img" | cut -d' ' -f1)"
expect_output "guest: write refused"
[ "$(md5sum <"$WORK/d.img")" = "$sum" ] || fail "the read-only file changed"
