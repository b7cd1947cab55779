# The same binary boots unchanged under QEMU -M microvm (PVH) on this
# /dev/kvm: SMP and the exit port work there too (isa-debug-exit turns
# value V into status 2V+1).
set +e
timeout -k 5 60 qemu-system-x86_64 -M microvm -accel kvm -cpu EPYC -m 256M \
	-smp 2 -nodefaults -no-user-config -display none -serial stdio \
	-device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$KERNEL" \
	-append "scenario=smp cpus=2" </dev/null >"$out" 2>"$err"
status=$?
set -e
expect_status 1
expect_output "guest: smp: 2 of 2 cpus up, 2 counted"
