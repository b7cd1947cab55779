# 5000 lines as fast as the guest can send them: every byte arrives, in
# order.
boot --append "scenario=flood lines=5000"
expect_exit 0
for i in $(seq 0 4999); do
	printf 'flood %06d the quick brown fox jumps over the lazy dog\n' "$i"
done >"$WORK/want"
echo "flood done 5000" >>"$WORK/want"
cmp "$WORK/want" "$out" || fail "the guest's output differs from what it sent"
