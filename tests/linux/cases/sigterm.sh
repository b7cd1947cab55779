# SIGTERM stops a running VM cleanly with status 128 + 15.
"$VMM" run --kernel "$KERNEL" --initrd "$INITRD" \
	--cmdline "$BASE_CMDLINE vmmtest.action=sleep" </dev/null >"$out" 2>"$err" &
pid=$!
for _ in $(seq 1200); do
	grep -q "guest: sleeping" "$out" && break
	sleep 0.1
done
expect_output "guest: sleeping"
kill -TERM "$pid"
set +e; wait "$pid"; status=$?; set -e
expect_status 143
