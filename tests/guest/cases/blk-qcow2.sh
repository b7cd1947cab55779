# The test guest's verifying block benchmark on qcow2 disks: an image
# vmm img converted from a stamped raw disk, and an empty qcow2 overlay
# over that raw disk (every read goes to the backing file until a write
# allocates the cluster, copying the rest of it from the backing file).
# Reads check every sector's stamp; writes keep the stamps. Afterwards
# qemu-img check finds no error and no leak.
build/stamp-img "$WORK/base.img" 16
"$VMM" img convert -O qcow2 "$WORK/base.img" "$WORK/conv.qcow2" ||
	fail "vmm img convert"
qemu-img create -q -f qcow2 -o cluster_size=4k -b base.img -F raw \
	"$WORK/over.qcow2" || fail "qemu-img create"
for disk in conv.qcow2 over.qcow2; do
	for args in "op=randread bs=4096 qd=4" "op=write bs=65536 qd=4" \
		"op=randread bs=512 qd=32" "op=read bs=1048576 qd=8"; do
		boot --append "scenario=blkbench $args secs=1" \
			--disk "$WORK/$disk,format=qcow2,cache=none,queues=2"
		expect_exit 0
		line=$(grep "^guest: blkbench op=" "$out") ||
			fail "$disk $args: no result line"
		ios=$(echo "$line" | sed -n 's/.* ios=\([0-9]*\) .*/\1/p')
		bs=$(echo "$line" | sed -n 's/.* bs=\([0-9]*\) .*/\1/p')
		v=$(echo "$line" | sed -n 's/.* verified=\([0-9]*\)$/\1/p')
		[ -n "$ios" ] && [ "$ios" -gt 0 ] ||
			fail "$disk $args: no I/O counted: $line"
		case $args in
		*read*) [ "$v" = $((ios * bs / 512)) ] ||
			fail "$disk $args: $ios requests, $v sectors verified" ;;
		esac
	done
	qemu-img check -q "$WORK/$disk" || fail "qemu-img check $disk"
done
# The overlay's writes went into the overlay: the raw disk is untouched.
build/stamp-img "$WORK/fresh.img" 16
cmp -s "$WORK/base.img" "$WORK/fresh.img" || fail "the backing file changed"
true
