# The exit port's value is vmm's status, for the whole 8-bit range.
for v in 0 1 7 200 255; do
	boot --append "scenario=exit status=$v"
	expect_exit "$v"
done
