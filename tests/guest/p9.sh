# Helpers for the 9p cases (tests/guest/cases/9p-*.sh), sourced by them
# after tests/lib.sh: the test guest's scenario=p9 and p9bench
# (guest/testguest/p9test.c, p9bench.c) against a host directory given
# to vmm with --9p.

# p9_pattern ID SIZE: the bytes scenario=p9 writes into file ID: 16-byte
# lines "P%03d%011d\n" (ID, line number), cut at SIZE.
p9_pattern() {
	awk -v id="$1" -v n="$2" 'BEGIN { for (i = 0; i * 16 < n; i++) printf "P%03d%011d\n", id, i }' |
		head -c "$2"
}

# p9_share DIR: a fresh export holding "hostfile" (5000 bytes of pattern
# 777), which the guest reads first (hostfile=hostfile hostsize=5000).
p9_share() {
	mkdir -p "$1"
	p9_pattern 777 5000 >"$1/hostfile"
	p9_pattern 777 5000 >"$WORK/hostfile.orig"
}

# p9_boot TRANSPORT EXPORT_OPTS GUEST_ARGS [vmm options]: the test guest
# with one virtio-9p device on TRANSPORT (pci or mmio; on mmio the only
# device, window 0 at 0xd0000000, GSI 16).
p9_boot() {
	local transport=$1 export=$2 args=$3
	shift 3
	[ "$transport" = mmio ] &&
		args="$args transport=mmio virtio_mmio.device=4K@0xd0000000:16"
	boot --append "$args" --transport "$transport" --9p "$export" "$@"
}

# p9_expect_line LINE: the guest printed LINE as a whole line (the FAIL
# line shares the prefix).
p9_expect_line() {
	grep -qxF -- "$1" "$out" || fail "no line '$1' in the guest output"
}

# p9_expect_only_hostfile DIR: the guest removed all it made and left the
# host's file alone.
p9_expect_only_hostfile() {
	[ "$(ls -A "$1")" = hostfile ] ||
		fail "the export holds '$(ls -A "$1" | tr '\n' ' ')', expected only hostfile"
	cmp "$1/hostfile" "$WORK/hostfile.orig" >&2 || fail "hostfile changed"
}

# p9_expect_tree DIR MSIZE: DIR/p9t holds exactly what scenario=p9 keep=1
# writes with that msize: {,d0,d0/sub,d1,d1/sub,d2}/f0..f3 of 0, 100,
# 4096 and 70001 bytes (file j of directory i has id 10 i + j) and big of
# 2 (MSIZE - 24) + 333 bytes (id 99).
p9_expect_tree() {
	local sizes=(0 100 4096 70001) dirs=("" d0 d0/sub d1 d1/sub d2) i j d
	rm -rf "$WORK/want"
	for i in "${!dirs[@]}"; do
		d=$WORK/want/p9t/${dirs[$i]}
		mkdir -p "$d"
		for j in 0 1 2 3; do p9_pattern $((10 * i + j)) "${sizes[$j]}" >"$d/f$j"; done
	done
	p9_pattern 99 $((2 * ($2 - 24) + 333)) >"$WORK/want/p9t/big"
	diff -r "$WORK/want/p9t" "$1/p9t" >&2 ||
		fail "the export does not hold the tree the guest wrote"
}
