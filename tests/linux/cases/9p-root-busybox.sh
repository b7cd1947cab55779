# --9p-root: the stock kernel boots with a host directory (a busybox tree)
# as its root file system; vmm's initramfs loads the 9p modules, mounts
# it and runs its /sbin/init (which syncs before it leaves through the
# exit port, as a shutdown would: the root is mounted cache=loose).
. tests/linux/riglib.sh
r=$WORK/root
mkdir -p "$r/bin" "$r/sbin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp"
cp "$(command -v busybox)" "$r/bin/busybox"
cat >"$r/sbin/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox echo "root-ok $(/bin/busybox awk '$2 == "/" {print $3}' /proc/mounts | /bin/busybox tail -1)"
/bin/busybox echo from-guest >/tmp/written
/bin/busybox sync
printf '\052' | /bin/busybox dd of=/dev/port bs=1 seek=1281 2>/dev/null
INIT
chmod +x "$r/sbin/init"
set +e
timeout -k 5 180 "$VMM" run --kernel "$KERNEL" --modules "$MODULES" --stats \
	--9p-root "$r" </dev/null >"$out" 2>"$err"
status=$?
set -e
expect_status 42
expect_output "root-ok 9p"
[ "$(cat "$r/tmp/written")" = from-guest ] || fail "the guest's write did not reach the root directory"
