# Every thread of a running VM is in its own sandbox (issue 12): with a
# disk and a 9p share, each thread's /proc status says seccomp mode 2
# with exactly one filter (its own: the main thread enters its filter
# only after creating the others, so none inherits it), and the
# capabilities it kept: none, except the 9p threads' passthrough set
# (chown, dac_override, dac_read_search, fowner, fsetid, mknod) when vmm
# runs as root. --seccomp off: no filter, the same capabilities.
blk_image "$WORK/disk.img"
mkdir -p "$WORK/share"
p9caps=0000000000000000
[ "$(id -u)" = 0 ] && p9caps=000000000800001f
for mode in on off; do
	boot_bg --append "scenario=hang" --cpus 2 --disk "$WORK/disk.img" \
		--9p "$WORK/share,tag=share" --seccomp $mode
	wait_for "guest: hanging"
	threads=$(for t in /proc/$vm_pid/task/*; do
		printf '%s %s %s %s\n' "$(cat "$t/comm")" \
			"$(awk '/^Seccomp:/ { print $2 }' "$t/status")" \
			"$(awk '/^Seccomp_filters:/ { print $2 }' "$t/status")" \
			"$(awk '/^CapEff:/ { print $2 }' "$t/status")"
	done | sort)
	stop_vm TERM
	expect_status 143
	expect_stopped_by signal
	for name in vmm vcpu0 vcpu1 vda-q0 9p0-q0 9p0-w0; do
		echo "$threads" | grep -q "^$name " ||
			fail "--seccomp $mode: no thread $name in: $threads"
	done
	if [ $mode = on ]; then want_sc="2 1"; else want_sc="0 0"; fi
	while read -r name sc nf caps; do
		[ "$sc $nf" = "$want_sc" ] ||
			fail "--seccomp $mode: thread $name has seccomp $sc with $nf filters, expected $want_sc"
		want_caps=0000000000000000
		case $name in 9p*) want_caps=$p9caps ;; esac
		[ "$caps" = "$want_caps" ] ||
			fail "--seccomp $mode: thread $name has capabilities $caps, expected $want_caps"
	done <<<"$threads"
done
