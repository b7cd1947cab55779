# Test rig: the command's stdout arrives byte for byte (no \r added, no
# kernel text), its arguments arrive exactly, and it runs in the caller's
# directory as the caller.
. tests/linux/riglib.sh
rig -- printf 'a\nb\r\n\303\274'
expect_status 0
expect_stdout_bytes 610a620d0ac3bc
rig -- sh -c 'printf "%s|" "$@"' x 'two  spaces' "$(printf 'new\nline')" "q\"'"
expect_status 0
expect_stdout_bytes "$(printf '%s|' 'two  spaces' "$(printf 'new\nline')" "q\"'" | od -An -tx1 -v | tr -d ' \n')"
rig -- sh -c 'pwd; id -u'
expect_status 0
[ "$(tr -d '\r' <"$out")" = "$(pwd; id -u)" ] || fail "cwd or user differ: $(cat "$out")"
