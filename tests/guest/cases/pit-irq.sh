# The board's i8254 is vmm's own (arch/x86/pit.c), not KVM's: the test
# guest's pitirq scenario (guest/testguest/pitirq.c) takes channel 0's
# interrupts periodic and one-shot, through the IOAPIC, and reads its
# status back, with channel 2 through port 0x61 calibrating its TSC. The
# same scenario under QEMU q35 (KVM's in-kernel PIT) is the reference:
# it must pass there too, so the checks are the chip's, not vmm's. vmm
# runs under strace, which must show no KVM_CREATE_PIT2.
REAL_VMM=$VMM
VMM=$WORK/vmm-traced
cat >"$VMM" <<EOS
#!/bin/sh
exec strace -f -qq -o "$WORK/trace" -e trace=ioctl "$REAL_VMM" "\$@"
EOS
chmod +x "$VMM"
boot --append "scenario=pitirq" --memory 64M
expect_exit 0
grep -qxF "guest: pitirq ok" "$out" || fail "vmm: $(grep pitirq "$out")"
grep -q 'KVM_CREATE_VCPU' "$WORK/trace" || fail "the trace has no KVM_CREATE_VCPU"
! grep -q 'KVM_CREATE_PIT2' "$WORK/trace" || fail "KVM made a PIT"
echo "  vmm: $(grep 'pitirq:' "$out")"

set +e
timeout -k 5 60 qemu-system-x86_64 -M q35 -accel kvm -cpu qemu64 -m 128M \
	-smp 1 -nodefaults -no-user-config -display none -serial stdio \
	-no-reboot -device isa-debug-exit,iobase=0x501,iosize=1 \
	-kernel "$KERNEL" -append "scenario=pitirq" </dev/null >"$out" 2>"$err"
status=$?
set -e
expect_status 1
grep -qxF "guest: pitirq ok" "$out" || fail "QEMU q35: $(grep pitirq "$out")"
echo "  QEMU q35: $(grep 'pitirq:' "$out")"
