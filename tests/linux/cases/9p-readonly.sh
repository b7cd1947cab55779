# A readonly share: the guest reads it, every write fails with EROFS, and
# the host directory is unchanged.
mkdir "$WORK/ro"
echo "hello from the host" >"$WORK/ro/hello"
# The directory and its file: names, sizes, modes and mtimes, and content.
snap() { stat -c '%n %s %a %y' "$WORK/ro" "$WORK/ro"/* && md5sum "$WORK/ro/hello"; }
before=$(snap)
boot --append vmmtest.script=9p-readonly --9p "$WORK/ro,tag=ro,readonly"
expect_exit 0
expect_output "guest: EROFS for mv /mnt/ro/hello /mnt/ro/moved"
expect_output "guest: readonly share refused every write"
[ "$(snap)" = "$before" ] ||
	fail "the readonly host directory changed"
