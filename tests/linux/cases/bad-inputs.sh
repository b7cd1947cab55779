# Every bad argument and input file gives its one-line error here too.
set +e
tests/cli/bad-inputs >"$out" 2>"$err"
status=$?
set -e
expect_status 0
grep -qxE "[1-9][0-9]* passed, 0 failed" "$out" ||
	fail "bad-inputs did not report its cases all passed"
