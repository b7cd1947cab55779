# Six guest processes on two vCPUs create, rename, link, read and delete
# files on one share in parallel for 20 s, checking what they read.
mkdir "$WORK/share"
boot --append vmmtest.script=9p-stress --cpus 2 --9p "$WORK/share,tag=share"
expect_exit 0
for i in 1 2 3 4 5 6; do
	tr -d '\r' <"$out" | grep -qE "^guest: w$i [0-9]+ rounds ok" ||
		fail "worker $i did not finish cleanly"
done
expect_output "guest: 0 files left"
expect_output "guest: stress ok"
[ -z "$(find "$WORK/share" -type f)" ] || fail "files left on the host"
