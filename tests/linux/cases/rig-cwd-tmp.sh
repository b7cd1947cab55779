# Test rig run from a directory under /tmp (which the guest covers with a
# fresh tmpfs): the directory is there, read-only, with its files, and
# the command runs in it.
. tests/linux/riglib.sh
mkdir "$WORK/tree"
echo "from the host" >"$WORK/tree/marker"
top=$PWD
cd "$WORK/tree"
VMM=$top/$VMM KERNEL=$top/$KERNEL MODULES=$top/$MODULES rig -- sh -c 'pwd; cat marker; touch new 2>/dev/null || echo read-only'
cd "$top"
expect_status 0
[ "$(tr -d '\r' <"$out")" = "$WORK/tree
from the host
read-only" ] || fail "unexpected output: $(cat "$out")"
