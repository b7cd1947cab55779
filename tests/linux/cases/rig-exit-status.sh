# Test rig: `vmm run -- CMD` boots the stock kernel on the host's root
# (read-only 9p) and exits with CMD's status; a signal death is 128+N.
. tests/linux/riglib.sh
rig -- sh -c 'exit 7'
expect_status 7
expect_stopped_by exit-port
rig -- sh -c 'kill -TERM $$'
expect_status 143
rig -- /nonexistent/command
expect_status 127
