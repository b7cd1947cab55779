# Two shares at once, each with its own tag and directory.
mkdir "$WORK/one" "$WORK/two"
echo one >"$WORK/one/name"
echo two >"$WORK/two/name"
boot --append vmmtest.script=9p-two-shares --9p "$WORK/one,tag=one" \
	--9p "$WORK/two,tag=two"
expect_exit 0
expect_output "guest: two shares ok"
[ "$(cat "$WORK/one/out")" = "written into one" ] || fail "one/out is wrong"
[ "$(cat "$WORK/two/out")" = "written into two" ] || fail "two/out is wrong"
