# `vmm 9p-serve` on TCP 127.0.0.1, mounted by the lab kernel's client
# (trans=tcp) twice at once: both mounts see each other's files. Under
# `make nonroot-check` the server is the unprivileged user's, so it serves
# with security=mapped (passthrough needs root to give files their
# client's owner).
# harness: root
. tests/linux/p9lib.sh
. tests/linux/p9serve.sh
fsops_reference
mkdir "$WORK/export" "$WORK/m1" "$WORK/m2"
security=() access=""
if [ -n "${VMM_USER:-}" ]; then
	chmod 0755 "$WORK"
	chown "$VMM_USER" "$WORK/export"
	security=(--security mapped) access=,access=client
fi
serve_start "$WORK/export" --listen tcp:127.0.0.1:5640 "${security[@]}"
expect_stderr_line "vmm 9p-serve: serving $WORK/export on tcp:127.0.0.1:5640"
for m in m1 m2; do
	mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,msize=262144$access 127.0.0.1 "$WORK/$m" ||
		fail "mount -t 9p trans=tcp failed"
done
mkdir "$WORK/m1/t"
"$FSOPS" "$WORK/m1/t" >"$WORK/client.out" || true
expect_same_transcript "$WORK/client.out"
[ "$(cat "$WORK/m2/t/big" | md5sum)" = "$(cat "$REF/big" | md5sum)" ] ||
	fail "the second mount does not see the first one's file"
umount "$WORK/m1" && umount "$WORK/m2" || fail "umount failed"
serve_stop
