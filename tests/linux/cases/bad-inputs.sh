# Every bad argument and input file gives its one-line error here too.
set +e
tests/cli/bad-inputs >"$out" 2>"$err"
status=$?
set -e
expect_status 0
