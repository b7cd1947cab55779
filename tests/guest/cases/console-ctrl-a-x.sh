# On a terminal (a pty from script(1)) the console is raw, so Ctrl-A x
# reaches vmm without a newline and quits with status 0; the terminal's
# settings are restored afterwards. vmm's report (on the pty too) shows the
# console quit ended the run, not something else with status 0.
command -v script >/dev/null || fail "script(1) (bsdutils) is missing"
( sleep 1; printf '\001x' ) | timeout -k 5 20 script -qefc \
	"stty -g >$WORK/before; $VMM run --kernel $KERNEL --cmdline scenario=hang --stats; echo status=\$?; stty -g >$WORK/after" \
	/dev/null >"$out" 2>"$err" || true
expect_output "guest: hanging"
expect_output "vmm: stats: stopped by console"
expect_output "status=0"
[ -s "$WORK/before" ] || fail "stty -g printed nothing"
cmp -s "$WORK/before" "$WORK/after" || fail "terminal settings not restored"
