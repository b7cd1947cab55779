# Test-guest suite: the freestanding guest, scenario chosen on the cmdline.
KERNEL=${KERNEL:-build/guest/testguest.elf}
INITRD=""
BASE_CMDLINE=""

# blk_image FILE: a 16 MiB disk whose sector s holds the 16-byte line
# "S%014d\n" 32 times, as the guest's blk scenario expects.
blk_image() {
	awk 'BEGIN { for (s = 0; s < 32768; s++) {
		l = sprintf("S%014d\n", s); for (i = 0; i < 32; i++) printf "%s", l } }' >"$1"
}

# blk_expect_after FILE: what the blk scenario leaves in a writable disk:
# sectors 8192-8255 rewritten with "W" lines, 16384-16511 discarded or
# zeroed, everything else as blk_image made it.
blk_expect_after() {
	awk 'BEGIN { for (s = 0; s < 32768; s++) {
		if (s >= 16384 && s < 16512) { for (i = 0; i < 512; i++) printf "%c", 0; continue }
		l = sprintf("%s%014d\n", (s >= 8192 && s < 8256) ? "W" : "S", s)
		for (i = 0; i < 32; i++) printf "%s", l } }' >"$1"
}

# The checks every blk case expects in the guest output.
blk_expect_checks() {
	expect_output "guest: blk: read 32768 sectors ok"
	expect_output "guest: blk: serial 'SER-1' ok"
	expect_output "guest: blk: read past the end refused ok"
}

blk_expect_writes() {
	expect_output "guest: blk: wrote, flushed and read back 64 sectors at 8192 ok"
	expect_output "guest: blk: discarded 64 sectors at 16384, read zeros ok"
	expect_output "guest: blk: zeroed 64 sectors at 16448, read zeros ok"
	blk_expect_after "$WORK/want.img"
	cmp "$WORK/disk.img" "$WORK/want.img" >&2 ||
		fail "the host file does not hold what the guest wrote"
}

# hostile ATTACK TRANSPORT [guest args]: the test guest's hostile scenario
# (guest/testguest/hostile.c) against virtio-blk on TRANSPORT (pci or
# mmio), a fresh copy of the blk_image disk opened with O_DIRECT so that
# reads stay in flight a while. vmm must end with the status the guest
# wrote (0), not be killed by a signal, and the guest must have printed
# "hostile-ATTACK: survived, device serving" or "... device needs reset"
# as a whole line (HOSTILE_EXPECT=serving or needs reset: only that one).
hostile() {
	local attack=$1 transport=$2 mmio="" line what
	shift 2
	what="$attack on $transport${*:+ ($*)}"
	local disk="$WORK/disk.img,cache=none"
	[ -f "$WORK/pattern.img" ] || blk_image "$WORK/pattern.img"
	cp "$WORK/pattern.img" "$WORK/disk.img"
	# HOSTILE_FORMAT=qcow2: an empty overlay over the pattern, so that
	# every read in flight is a coroutine reading the backing file.
	if [ "${HOSTILE_FORMAT:-raw}" = qcow2 ]; then
		rm -f "$WORK/disk.qcow2"
		qemu-img create -q -f qcow2 -b "$WORK/disk.img" -F raw \
			"$WORK/disk.qcow2" || fail "$what: qemu-img create"
		disk="$WORK/disk.qcow2,format=qcow2,cache=none"
		what="$what on a qcow2 overlay"
	fi
	[ "$transport" = mmio ] && mmio=" virtio_mmio.device=4K@0xd0000000:16"
	BOOT_TIMEOUT=${BOOT_TIMEOUT:-60} boot --append \
		"scenario=hostile attack=$attack transport=$transport$mmio $*" \
		--transport "$transport" --disk "$disk"
	if [ "$status" -gt 128 ] && [ "$status" != 124 ]; then
		fail "$what: vmm killed by signal" \
			"$((status - 128)) (status $status)"
	fi
	[ "$status" = 0 ] ||
		fail "$what: exit status $status, expected 0"
	for line in "serving" "needs reset"; do
		[ -z "${HOSTILE_EXPECT:-}" ] || [ "$HOSTILE_EXPECT" = "$line" ] ||
			continue
		grep -qxF "hostile-$attack: survived, device $line" "$out" && return 0
	done
	fail "$what: no 'hostile-$attack: survived," \
		"device ${HOSTILE_EXPECT:-serving|needs reset}' line"
}
