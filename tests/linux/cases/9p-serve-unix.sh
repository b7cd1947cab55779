# `vmm 9p-serve` on a unix socket, mounted by the lab kernel's 9p client
# (trans=unix) without any VM: fsops gives the local transcript, the
# export holds the local tree, and SIGTERM removes the socket. Under
# `make nonroot-check` the server is the unprivileged user's: it serves
# with security=mapped, so the export holds that user's files instead.
# harness: root
. tests/linux/p9lib.sh
. tests/linux/p9serve.sh
fsops_reference
mkdir "$WORK/export" "$WORK/mnt" "$WORK/srv"
security=() access=""
if [ -n "${VMM_USER:-}" ]; then
	chmod 0755 "$WORK"
	chmod 0777 "$WORK/srv" # the server makes and removes its socket there
	chown "$VMM_USER" "$WORK/export"
	security=(--security mapped) access=,access=client
fi
sock=$WORK/srv/sock
serve_start "$WORK/export" --listen "unix:$sock" "${security[@]}"
expect_stderr_line "vmm 9p-serve: serving $WORK/export on unix:$sock"
mount -t 9p -o "trans=unix,version=9p2000.L,msize=1048576$access" "$sock" "$WORK/mnt" ||
	fail "mount -t 9p trans=unix failed"
mkdir "$WORK/mnt/t"
"$FSOPS" "$WORK/mnt/t" >"$WORK/client.out" || true
# Nanoseconds the host set arrive whole through Tgetattr.
touch -d @1234567890.123456789 "$WORK/export/t/big"
[ "$(stat -c %y "$WORK/mnt/t/big")" = "$(stat -c %y "$WORK/export/t/big")" ] ||
	fail "mtime through 9p $(stat -c %y "$WORK/mnt/t/big"), on the host $(stat -c %y "$WORK/export/t/big")"
umount "$WORK/mnt" || fail "umount failed"
expect_same_transcript "$WORK/client.out"
if [ -n "${VMM_USER:-}" ]; then
	expect_mapped_tree "$WORK/export/t" "$VMM_USER"
else
	expect_same_tree "$WORK/export/t"
fi
serve_stop
[ ! -e "$sock" ] || fail "the unix socket is still there after SIGTERM"
