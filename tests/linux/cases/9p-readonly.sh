# A readonly share: the guest reads it, every write fails with EROFS, and
# the host directory is unchanged.
mkdir "$WORK/ro"
echo "hello from the host" >"$WORK/ro/hello"
before=$(ls -la --time-style=full-iso "$WORK/ro"; md5sum "$WORK/ro/hello")
boot --append vmmtest.script=9p-readonly --9p "$WORK/ro,tag=ro,readonly"
expect_exit 0
expect_output "guest: EROFS for mv /mnt/ro/hello /mnt/ro/moved"
expect_output "guest: readonly share refused every write"
[ "$(ls -la --time-style=full-iso "$WORK/ro"; md5sum "$WORK/ro/hello")" = "$before" ] ||
	fail "the readonly host directory changed"
