# The 9p benchmark workload at a small size (bench/9p runs it at 5000
# files and 512 MiB): 4 directories of 50 files of 4 KiB created, stated,
# read and checked, then 8 MiB written and read back in msize-sized I/Os;
# keep=1 leaves it all for the host to check: the file counts, small file
# 57 (d001/f0007: "S%014d\n" 57, then pattern 0 from line 1) and big's
# size and the stamps of its first and last 4 KiB blocks.
. tests/guest/p9.sh
mkdir -p "$WORK/share"
p9_boot pci "$WORK/share,tag=share" "scenario=p9bench dirs=4 files=50 seqmb=8 keep=1"
expect_exit 0
for p in create stat read seqwrite seqread; do
	grep -qE "^guest: p9bench phase=$p count=[0-9]+ bytes=[0-9]+ us=[0-9]+$" "$out" ||
		fail "no $p phase line"
done
p9_expect_line "guest: p9bench done requests=2252 msize=524288 io=520192 kept"
b=$WORK/share/p9b
[ "$(find "$b" -type f -path '*/d*/f*' | wc -l)" = 200 ] || fail "not 200 small files"
[ "$(ls "$b" | tr '\n' ' ')" = "big d000 d001 d002 d003 " ] || fail "top: $(ls "$b")"
{ printf 'S%014d\n' 57; p9_pattern 0 4096 | tail -c +17; } >"$WORK/want57"
cmp "$b/d001/f0007" "$WORK/want57" >&2 || fail "d001/f0007 differs"
[ "$(stat -c %s "$b/big")" = 8388608 ] || fail "big is not 8 MiB"
[ "$(head -c 16 "$b/big")" = "B00000000000000" ] || fail "big's first stamp"
[ "$(tail -c 4096 "$b/big" | head -c 16)" = "B00000000002047" ] || fail "big's last stamp"
