# The test guest's virtio driver against QEMU's devices, the reference:
# virtio-mmio on -M microvm, and virtio-blk-pci with MSI-X and two queues
# on q35. (isa-debug-exit turns exit value V into status 2V+1.)
qemu_blk() {
	local args=$1 append=$2
	blk_image "$WORK/disk.img"
	set +e
	# shellcheck disable=SC2086
	timeout -k 5 60 qemu-system-x86_64 -accel kvm -cpu qemu64 -m 256M -smp 1 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0x501,iosize=1 \
		-drive "id=d0,file=$WORK/disk.img,format=raw,if=none,cache=writeback,aio=io_uring,discard=unmap" \
		$args -kernel "$KERNEL" -append "$append" </dev/null >"$out" 2>"$err"
	status=$?
	set -e
	expect_status 1
	blk_expect_checks
	blk_expect_writes
}
# microvm's last virtio-mmio transport (0xfeb02e00) gets the first device.
qemu_blk "-M microvm -global virtio-mmio.force-legacy=false -device virtio-blk-device,drive=d0,serial=SER-1" \
	"scenario=blk serial=SER-1 transport=mmio virtio_mmio.device=512@0xfeb02e00:0"
qemu_blk "-M q35 -device virtio-blk-pci,drive=d0,serial=SER-1,num-queues=2,disable-legacy=on" \
	"scenario=blk serial=SER-1 queues=2 irq=1"
expect_output "queue 0 did 128 queue 1 did 128"
