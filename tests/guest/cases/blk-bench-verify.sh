# blkbench, the block benchmark's guest, counts only requests that
# completed with VIRTIO_BLK_S_OK and the right length, and checks the
# stamp (number and magic) of every sector it reads: random and sequential
# reads, writes (which keep the stamps) then reads of what they wrote. A
# disk with one wrong stamp stops it, naming the sector.
build/stamp-img "$WORK/disk.img" 16
run_bench() {
	boot --append "scenario=blkbench $1 secs=1" --disk "$WORK/disk.img,cache=none"
}
for args in "op=randread bs=4096 qd=4" "op=write bs=65536 qd=4" \
	"op=read bs=1048576 qd=8" "op=randread bs=512 qd=32"; do
	run_bench "$args"
	expect_exit 0
	line=$(grep "^guest: blkbench op=" "$out") || fail "$args: no result line"
	ios=$(echo "$line" | sed -n 's/.* ios=\([0-9]*\) .*/\1/p')
	bs=$(echo "$line" | sed -n 's/.* bs=\([0-9]*\) .*/\1/p')
	v=$(echo "$line" | sed -n 's/.* verified=\([0-9]*\)$/\1/p')
	[ -n "$ios" ] && [ "$ios" -gt 0 ] || fail "$args: no I/O counted: $line"
	case $args in
	*read*) [ "$v" = $((ios * bs / 512)) ] ||
		fail "$args: $ios requests but $v sectors verified: $line" ;;
	*) [ "$v" = 0 ] || fail "$args: writes verified $v sectors: $line" ;;
	esac
done
# What the writes left: the first 64 KiB blocks still carry their stamps.
for s in 0 1 127 128 32767; do
	got=$(od -A n -t x8 -j $((s * 512)) -N 16 "$WORK/disk.img" | tr -s ' ')
	want=$(printf ' %016x 706d617473626d76' "$s")
	[ "$got" = "$want" ] || fail "sector $s after the writes: '$got', expected '$want'"
done
build/stamp-img "$WORK/disk.img" 16 100
run_bench "op=read bs=4096 qd=1"
expect_exit 1
grep -qxF "guest: blkbench: sector 100 read as 65 706d617473626d76" "$out" ||
	fail "no line naming sector 100"
grep -q "^guest: blkbench op=" "$out" && fail "a result line after a bad sector"
true
