# `vmm 9p-serve` on a unix socket, mounted by the lab kernel's 9p client
# (trans=unix) without any VM: fsops gives the local transcript, the
# export holds the local tree, and SIGTERM removes the socket.
. tests/linux/p9lib.sh
. tests/linux/p9serve.sh
fsops_reference
mkdir "$WORK/export" "$WORK/mnt"
serve_start "$WORK/export" --listen "unix:$WORK/sock"
expect_stderr_line "vmm 9p-serve: serving $WORK/export on unix:$WORK/sock"
mount -t 9p -o trans=unix,version=9p2000.L,msize=1048576 "$WORK/sock" "$WORK/mnt" ||
	fail "mount -t 9p trans=unix failed"
mkdir "$WORK/mnt/t"
"$FSOPS" "$WORK/mnt/t" >"$WORK/client.out" || true
# Nanoseconds the host set arrive whole through Tgetattr.
touch -d @1234567890.123456789 "$WORK/export/t/big"
[ "$(stat -c %y "$WORK/mnt/t/big")" = "$(stat -c %y "$WORK/export/t/big")" ] ||
	fail "mtime through 9p $(stat -c %y "$WORK/mnt/t/big"), on the host $(stat -c %y "$WORK/export/t/big")"
umount "$WORK/mnt" || fail "umount failed"
expect_same_transcript "$WORK/client.out"
expect_same_tree "$WORK/export/t"
serve_stop
[ ! -e "$WORK/sock" ] || fail "the unix socket is still there after SIGTERM"
