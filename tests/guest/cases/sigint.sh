# SIGINT stops a running VM cleanly with status 128 + 2.
"$VMM" run --kernel "$KERNEL" --cmdline "scenario=hang" </dev/null >"$out" 2>"$err" &
pid=$!
for _ in $(seq 100); do
	grep -q "guest: hanging" "$out" && break
	sleep 0.1
done
expect_output "guest: hanging"
kill -INT "$pid"
set +e; wait "$pid"; status=$?; set -e
expect_status 130
