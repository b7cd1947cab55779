# The guest reads its command line and memory map from hvm_start_info,
# calibrates the TSC, and the boot marker is reported (the whole report
# line: the "never wrote the boot marker port" message shares its prefix).
# The memory map: RAM below the EBDA, the reserved EBDA and BIOS area, RAM
# from 1 MiB, and (PCI being the default transport) the reserved ECAM
# window.
boot --append "scenario=hello marker=on" --memory 256M --boot-time
expect_exit 0
expect_output "guest: hello from CPL3"
expect_output "guest: cmdline 'scenario=hello marker=on'"
expect_output "guest: ram 255 MiB in 4 memmap entries"
expect_stderr_line "$BOOT_TIME_LINE"

# Every rate the test guest reports (bench/blk, bench/9p) is cycles over
# its calibrated TSC rate: it must agree with the host's TSC rate, timed
# by build/tsc-rate, within the error bound the guest states and within
# 0.1% (a first method was up to 7% off on this nested host).
tsc=$(tr -d '\r' <"$out" | grep -xE "guest: tsc [0-9]+ kHz, within [0-9]+ ppm") ||
	fail "no 'guest: tsc N kHz, within E ppm' line"
guest_khz=$(echo "$tsc" | awk '{ print $3 }')
bound_ppm=$(echo "$tsc" | awk '{ print $6 }')
host=$(build/tsc-rate) || fail "build/tsc-rate failed"
host_khz=$(echo "$host" | awk '$1 == "tsc-rate:" && $3 == "kHz" { print $2 }')
[ -n "$host_khz" ] || fail "build/tsc-rate printed '$host'"
off_ppm=$(( (guest_khz > host_khz ? guest_khz - host_khz : host_khz - guest_khz) * 1000000 / host_khz ))
[ "$off_ppm" -le "$bound_ppm" ] ||
	fail "guest TSC $guest_khz kHz is $off_ppm ppm from the host's $host_khz kHz, outside its stated $bound_ppm ppm"
[ "$off_ppm" -le 1000 ] ||
	fail "guest TSC $guest_khz kHz is $off_ppm ppm from the host's $host_khz kHz (more than 1000)"
echo "  guest TSC $guest_khz kHz, host $host_khz kHz: $off_ppm ppm apart (guest's bound $bound_ppm ppm)"
