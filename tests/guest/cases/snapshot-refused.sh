# Snapshot files that are not right are refused before any guest runs,
# with one line naming the file and what is wrong, status 1: a file that
# is not a snapshot, one cut short, one with a byte changed in its state,
# one whose guest saw another CPU (CPUID), and a good one given to a VM
# of another shape (vCPUs, RAM).
. tests/guest/migrate.sh
snap=$WORK/vm.snap
boot_bg --append "scenario=dirty mem=16 seconds=3" --cpus 2 --memory 256M \
	--api "$sock"
wait_for "dirty: filled"
ctl snapshot "$snap"
[ "$ctl_rc" = 0 ] || fail "snapshot: $ctl_err"
wait_pid "$vm_pid"
expect_status 0

# refused NAME FILE REGEX [vmm run options]: --restore FILE fails with
# status 1 and a line matching REGEX as a whole, and the guest printed
# nothing.
refused() {
	local name=$1 file=$2 line=$3
	shift 3
	run_state "$name" --restore "$file" "$@"
	wait_pid "$dst_pid"
	[ "$status" = 1 ] || fail "$name: status $status, expected 1"
	expect_err_regex "$WORK/$name.err" "$line"
	[ ! -s "$WORK/$name.out" ] || fail "$name: the guest ran: $(head -c 200 "$WORK/$name.out")"
}
head -c 100000 /dev/urandom >"$WORK/junk"
refused junk "$WORK/junk" "vmm: --restore $WORK/junk: not a vmm state stream \(bad magic\)" \
	--cpus 2 --memory 256M
head -c 300 "$snap" >"$WORK/short"
refused short "$WORK/short" "vmm: --restore $WORK/short: truncated in section 4 \(vcpu\) at byte [0-9]+ \(20 of 8236 payload and CRC bytes\)" \
	--cpus 2 --memory 256M
cp "$snap" "$WORK/flipped"
# A byte inside the first vCPU's payload (after the stream header, the
# CONFIG section and the vCPU section's header).
printf '\x5a' | dd of="$WORK/flipped" bs=1 seek=1000 conv=notrunc status=none
refused flipped "$WORK/flipped" "vmm: --restore $WORK/flipped: section 4 \(vcpu\) at byte [0-9]+: payload CRC mismatch" \
	--cpus 2 --memory 256M
# Another CPU (CPUID) than the guest saw: vCPU 0's recorded CPUID CRC
# changed and the section's CRC made right again.
python3 - "$snap" "$WORK/cpuid" <<'PY'
import struct, sys, zlib
data = bytearray(open(sys.argv[1], "rb").read())
off = 20
while True:
    sid, inst, _, _, length = struct.unpack_from("<IIIIQ", data, off)
    p = off + 28
    if sid == 4 and inst == 0:
        data[p + 12] ^= 1
        struct.pack_into("<I", data, p + length, zlib.crc32(bytes(data[p:p + length])))
        break
    off = p + length + 4
open(sys.argv[2], "wb").write(data)
PY
refused cpuid "$WORK/cpuid" "vmm: vCPU 0 state: the CPU the guest saw \(CPUID\) is not the one KVM offers here" \
	--cpus 2 --memory 256M
refused cpus "$snap" "vmm: incoming state: the VM has 2 vCPUs, this one --cpus 1" \
	--cpus 1 --memory 256M
refused memory "$snap" "vmm: incoming state: the VM has 256 MiB of RAM, this one --memory 512 MiB" \
	--cpus 2 --memory 512M
