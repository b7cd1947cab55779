# security=mapped served by an unprivileged user (uid 65534): root in the
# client creates root-owned files, chowns, makes device nodes and FIFOs;
# it all behaves as on a local file system, and on the host every file
# belongs to 65534 with the client's view kept in user.virtfs.* xattrs.
# harness: root
. tests/linux/p9lib.sh
. tests/linux/p9serve.sh
fsops_reference
chmod 0755 "$WORK" # the server's user must reach its export
mkdir -m 0777 "$WORK/srv"
mkdir "$WORK/export" "$WORK/mnt"
chown 65534:65534 "$WORK/export"
serve_start --as 65534 "$WORK/export" --listen "unix:$WORK/srv/sock" --security mapped
mount -t 9p -o trans=unix,version=9p2000.L,msize=262144,access=client "$WORK/srv/sock" "$WORK/mnt" ||
	fail "mount failed"
mkdir "$WORK/mnt/t"
"$FSOPS" "$WORK/mnt/t" >"$WORK/client.out" || true
umount "$WORK/mnt" || fail "umount failed"
expect_same_transcript "$WORK/client.out"
expect_mapped_tree "$WORK/export/t" nobody
[ "$(xattr_of "$WORK/export/t/a/f1" user.virtfs.gid)" = 2e160000 ] ||
	fail "user.virtfs.gid of a/f1 is $(xattr_of "$WORK/export/t/a/f1" user.virtfs.gid)"
serve_stop
