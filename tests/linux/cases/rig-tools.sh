# Test rig: the host's coreutils and C compiler work inside the guest;
# /tmp is writable; /etc writes stay in the guest; --rw DIR writes
# through to the host. The overlay keeps the host's permissions: run by
# an unprivileged user (make nonroot-check), a write to /etc is refused
# as it would be on the host.
. tests/linux/riglib.sh
mkdir "$WORK/rw"
if [ "$(id -u)" = 0 ]; then
	etc='echo hi >/etc/rig-test && cat /etc/rig-test'
else
	etc='! echo hi 2>/dev/null >/etc/rig-test && echo "/etc refused"'
fi
rig --rw "$WORK/rw" -- sh -c '
	printf "int main(void) { return 42; }\n" >/tmp/t.c &&
	cc -o /tmp/t /tmp/t.c && { /tmp/t; echo "compiled program said $?"; } &&
	'"$etc"' &&
	seq 3 | sort -r | tr "\n" " " && echo &&
	echo through >'"$WORK"'/rw/out'
expect_status 0
expect_output "compiled program said 42"
expect_output "3 2 1 "
[ "$(id -u)" = 0 ] || expect_output "/etc refused"
[ ! -e /etc/rig-test ] || fail "a write to /etc reached the host"
[ "$(cat "$WORK/rw/out")" = through ] || fail "the --rw directory did not get the file"
